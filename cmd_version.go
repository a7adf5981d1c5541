package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

func versionCommand() *cli.Command {
	cmd := newCommand("version", "print the version, toolchain, devices and checkpoint format", "")
	cmd.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return usagef("version takes no arguments")
		}
		w := c.App.Writer
		fmt.Fprintf(w, "gridgpu %s\n", programVersion())
		fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		fmt.Fprintf(w, "devices: %s\n", strings.Join(train.Backends(), ", "))
		fmt.Fprintf(w, "cpu blas: %s\n", graph.BLAS)
		fmt.Fprintf(w, "checkpoint format: %s\n", train.CheckpointFormat)
		return nil
	}
	return cmd
}

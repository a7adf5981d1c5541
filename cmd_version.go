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
	return newCommand("version", "print the version, toolchain, devices and checkpoint format", "", versionAction)
}

func versionAction(c *cli.Context) error {
	w := c.App.Writer
	fmt.Fprintf(w, "gridgpu %s\n", programVersion())
	fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "devices: %s\n", strings.Join(train.Backends(), ", "))
	fmt.Fprintf(w, "cpu blas: %s\n", graph.BLAS)
	fmt.Fprintf(w, "checkpoint format: %s\n", train.CheckpointFormat)
	return nil
}

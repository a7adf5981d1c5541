// Command gridgpu trains the self-supervised grid-cell model of Schaeffer,
// Khona et al. (NeurIPS 2023) and analyses the grid cells it learns.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// extraCommands lets other files of this package (analysis, CUDA-only
// commands) add subcommands from their init functions.
var extraCommands []*cli.Command

func newApp() *cli.App {
	app := &cli.App{
		Name:    "gridgpu",
		Usage:   "train and analyse self-supervised grid-cell networks (Schaeffer, Khona et al., NeurIPS 2023)",
		Version: version,
	}
	app.Commands = append(app.Commands, extraCommands...)
	return app
}

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "gridgpu:", err)
		os.Exit(1)
	}
}

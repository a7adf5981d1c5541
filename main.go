// Command gridgpu trains the self-supervised grid-cell model of Schaeffer,
// Khona et al. (NeurIPS 2023) and analyses the grid cells it learns.
//
// Every command reports a user mistake as one line on stderr,
// "gridgpu: <what is wrong>", and a non-zero exit status; no stack traces.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/train"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses. Interruption by a signal uses 128+signal, as shells do.
const (
	exitError = 1
	exitUsage = 2
)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:        "gridgpu",
		Usage:       "train and analyse self-supervised grid-cell networks (NeurIPS 2023)",
		Version:     programVersion(),
		Description: description("gridgpu"),
		Writer:      stdout,
		ErrWriter:   stderr,
		// Errors are printed once, by main, as a single line.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		// An unknown command is a usage error, not a help page.
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q; run 'gridgpu --help' for the list", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		HideHelpCommand: true,
	}
	app.Commands = commands()
	app.Description = reflow(app.Description)
	for _, cmd := range app.Commands {
		setUsageErrors(cmd)
		tidyHelp(cmd)
	}
	return app
}

// commands are gridgpu's subcommands, in the order --help lists them:
// training, then analysis of what was trained, then tools. Each is defined
// in its cmd_*.go file.
func commands() []*cli.Command {
	return []*cli.Command{
		trainCommand(),
		sweepCommand(),
		analyzeCommand(),
		gridscoreCommand(),
		gridcellsCommand(),
		statesCommand(),
		lossCommand(),
		landscapeCommand(),
		joinCommand(),
		exportCommand(),
		watchCommand(),
		benchCommand(),
		versionCommand(),
	}
}

// programVersion is the -ldflags version, or the VCS revision recorded by
// the Go toolchain when built from a checkout.
func programVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			return "dev-" + rev[:12] + dirty
		}
	}
	return version
}

// run is main without the os.Exit, for tests: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	train.Version = programVersion()
	err := newApp(stdout, stderr).Run(args)
	if err == nil {
		return 0
	}
	msg := strings.TrimSpace(err.Error())
	if msg != "" {
		// One line: join the lines of wrapped multi-line messages.
		fmt.Fprintln(stderr, "gridgpu: "+strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " "))
	}
	var ec cli.ExitCoder
	var ue usageError
	switch {
	case errors.As(err, &ec):
		return ec.ExitCode()
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitError
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

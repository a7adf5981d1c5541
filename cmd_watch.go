package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/watch"
)

func watchCommand() *cli.Command {
	cmd := newCommand("watch", "show runs and sweeps live in a web browser (read-only)", "", runWatch,
		&cli.IntFlag{Name: "port", Value: 6070, Usage: "port to listen on (0: any free port)"},
		&cli.StringFlag{Name: "host", Value: "127.0.0.1", Usage: "address to listen on (0.0.0.0: every interface)"},
	)
	cmd.ArgsUsage = "RUN|SWEEP..."
	return cmd
}

func runWatch(c *cli.Context) error {
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return usagef("--port %d: must be from 0 to 65535", port)
	}
	targets, err := watch.Resolve(c.Args().Slice())
	if err != nil {
		return usagef("watch: %v", err)
	}
	addr := net.JoinHostPort(c.String("host"), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("watch: cannot listen on %s: the port is in use; choose another with --port (0: any free port)", addr)
		}
		return fmt.Errorf("watch: cannot listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: watch.New(targets), ReadHeaderTimeout: 10 * time.Second}
	// Stop signals first, so that a Ctrl-C right after the URL is printed
	// stops the server cleanly.
	sigc, stopSignals := stopsig.Notify()
	defer stopSignals()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	runs, sweeps := 0, 0
	for _, t := range targets {
		if t.Kind == watch.KindRun {
			runs++
		} else {
			sweeps++
		}
	}
	fmt.Fprintf(c.App.Writer, "watch: %d run(s), %d sweep(s) at http://%s/ (Ctrl-C to stop)\n", runs, sweeps, ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("watch: serving on %s: %v", ln.Addr(), err)
	case s := <-sigc:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		return stoppedBy(s, fmt.Sprintf("watch stopped by %s", stopsig.Name(s)))
	}
}

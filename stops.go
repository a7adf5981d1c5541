package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/internal/stopsig"
)

// How commands stop on SIGINT, SIGTERM and SIGHUP (internal/stopsig). The
// commands that catch them (train, sweep, analyze, states, watch, bench)
// end through stoppedBy, with exit status 128 + the signal's number as
// shells report it: 130, 143, 129. The others (gridscore, gridcells, loss,
// landscape, export, version) do not catch them and are killed by the
// signal, which shells report as the same 128 + n.

// stoppedBy is the error of a command stopped by s: msg, printed as the
// command's one line, and s's exit status (stopsig.ExitStatus). It is the
// one way a stop signal becomes an exit status.
func stoppedBy(s os.Signal, msg string) error {
	return cli.Exit(msg, stopsig.ExitStatus(s))
}

// stopCause is the cancellation cause of a context that a stop signal
// cancelled; its text is the signal's name ("SIGTERM").
type stopCause struct{ sig os.Signal }

func (c stopCause) Error() string { return stopsig.Name(c.sig) }

// stopSignal returns the stop signal that cancelled ctx (see stopContext),
// if one did.
func stopSignal(ctx context.Context) (os.Signal, bool) {
	var c stopCause
	if errors.As(context.Cause(ctx), &c) {
		return c.sig, true
	}
	return nil, false
}

// stopContext returns a context that the first stop signal cancels with a
// stopCause, after calling first (if not nil) with it; a second stop
// signal, one that comes at least stopsig.Echo after the first, prints
// abort (a format taking the signal's name) to stderr and exits at once
// with its status. It is handled here rather than by restoring the default
// action, because a shell that started this process with SIGINT ignored
// would make the default "ignore". release unregisters the signals and
// cancels the context.
func stopContext(stderr io.Writer, first func(os.Signal), abort string) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigc, stopSignals := stopsig.Notify()
	go func() {
		s, ok := <-sigc
		if !ok {
			return
		}
		if first != nil {
			first(s)
		}
		cancel(stopCause{s})
		s, ok = <-sigc
		if !ok {
			return
		}
		fmt.Fprintf(stderr, abort, stopsig.Name(s))
		os.Exit(stopsig.ExitStatus(s))
	}()
	return ctx, func() {
		stopSignals()
		cancel(nil)
	}
}

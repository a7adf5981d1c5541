package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/internal/stopsig"
)

// stopSignals are the stop signals with the exit status each must give.
var stopSignals = []struct {
	sig  syscall.Signal
	code int
}{
	{syscall.SIGINT, 130},
	{syscall.SIGTERM, 143},
	{syscall.SIGHUP, 129},
}

// stoppedBy is the one way from a stop signal to an exit status: 128 + the
// signal's number, through run as through the error itself.
func TestStoppedBy(t *testing.T) {
	if len(stopSignals) != len(stopsig.Signals) {
		t.Fatalf("the test knows %d stop signals, stopsig has %d", len(stopSignals), len(stopsig.Signals))
	}
	for _, c := range stopSignals {
		err := stoppedBy(c.sig, "x: "+stopsig.Name(c.sig))
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != c.code || err.Error() != "x: "+stopsig.Name(c.sig) {
			t.Errorf("stoppedBy(%v) = %v, want exit status %d", c.sig, err, c.code)
		}
		if s, ok := stopSignal(cancelledBy(c.sig)); !ok || s != c.sig {
			t.Errorf("stopSignal of a context cancelled by %v: %v, %v", c.sig, s, ok)
		}
	}
}

// cancelledBy is a context cancelled as stopContext cancels it on sig.
func cancelledBy(sig os.Signal) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopCause{sig})
	return ctx
}

// TestStopSignalExitStatus: every command that catches the stop signals
// ends with the same exit status for each, 130 for SIGINT, 143 for
// SIGTERM and 129 for SIGHUP, and one line naming the signal, soon: the
// child's 30 s limit also catches a loop that leaves the signal's
// goroutines unscheduled (bench --threads 1 once did, stopsig.Yield). An
// earlier states returned 130 for SIGTERM and did not catch SIGHUP.
func TestStopSignalExitStatus(t *testing.T) {
	sweepTest(t)
	dir := t.TempDir()
	ck := modelFile(t, dir)
	spec := endlessSweep(t, dir)
	walks := []string{"--arena", "4", "--trajectories", "100000", "--steps", "500", "--workers", "1"}
	cases := []struct {
		name  string
		args  func(out string) []string
		ready string        // in the output once the command catches the signals
		wait  time.Duration // and then, for the sweep's trainer to catch them too
		want  string        // the last line, %s the signal's name; "" for killed by the signal
	}{
		{"train", func(out string) []string {
			return append(append([]string{"train"}, tinyTrain...), "--steps", "1000000000", "--out", out)
		}, "training", 0, "gridgpu: interrupted by %s after step"},
		{"sweep", func(out string) []string {
			return []string{"sweep", "--spec", spec, "--out", out, "--parallel", "1"}
		}, "training on", 200 * time.Millisecond, "gridgpu: sweep interrupted by %s: 0 of 4 runs done, 1 stopped with a checkpoint"},
		{"analyze", func(out string) []string {
			return append([]string{"analyze", "--checkpoint", ck, "--out", out}, walks...)
		}, "walking", 0, "gridgpu: analyze: %s: interrupted; no report written"},
		{"states", func(out string) []string {
			return append([]string{"states", "--checkpoint", ck, "--out", out + ".npz"}, walks...)
		}, "walking", 0, "gridgpu: states: %s: interrupted; nothing written"},
		{"watch", func(out string) []string {
			return []string{"watch", "--port", "0", "watch/testdata/smoke"}
		}, "watch: 1 run(s)", 0, "gridgpu: watch stopped by %s"},
		{"bench", func(out string) []string {
			return []string{"bench", "--preset", "tiny", "--iters", "1000000000", "--threads", "1"}
		}, "bench: timing", 0, "gridgpu: bench: %s: interrupted after"},
	}
	for _, c := range cases {
		for _, s := range stopSignals {
			name := stopsig.Name(s.sig)
			t.Run(c.name+"/"+name, func(t *testing.T) {
				out := filepath.Join(dir, c.name+"-"+name)
				status, output := stopChild(t, c.args(out), c.ready, c.wait, s.sig)
				if c.want == "" {
					if !status.Signaled() || status.Signal() != s.sig {
						t.Errorf("%s, want killed by %s; output:\n%s", ended(status), name, output)
					}
					return
				}
				if !status.Exited() || status.ExitStatus() != s.code {
					t.Errorf("%s, want exit status %d; output:\n%s", ended(status), s.code, output)
				}
				lines := strings.Split(strings.TrimRight(output, "\n"), "\n")
				if want := fmt.Sprintf(c.want, name); !strings.HasPrefix(lines[len(lines)-1], want) {
					t.Errorf("last line %q, want %q...; output:\n%s", lines[len(lines)-1], want, output)
				}
				if strings.Contains(output, "aborting") {
					t.Errorf("one signal aborted:\n%s", output)
				}
			})
		}
	}
	for _, f := range []string{"analyze-SIGINT", "analyze-SIGTERM", "analyze-SIGHUP", "states-SIGINT.npz", "states-SIGTERM.npz", "states-SIGHUP.npz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("a stopped command wrote %s", f)
		}
	}
}

// stopChild runs this test binary as gridgpu with args, sends it sig once
// its output (stdout and stderr together) holds ready and wait has passed,
// and returns how it ended and its output.
func stopChild(t *testing.T, args []string, ready string, wait time.Duration, sig syscall.Signal) (syscall.WaitStatus, string) {
	t.Helper()
	c := startCmd(t, gridgpuCmd(t, nil, args...), true)
	c.waitFor(t, ready)
	time.Sleep(wait)
	c.cmd.Process.Signal(sig)
	c.exit(t)
	return c.cmd.ProcessState.Sys().(syscall.WaitStatus), c.stderr.String()
}

// ended says how a process ended.
func ended(w syscall.WaitStatus) string {
	if w.Signaled() {
		return "killed by " + stopsig.Name(w.Signal())
	}
	return fmt.Sprintf("exit status %d", w.ExitStatus())
}

// Package stopsig is how gridgpu's long commands (train, sweep, analyze,
// states, watch) are asked to stop: the signals, their names and exit
// statuses, and how a second, deliberate stop is told apart from one stop
// delivered twice.
//
// SIGINT (Ctrl-C), SIGTERM (kill, timeout, Slurm, Kubernetes) and SIGHUP (a
// closed terminal or ssh session) all ask for a clean stop; a second one
// asks to abort at once. But one intended stop often arrives twice within
// microseconds: timeout(1) signals its child and then the child's process
// group, which holds the child, and Slurm and Kubernetes can signal a job's
// processes and their group the same way. A person cannot press Ctrl-C
// twice that fast. So a repeat counts as a second stop only when it comes
// at least Echo after the first; sooner it is taken for the same stop
// delivered twice, and dropped.
package stopsig

import (
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Echo is how soon after the first stop signal a repeat is taken for the
// same stop delivered twice rather than for a second request.
const Echo = time.Second

// Signals are the signals that ask for a clean stop.
var Signals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// Notify relays the stop signals to the returned channel: the first, and
// after it only those that arrive Echo or more after the first (see the
// package documentation). stop unregisters the signals and closes the
// channel; it may be called more than once.
func Notify() (c <-chan os.Signal, stop func()) {
	raw := make(chan os.Signal, 4)
	out := make(chan os.Signal, 2)
	done := make(chan struct{})
	finished := make(chan struct{})
	signal.Notify(raw, Signals...)
	go func() {
		defer close(finished)
		defer close(out)
		var first time.Time
		for {
			select {
			case <-done:
				return
			case s := <-raw:
				now := time.Now()
				if first.IsZero() {
					first = now
				} else if now.Sub(first) < Echo {
					continue
				}
				select {
				case out <- s:
				default: // the reader has two unread already
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			signal.Stop(raw)
			close(done)
			<-finished
		})
	}
}

// Name names a stop signal as people know it ("SIGINT", "SIGTERM",
// "SIGHUP").
func Name(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// ExitStatus is the exit status of a command stopped by s, 128 + its
// number as shells report it: 130 for SIGINT, 143 for SIGTERM, 129 for
// SIGHUP.
func ExitStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok && n > 0 && n < 128 {
		return 128 + int(n)
	}
	return 130
}

// IsStopStatus reports whether an exit status is that of a command
// stopped cleanly by one of Signals.
func IsStopStatus(code int) bool {
	for _, s := range Signals {
		if code == ExitStatus(s) {
			return true
		}
	}
	return false
}

// KeepGoingOnBrokenPipe makes writes to a closed stdout or stderr pipe (a
// reader such as `head -1` that has gone) fail with EPIPE instead of
// killing the process with SIGPIPE, which a Go program otherwise dies of
// for those two descriptors. The caller ignores the failed writes: its
// output goes quiet and its work goes on. It is signal.Notify rather than
// signal.Ignore so that child processes do not inherit SIGPIPE ignored.
// stop restores the default.
func KeepGoingOnBrokenPipe() (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGPIPE)
	return func() { signal.Stop(c) }
}

// Yield lets the goroutines that carry a stop signal run: os/signal's, the
// relay of Notify and whatever cancels a context on it. A long loop calls
// it where it checks whether it was asked to stop. With one thread
// (GOMAXPROCS 1, --threads 1) and steps made of cgo calls into OpenBLAS,
// Go's scheduler can leave those goroutines waiting for seconds while the
// loop keeps the one P: a bench of the tiny size on a loaded 2-core machine
// took 0.05 to 2.3 s to notice SIGHUP, once more than 30 s; with a yield
// per step, 40-60 ms. A yield costs well under a microsecond.
func Yield() { runtime.Gosched() }

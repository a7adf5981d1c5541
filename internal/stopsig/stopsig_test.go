//go:build unix

package stopsig

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func recv(c <-chan os.Signal, wait time.Duration) os.Signal {
	select {
	case s := <-c:
		return s
	case <-time.After(wait):
		return nil
	}
}

// A repeat within Echo of the first stop is dropped; one later is relayed.
// SIGHUP is a stop signal.
func TestNotifyDropsEcho(t *testing.T) {
	c, stop := Notify()
	defer stop()
	t0 := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // the same stop, delivered twice
	if s := recv(c, 5*time.Second); s != syscall.SIGHUP {
		t.Fatalf("first: %v, want SIGHUP", s)
	}
	if s := recv(c, 300*time.Millisecond); s != nil && time.Since(t0) < Echo {
		t.Fatalf("a repeat within %v was relayed: %v", Echo, s)
	}
	time.Sleep(Echo - time.Since(t0) + 50*time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if s := recv(c, 5*time.Second); s != os.Interrupt {
		t.Fatalf("second stop after %v: %v, want SIGINT", Echo, s)
	}
	stop()
	stop()
	if _, ok := <-c; ok {
		t.Error("channel open after stop")
	}
}

func TestNamesAndStatuses(t *testing.T) {
	for _, c := range []struct {
		s    os.Signal
		name string
		code int
	}{{os.Interrupt, "SIGINT", 130}, {syscall.SIGTERM, "SIGTERM", 143}, {syscall.SIGHUP, "SIGHUP", 129}} {
		if Name(c.s) != c.name || ExitStatus(c.s) != c.code || !IsStopStatus(c.code) {
			t.Errorf("%v: %s %d", c.s, Name(c.s), ExitStatus(c.s))
		}
	}
	if IsStopStatus(1) || IsStopStatus(141) {
		t.Error("1 or 141 taken for a stop")
	}
}

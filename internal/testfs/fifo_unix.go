//go:build unix

package testfs

import (
	"path/filepath"
	"syscall"
	"testing"
)

// FIFO makes a named pipe name in dir (mode 0644), for tests of readers
// that must refuse one rather than block on it, and returns its path; the
// test fails at once when it cannot.
func FIFO(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

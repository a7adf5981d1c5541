// Package testfs writes the files and named pipes that tests hand to the
// code under test. It imports nothing of the project, so that the tests of
// every package (data and rundir included) can use it; the test fails at
// once when a file cannot be made, rather than quietly testing less.
package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes text to the file name in dir (mode 0644) and returns
// its path.
func WriteFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

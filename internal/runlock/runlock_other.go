//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package runlock

import "os"

// Without flock(2) a lock holds nothing: one writer per directory is then
// the user's care.
func lock(dir, what string, exclusive bool) (*Lock, error) {
	return &Lock{}, nil
}

func unlock(*os.File) {}

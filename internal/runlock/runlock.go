// Package runlock gives a directory one writer at a time: a run directory
// one trainer, a sweep directory one sweep.
//
// A lock is flock(2) on the file DIR/.lock, taken without waiting and held
// until Release or the end of the process. The kernel releases it when the
// process dies, kill -9 included, so a lock is never stale and nothing ever
// needs cleaning up: the file itself stays (removing it would let two
// processes lock two different files of one name). The file holds the PID of
// the exclusive holder, for the message that refuses a second writer. Locks
// are not inherited by child processes (Go opens files close-on-exec).
//
// Shared locks let several cooperating processes into one directory (the
// tasks of a sweep's job array, each of which trains its own runs) while an
// exclusive one keeps everyone else out.
//
// Where the file system cannot lock (some network file systems answer
// flock with ENOSYS or EOPNOTSUPP), Exclusive and Shared return a lock that
// holds nothing together with ErrUnsupported wrapped in the error; callers
// may go on unprotected and say so. On systems without flock(2) (Windows)
// every lock holds nothing and no error is returned.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file in a locked directory.
const FileName = ".lock"

// ErrUnsupported is wrapped in the error returned when the directory's file
// system does not support locks.
var ErrUnsupported = errors.New("the file system does not support file locks")

// Lock is a held lock on a directory.
type Lock struct {
	f *os.File // nil: nothing held
}

// BusyError says that another process holds the directory.
type BusyError struct {
	What   string // "run directory", "sweep directory"
	Dir    string
	PID    int  // the exclusive holder; 0 when unknown
	Shared bool // held by shared holders (whose PIDs are not recorded)
}

func (e *BusyError) Error() string {
	if e.Shared {
		return fmt.Sprintf("%s %s is in use by other gridgpu processes; wait for them or choose another --out", e.What, e.Dir)
	}
	holder := "another gridgpu process"
	if e.PID > 0 {
		holder += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("%s %s is in use by %s; wait for it or choose another --out", e.What, e.Dir, holder)
}

// Exclusive locks dir (which must exist) for this process alone and writes
// this process's PID into the lock file. what names the directory in the
// error ("run directory"). When another process holds a lock on dir, the
// error is a *BusyError.
func Exclusive(dir, what string) (*Lock, error) {
	return lock(dir, what, true)
}

// Shared locks dir (which must exist) together with other shared holders,
// against any exclusive one.
func Shared(dir, what string) (*Lock, error) {
	return lock(dir, what, false)
}

// Release lets the lock go. It may be called more than once, and on a nil
// Lock.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	unlock(l.f)
	l.f.Close()
	l.f = nil
}

// path is the lock file of dir.
func path(dir string) string { return filepath.Join(dir, FileName) }

// readPID reads the PID an exclusive holder wrote into f (0 if none).
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

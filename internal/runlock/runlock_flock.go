//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func lock(dir, what string, exclusive bool) (*Lock, error) {
	// O_NOFOLLOW: a .lock planted as a symlink must not make us truncate
	// the file it points to.
	f, err := os.OpenFile(path(dir), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s %s: cannot open its lock file: %w", what, dir, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s %s: its lock file %s is not a regular file; remove it", what, dir, FileName)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(f, how|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			busy := &BusyError{What: what, Dir: filepath.Clean(dir)}
			busy.PID, busy.Shared = holder(f, exclusive)
			f.Close()
			return nil, busy
		}
		f.Close()
		if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOLCK) {
			return &Lock{}, fmt.Errorf("%s %s: %w (%v)", what, dir, ErrUnsupported, err)
		}
		return nil, fmt.Errorf("%s %s: locking %s: %w", what, dir, FileName, err)
	}
	if exclusive {
		// The PID is for the message that refuses the next writer only;
		// nothing depends on it being there.
		if f.Truncate(0) == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &Lock{f: f}, nil
}

// holder is the PID of the process that holds f exclusively (0 if it has
// not written it yet), or shared = true when shared holders hold it (a
// shared lock of our own then succeeds).
func holder(f *os.File, wantedExclusive bool) (pid int, shared bool) {
	if wantedExclusive {
		// Refused an exclusive lock: by an exclusive holder, or by shared
		// ones, whose PIDs are not recorded (the file may hold an
		// earlier exclusive holder's).
		if flock(f, syscall.LOCK_SH|syscall.LOCK_NB) == nil {
			flock(f, syscall.LOCK_UN)
			return 0, true
		}
	}
	// The holder writes its PID just after locking: give it a moment.
	for i := 0; i < 10; i++ {
		if pid := readPID(f); pid > 0 {
			return pid, false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, false
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlock(f *os.File) { flock(f, syscall.LOCK_UN) }

//go:build linux

package sweep

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startAndWait starts cmd through start and waits for it. The child gets its
// own process group (a terminal's Ctrl-C reaches only the sweep, which
// forwards it once) and SIGTERM should the sweep die without forwarding
// anything (the trainer then writes a checkpoint). The parent-death signal
// belongs to the thread that forked, so the goroutine keeps that thread
// until the child has exited.
func startAndWait(cmd *exec.Cmd, start func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := start(); err != nil {
		return err
	}
	return cmd.Wait()
}

//go:build unix && !linux

package sweep

import (
	"os/exec"
	"syscall"
)

// startAndWait starts cmd through start, in its own process group (a
// terminal's Ctrl-C reaches only the sweep, which forwards it once), and
// waits for it.
func startAndWait(cmd *exec.Cmd, start func() error) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := start(); err != nil {
		return err
	}
	return cmd.Wait()
}

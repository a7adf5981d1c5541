//go:build !unix

package sweep

import "os/exec"

// startAndWait starts cmd through start and waits for it.
func startAndWait(cmd *exec.Cmd, start func() error) error {
	if err := start(); err != nil {
		return err
	}
	return cmd.Wait()
}

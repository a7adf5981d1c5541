package main

// What the package's tests share: the program run in-process (runCLI) or
// as a child process of this test binary (TestMain, gridgpuCmd, startCmd),
// the one-line error contract, and model files of untrained networks.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/train"
)

// sweepMainEnv makes this test binary act as gridgpu itself: the sweep runs
// its points as child processes of os.Executable(), which in a test is this
// binary.
const sweepMainEnv = "GRIDGPU_TEST_RUN_MAIN"

// testBinary is os.Executable(): this test binary, which acts as gridgpu
// in a child whose environment sets sweepMainEnv.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestMain(m *testing.M) {
	if os.Getenv(sweepMainEnv) == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runCLI runs the program in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"gridgpu"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// oneLine checks the error contract: a single "gridgpu: ..." line.
func oneLine(t *testing.T, args []string, code int, stderr, want string) {
	t.Helper()
	if code == 0 {
		t.Errorf("%v: exit status 0, want non-zero", args)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "gridgpu: ") {
		t.Errorf("%v: stderr is not one 'gridgpu: ' line:\n%s", args, stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("%v: stderr %q lacks %q", args, stderr, want)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
		t.Errorf("%v: stack trace in output", args)
	}
}

// modelFile writes a model-only safetensors file of an untrained network.
func modelFile(t *testing.T, dir string) string {
	t.Helper()
	return writeModel(t, dir, graph.InitParams(8, 16, 3))
}

// writeModel writes p as a model file without metadata, dir/model.safetensors
// (train.SaveParams, what export and join write), and returns its path.
func writeModel(t *testing.T, dir string, p *graph.Params) string {
	t.Helper()
	ck := filepath.Join(dir, "model.safetensors")
	if err := train.SaveParams(ck, p, nil); err != nil {
		t.Fatal(err)
	}
	return ck
}

// tinyTrain is a model small enough that a step takes well under a
// millisecond.
var tinyTrain = []string{"--preset", "smoke", "--units", "8", "--hidden", "12", "--batch-size", "3", "--seq-len", "5"}

// child is a process started by startCmd: this test binary started as
// gridgpu (see TestMain) by startChild, or a command of the test's own.
type child struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer // its stderr, and its stdout where startCmd was asked to
	done   chan error
}

// gridgpuCmd is this test binary run as gridgpu with args, env added to
// the environment.
func gridgpuCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe := testBinary(t)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), sweepMainEnv+"=1"), env...)
	return cmd
}

// startChild starts gridgpu with args in its own process group, as
// timeout(1) and the sweep start theirs.
func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	cmd := gridgpuCmd(t, env, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return startCmd(t, cmd, false)
}

// startCmd starts cmd with its stderr captured, and its stdout with it
// when stdout is true. The child is killed, and waited for, when the test
// ends.
func startCmd(t *testing.T, cmd *exec.Cmd, stdout bool) *child {
	t.Helper()
	c := &child{cmd: cmd, stderr: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	c.cmd.Stderr = c.stderr
	if stdout {
		c.cmd.Stdout = c.stderr
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done // exit puts the status back
	})
	return c
}

// waitFor waits until the child's stderr holds s.
func (c *child) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from %v after 30 s:\n%s", s, c.cmd.Args[1:], c.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exit waits for the child and returns its exit status (-1: killed by a
// signal).
func (c *child) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("%v still running after 30 s:\n%s", c.cmd.Args[1:], c.stderr.String())
		return 0
	}
}

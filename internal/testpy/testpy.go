// Package testpy finds and runs the Python interpreter that the tests
// which run Python (the PyTorch reference, the documentation's snippets,
// NumPy, PyTorch and GUDHI reading the project's files) need, with one
// policy for all of them: a missing interpreter or module fails the test, because
// scripts/setup.sh installs them and CI runs it, unless the user opts out
// with GRIDGPU_SKIP_PYTHON=1. A test that skipped whenever Python was
// broken would pass exactly when it should fail.
package testpy

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Interpreter is Debian's python3, which sees Debian's python3-torch,
// python3-numpy and python3-gudhi (a python3 earlier on PATH may be
// another interpreter).
const Interpreter = "/usr/bin/python3"

// SkipEnv opts out of the Python tests when set to 1.
const SkipEnv = "GRIDGPU_SKIP_PYTHON"

// Python3 returns Interpreter when it imports every module named. Otherwise
// the test fails with what to install, or skips when SkipEnv=1.
func Python3(t testing.TB, modules ...string) string {
	t.Helper()
	code := "import " + strings.Join(modules, ", ")
	if len(modules) == 0 {
		code = "pass"
	}
	out, err := exec.Command(Interpreter, "-c", code).CombinedOutput()
	if err == nil {
		return Interpreter
	}
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1 and %s cannot %s", SkipEnv, Interpreter, code)
	}
	why := err.Error()
	if o := strings.TrimSpace(string(out)); o != "" {
		why = o[strings.LastIndex(o, "\n")+1:] // the exception's last line
	}
	t.Fatalf("%s cannot %s (%s): run scripts/setup.sh as root, which installs "+
		"Debian's python3-torch, python3-numpy and python3-gudhi (CI does), or set %s=1 to skip this test", Interpreter, code, why, SkipEnv)
	return ""
}

// Run runs the interpreter py with args in dir (the test's own directory
// when dir is ""), on one thread and without writing bytecode beside the
// scripts, and returns what it printed, stdout and stderr together. The
// test fails at once, with that output, when the interpreter exits
// non-zero.
func Run(t testing.TB, py, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(py, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		shown := slices.Clone(args)
		for i := range shown {
			if i > 0 && shown[i-1] == "-c" {
				shown[i] = "SCRIPT" // the script itself is in the test's source
			}
		}
		t.Fatalf("%s %s: %v\n%s", py, strings.Join(shown, " "), err, out)
	}
	return string(out)
}

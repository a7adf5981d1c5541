package runlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// holderEnv makes this test binary a process that takes a lock on the
// directory named by the variable, says "locked" and waits to be killed.
const holderEnv = "GRIDGPU_RUNLOCK_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		l, err := Exclusive(dir, "run directory")
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func busy(t *testing.T, err error) *BusyError {
	t.Helper()
	var be *BusyError
	if !errors.As(err, &be) {
		t.Fatalf("want a BusyError, got %v", err)
	}
	return be
}

// A second exclusive lock, and a shared one, are refused while an
// exclusive lock is held, naming the holder; after Release they succeed.
func TestExclusive(t *testing.T) {
	dir := t.TempDir()
	a, err := Exclusive(dir, "run directory")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Exclusive(dir, "run directory")
	be := busy(t, err)
	if be.PID != os.Getpid() || be.Shared {
		t.Errorf("holder: pid %d shared %v, want pid %d", be.PID, be.Shared, os.Getpid())
	}
	want := "run directory " + dir + " is in use by another gridgpu process (pid "
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; wait for it or choose another --out") {
		t.Errorf("message %q", err)
	}
	if _, err := Shared(dir, "sweep directory"); busy(t, err).PID != os.Getpid() {
		t.Errorf("shared lock under an exclusive one: %v", err)
	}
	a.Release()
	a.Release() // twice is harmless
	b, err := Exclusive(dir, "run directory")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	b.Release()
}

// Shared holders coexist and keep an exclusive locker out, whose message
// then names no (stale) PID.
func TestShared(t *testing.T) {
	dir := t.TempDir()
	ex, _ := Exclusive(dir, "sweep directory") // leaves its PID in the file
	ex.Release()
	a, err := Shared(dir, "sweep directory")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := Shared(dir, "sweep directory")
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	defer b.Release()
	_, err = Exclusive(dir, "sweep directory")
	if be := busy(t, err); !be.Shared || be.PID != 0 || !strings.Contains(err.Error(), "in use by other gridgpu processes; wait for them") {
		t.Errorf("exclusive under shared locks: %+v %v", be, err)
	}
}

// A lock file that is a symlink is refused rather than followed (the PID
// write would truncate its target).
func TestLockFileSymlink(t *testing.T) {
	dir := t.TempDir()
	target := dir + "/precious"
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, dir+"/"+FileName)
	if _, err := Exclusive(dir, "run directory"); err == nil {
		t.Error("a symlinked lock file was accepted")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symlink's target became %q", b)
	}
}

// Another process's lock refuses this one's, naming its PID; kill -9
// releases it with no cleanup.
func TestOtherProcessAndKill(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("holder said %q", line)
	}
	_, err = Exclusive(dir, "run directory")
	if be := busy(t, err); be.PID != cmd.Process.Pid {
		t.Errorf("holder pid %d, want %d", be.PID, cmd.Process.Pid)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	l, err := Exclusive(dir, "run directory")
	if err != nil {
		t.Fatalf("after kill -9: %v", err)
	}
	l.Release()
}

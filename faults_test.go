package main

// Cases of the fault probe in issue 19: one writer per run and per sweep
// directory, stops that arrive twice, SIGHUP, a closed output pipe, and
// exports that would destroy a checkpoint.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/internal/runlock"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/sweep"
	"github.com/gridgpu/gridgpu/train"
)

// endlessSweep writes tinySweep's sweep file in dir with runs that train
// until they are stopped.
func endlessSweep(t *testing.T, dir string) string {
	t.Helper()
	return tinySweep(t, dir, "steps: 1000000000, log_every: 1000000000, checkpoint_every: 1000000000", "")
}

// startEndlessSweep starts a sweep of endlessSweep's runs, one at a time,
// into a new directory and waits until its first run trains. It returns
// the sweep, its sweep file and its directory.
func startEndlessSweep(t *testing.T) (c *child, spec, out string) {
	t.Helper()
	sweepTest(t)
	dir := t.TempDir()
	spec = endlessSweep(t, dir)
	out = filepath.Join(dir, "sw")
	c = startChild(t, nil, "sweep", "--spec", spec, "--out", out, "--parallel", "1")
	c.waitFor(t, "training on")
	return c, spec, out
}

// snapshot reads the named files of dir ("" for missing ones).
func snapshot(dir string, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		m[n] = string(b)
	}
	return m
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for n, b := range before {
		if after[n] != b {
			t.Errorf("%s changed %s:\nbefore %q\nafter  %q", what, n, b, after[n])
		}
	}
}

// F1, F2: a second train or resume of a run directory that a process is
// training is refused with one line naming that process, exit status 1,
// and writes nothing there; once the holder is gone (kill -9 included) the
// run can be resumed.
func TestOneWriterPerRun(t *testing.T) {
	sweepTest(t)
	D := filepath.Join(t.TempDir(), "D")
	files := []string{"config.yaml", rundir.HistoryFile, "metrics.jsonl", filepath.Join("checkpoints", rundir.LatestFile)}
	refused := func(c *child, args ...string) {
		t.Helper()
		before := snapshot(D, files...)
		code, _, stderr := runCLI(t, args...)
		want := fmt.Sprintf("run directory %s is in use by another gridgpu process (pid %d); wait for it or choose another --out", D, c.cmd.Process.Pid)
		oneLine(t, args, code, stderr, want)
		if code != 1 {
			t.Errorf("%v: exit status %d, want 1", args, code)
		}
		sameSnapshot(t, strings.Join(args, " "), before, snapshot(D, files...))
	}
	waitMetrics := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if st, err := os.Stat(filepath.Join(D, "metrics.jsonl")); err == nil && st.Size() > 0 {
				return
			}
		}
		t.Fatal("no metrics line after 30 s")
	}
	long := []string{"--steps", "1000000000", "--log-every", "1000000000", "--checkpoint-every", "1000000000"}

	first := startChild(t, nil, append(append([]string{"train"}, tinyTrain...), append(long, "--out", D)...)...)
	first.waitFor(t, "training")
	waitMetrics() // step 1's line; no other until the end
	refused(first, append(append([]string{"train"}, tinyTrain...), "--steps", "6", "--seed", "5", "--out", D)...)
	first.cmd.Process.Signal(os.Interrupt)
	if code := first.exit(t); code != 130 {
		t.Fatalf("first run: exit status %d, want 130:\n%s", code, first.stderr.String())
	}

	ck, got := loadLatest(t, D)
	// Short runs for the refused ones, which would end soon if they ran.
	steps := strconv.FormatInt(got.Step+2, 10)
	second := startChild(t, nil, "train", "--resume", D, "--steps", "1000000000")
	second.waitFor(t, "resuming")
	refused(second, "train", "--resume", D, "--lr", "1e-4", "--steps", steps)
	refused(second, "train", "--resume", ck, "--out", D+"/", "--steps", steps)
	refused(second, append(append([]string{"train"}, tinyTrain...), "--steps", "6", "--out", D)...)
	second.cmd.Process.Kill() // SIGKILL: the kernel releases the lock
	second.exit(t)

	if code, _, stderr := runCLI(t, "train", "--resume", D, "--steps", steps); code != 0 {
		t.Fatalf("resume after the holder was killed: %d %s", code, stderr)
	}
}

// A train refused after its run directory was created (here: a device
// this build lacks) leaves no directory behind, lock file included.
func TestRefusedTrainLeavesNoDirectory(t *testing.T) {
	D := filepath.Join(t.TempDir(), "D")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--device", "cuda:99", "--out", D)
	if code == 0 {
		t.Skip("cuda:99 exists")
	}
	if _, err := os.Stat(D); !os.IsNotExist(err) {
		t.Errorf("the refused train (%s) left %s", strings.TrimSpace(stderr), D)
	}
}

// F11: a second sweep of a directory that a sweep is working in is refused
// with one line naming it, and so is a job-array task (--index) of it.
func TestOneSweepPerDirectory(t *testing.T) {
	first, spec, out := startEndlessSweep(t)
	want := fmt.Sprintf("sweep directory %s is in use by another gridgpu process (pid %d); wait for it or choose another --out", out, first.cmd.Process.Pid)
	for _, args := range [][]string{
		{"sweep", "--spec", spec, "--out", out, "--parallel", "2"},
		{"sweep", "--spec", spec, "--out", out, "--index", "3"},
	} {
		code, stderr := sweepRefused(t, args)
		oneLine(t, args, code, stderr, want)
		if code != 1 {
			t.Errorf("%v: exit status %d, want 1", args, code)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(out, "runs"))
	if len(ents) != 1 {
		t.Errorf("runs/ holds %d runs, want the first sweep's one", len(ents))
	}
	first.cmd.Process.Signal(os.Interrupt)
	if code := first.exit(t); code != 130 {
		t.Errorf("first sweep: exit status %d, want 130:\n%s", code, first.stderr.String())
	}
	// Shared holders (the tasks of a job array) keep a whole sweep out
	// too, without a PID to name.
	l, err := runlock.Shared(out, "sweep directory")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	args := []string{"sweep", "--spec", spec, "--out", out}
	code, stderr := sweepRefused(t, args)
	oneLine(t, args, code, stderr, "sweep directory "+out+" is in use by other gridgpu processes; wait for them or choose another --out")
}

// sweepRefused runs a sweep that should be refused at once in a
// subprocess, so that one that is not is stopped after 10 s rather than
// training for ever; it returns the exit status and stderr.
func sweepRefused(t *testing.T, args []string) (int, string) {
	t.Helper()
	exe := testBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), sweepMainEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// A sweep killed outright (kill -9) takes its children with it: the
// trainer gets SIGTERM as its parent-death signal, writes a checkpoint and
// exits. A rerun started at once waits for that trainer to let go of the
// run directory and resumes the run from its checkpoint, although
// sweep-status.json still says "training".
func TestKilledSweepStopsItsChildren(t *testing.T) {
	first, spec, out := startEndlessSweep(t)
	runDir := filepath.Join(out, "runs", tinyNames[0])
	// The trainer's PID, from the lock it holds on its run directory.
	trainer := 0
	deadline := time.Now().Add(30 * time.Second)
	for trainer <= 0 || trainer == first.cmd.Process.Pid {
		if time.Now().After(deadline) {
			t.Fatalf("no trainer's PID in %s", filepath.Join(runDir, runlock.FileName))
		}
		time.Sleep(10 * time.Millisecond)
		b, _ := os.ReadFile(filepath.Join(runDir, runlock.FileName))
		trainer, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	t.Cleanup(func() {
		if alive(trainer) {
			syscall.Kill(trainer, syscall.SIGKILL)
		}
	})
	time.Sleep(300 * time.Millisecond) // the trainer's signal handling is set up
	first.cmd.Process.Kill()
	if code := first.exit(t); code != -1 {
		t.Fatalf("killed sweep: exit status %d", code)
	}
	second := startChild(t, nil, "sweep", "--spec", spec, "--out", out, "--parallel", "1")
	second.waitFor(t, tinyNames[0]+": training on cpu (resuming from step ")
	if alive(trainer) {
		t.Errorf("the killed sweep's trainer (pid %d) still runs", trainer)
	}
	if b, _ := os.ReadFile(filepath.Join(runDir, sweep.TrainLog)); !strings.Contains(string(b), "interrupted by SIGTERM after step") {
		t.Errorf("the first trainer did not stop on SIGTERM; %s:\n%s", sweep.TrainLog, b)
	}
	second.cmd.Process.Signal(os.Interrupt)
	if code := second.exit(t); code != 130 {
		t.Errorf("second sweep: exit status %d, want 130:\n%s", code, second.stderr.String())
	}
}

// alive reports whether process pid runs (a zombie, exited but not yet
// reaped, does not).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// One stop delivered twice, as timeout(1) delivers it (to the process,
// then to its group): the run finishes its step and writes a checkpoint,
// exit status 143, rather than taking the repeat for an abort.
func TestStopDeliveredTwice(t *testing.T) {
	sweepTest(t)
	out := filepath.Join(t.TempDir(), "run")
	// Steps of a few tenths of a second, so that both signals arrive
	// within one.
	c := startChild(t, []string{"GOMAXPROCS=2"}, "train", "--preset", "medium", "--steps", "1000", "--out", out)
	c.waitFor(t, "training")
	pid := c.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	time.Sleep(30 * time.Millisecond)
	syscall.Kill(-pid, syscall.SIGTERM)
	if code := c.exit(t); code != 143 {
		t.Fatalf("exit status %d, want 143:\n%s", code, c.stderr.String())
	}
	if s := c.stderr.String(); !strings.Contains(s, "interrupted by SIGTERM after step") || strings.Contains(s, "aborting") {
		t.Errorf("stderr:\n%s", s)
	}
	if _, err := rundir.ResolveCheckpoint(out); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
}

// A sweep takes SIGHUP as a stop too and passes it on once, even when a
// second stop follows within a second (the same stop delivered twice):
// its trainer writes a checkpoint, and the sweep exits 129.
func TestSweepStopDeliveredTwice(t *testing.T) {
	c, _, out := startEndlessSweep(t)
	time.Sleep(200 * time.Millisecond) // the trainer's signal handling is set up
	pid := c.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGHUP)
	time.Sleep(5 * time.Millisecond)
	syscall.Kill(pid, syscall.SIGTERM)
	if code := c.exit(t); code != 129 {
		t.Fatalf("exit status %d, want 129:\n%s", code, c.stderr.String())
	}
	s := c.stderr.String()
	if strings.Contains(s, "again") || !strings.Contains(s, "gridgpu: sweep interrupted by SIGHUP: 0 of 4 runs done, 1 stopped with a checkpoint, 3 not started") {
		t.Errorf("stderr:\n%s", s)
	}
	if _, err := rundir.ResolveCheckpoint(filepath.Join(out, "runs", tinyNames[0])); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
}

// F10: SIGHUP (a closed terminal or ssh session) stops like SIGTERM: a
// checkpoint, exit status 129.
func TestSIGHUPWritesCheckpoint(t *testing.T) {
	sweepTest(t)
	out := filepath.Join(t.TempDir(), "run")
	c := startChild(t, nil, append(append([]string{"train"}, tinyTrain...), "--steps", "1000000000", "--out", out)...)
	c.waitFor(t, "training")
	time.Sleep(100 * time.Millisecond)
	c.cmd.Process.Signal(syscall.SIGHUP)
	if code := c.exit(t); code != 129 {
		t.Fatalf("exit status %d, want 129:\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "gridgpu: interrupted by SIGHUP after step") {
		t.Errorf("stderr:\n%s", c.stderr.String())
	}
	loadLatest(t, out)
}

// F9: a closed output pipe (train ... | head -1) does not kill the run:
// the progress goes quiet and training goes on to its end.
func TestClosedPipeKeepsTraining(t *testing.T) {
	sweepTest(t)
	exe := testBinary(t)
	out := filepath.Join(t.TempDir(), "run")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader has gone before the first line
	cmd := exec.Command(exe, append(append([]string{"train"}, tinyTrain...), "--steps", "40", "--log-every", "1", "--out", out)...)
	cmd.Env = append(os.Environ(), sweepMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("train with its output closed: %v", err)
	}
	if _, err := train.LoadCheckpoint(filepath.Join(out, "checkpoints", rundir.CheckpointName(40))); err != nil {
		t.Errorf("final checkpoint: %v", err)
	}
	m, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if n := bytes.Count(m, []byte("\n")); n != 40 {
		t.Errorf("metrics.jsonl holds %d lines, want 40", n)
	}
}

// F4, F18, F19: export refuses an existing --out without --overwrite,
// refuses the checkpoint itself (by any name) always, and removes the
// temporaries an export killed while writing the same file left.
func TestExportNeverDestroysCheckpoint(t *testing.T) {
	fx := newHostileFixture(t)
	orig, err := os.ReadFile(fx.ck)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(fx.dir, "link.npz")
	os.Symlink(fx.ck, link)
	hard := filepath.Join(fx.dir, "hard.npz")
	os.Link(fx.ck, hard)
	for _, args := range [][]string{
		{"export", "--checkpoint", fx.ck, "--out", fx.ck},
		{"export", "--checkpoint", fx.ck, "--out", fx.ck, "--overwrite"},
		{"export", "--checkpoint", fx.run, "--out", fx.ck, "--overwrite", "--format", "npz"},
		{"export", "--checkpoint", fx.ck, "--out", link, "--overwrite"},
		{"export", "--checkpoint", fx.ck, "--out", hard, "--overwrite"},
		{"export", "--checkpoint", fx.ck, "--out", filepath.Join(fx.run, "checkpoints", ".", filepath.Base(fx.ck)), "--overwrite"},
	} {
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, "is the checkpoint being exported")
	}
	if now, _ := os.ReadFile(fx.ck); !bytes.Equal(now, orig) {
		t.Fatal("the checkpoint changed")
	}

	out := filepath.Join(fx.dir, "model.npz")
	stale := filepath.Join(fx.dir, ".model.npz.tmp-123456")
	other := filepath.Join(fx.dir, ".other.npz.tmp-123456")
	for _, f := range []string{stale, other} {
		os.WriteFile(f, make([]byte, 100), 0o600)
		past := time.Now().Add(-time.Hour)
		os.Chtimes(f, past, past)
	}
	if code, _, stderr := runCLI(t, "export", "--checkpoint", fx.ck, "--out", out); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale temporary of model.npz survived the export")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another file's temporary was removed")
	}
	os.WriteFile(out, []byte("keep"), 0o644)
	args := []string{"export", "--checkpoint", fx.ck, "--out", out}
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, "--out "+out+": exists; choose another name or pass --overwrite")
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Error("the refused export replaced --out")
	}
	if code, _, stderr := runCLI(t, append(args, "--overwrite")...); code != 0 {
		t.Fatalf("export --overwrite: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) == "keep" {
		t.Error("export --overwrite left --out as it was")
	}
}

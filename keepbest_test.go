package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/rundir"
)

// TestKeepBestCLI trains the smoke preset with --keep-best loss and a
// retention of one checkpoint, so that only the best pointer keeps the best
// checkpoint; analyze --checkpoint RUN/best then analyses that checkpoint,
// and a resume keeps it.
func TestKeepBestCLI(t *testing.T) {
	sweepTest(t) // the real model
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	args := []string{"train", "--preset", "smoke", "--steps", "200", "--checkpoint-every", "20", "--keep-checkpoints", "1", "--keep-best", "loss", "--out", run}
	if code, _, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	best := checkBestCLI(t, run)
	if best == 200 {
		t.Fatal("the lowest loss is at the last step: the test needs one that retention would delete")
	}
	ck := filepath.Join(run, "checkpoints")
	ents, _ := filepath.Glob(filepath.Join(ck, "step-*.safetensors"))
	if len(ents) != 2 || filepath.Base(ents[1]) != rundir.CheckpointName(200) {
		t.Errorf("checkpoints %v, want the best (step %d) and the newest", ents, best)
	}

	rep := filepath.Join(dir, "rep")
	code, _, stderr := runCLI(t, "analyze", "--checkpoint", filepath.Join(run, "best"), "--out", rep, "--arena", "1", "--bins", "10", "--trajectories", "4", "--steps", "50")
	if code != 0 {
		t.Fatalf("analyze --checkpoint RUN/best: %s", stderr)
	}
	var sum struct {
		Model struct{ Metadata map[string]string }
	}
	b, _ := os.ReadFile(filepath.Join(rep, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil || sum.Model.Metadata["step"] != strconv.FormatInt(best, 10) {
		t.Errorf("analyze --checkpoint RUN/best analysed step %q (%v), want %d", sum.Model.Metadata["step"], err, best)
	}
	if _, err := os.Stat(filepath.Join(rep, "curves_losses.png")); err != nil {
		t.Errorf("analyze --checkpoint RUN/best found no training curves: %v", err)
	}

	// Resumed, the run keeps its best checkpoint (or a better one).
	if code, _, stderr := runCLI(t, "train", "--resume", run, "--steps", "260"); code != 0 {
		t.Fatalf("resume: %s", stderr)
	}
	checkBestCLI(t, run)

	// A key that is not one is refused in one line naming the setting and
	// the keys.
	bad := []string{"train", "--preset", "smoke", "--keep-best", "eval_grid_unit", "--out", filepath.Join(dir, "bad")}
	code, _, stderr = runCLI(t, bad...)
	oneLine(t, bad, code, stderr, "run.keep_best (--keep-best) = eval_grid_unit: must be")
	for _, k := range []string{"eval_grid_units", "loss"} {
		if !strings.Contains(stderr, k) {
			t.Errorf("the error does not list %s: %s", k, stderr)
		}
	}
}

// checkBestCLI checks that RUN/checkpoints/best names the checkpoint of the
// lowest loss in RUN/metrics.jsonl (the earliest of equal ones), and returns
// its step.
func checkBestCLI(t *testing.T, run string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	step, low := int64(-1), 0.0
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct {
			Step int64
			Loss float64
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if step < 0 || m.Loss < low {
			step, low = m.Step, m.Loss
		}
	}
	ptr, err := os.ReadFile(filepath.Join(run, "checkpoints", rundir.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ptr), "\n")
	if lines[0] != rundir.CheckpointName(step) {
		t.Errorf("checkpoints/best names %s; the lowest loss, %g, is at step %d", lines[0], low, step)
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "loss ") {
		t.Errorf("checkpoints/best: %q", ptr)
	}
	if _, err := os.Stat(filepath.Join(run, "checkpoints", lines[0])); err != nil {
		t.Errorf("the best checkpoint is gone: %v", err)
	}
	return step
}

package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/rundir"
)

// bestOfMetrics is the step and value of the best line for key in dir's
// metrics.jsonl (the earliest of equal ones).
func bestOfMetrics(t *testing.T, dir, key string, lower bool) (int64, float64) {
	t.Helper()
	step, best := int64(-1), 0.0
	for _, m := range readMetrics(t, dir) {
		v, ok := m[key].(float64)
		if !ok {
			continue
		}
		if step < 0 || lower && v < best || !lower && v > best {
			step, best = int64(m["step"].(float64)), v
		}
	}
	return step, best
}

// checkBest checks dir's best pointer against metrics.jsonl, and returns the
// best checkpoint's step.
func checkBest(t *testing.T, dir, key string, lower bool) int64 {
	t.Helper()
	ckDir := filepath.Join(dir, "checkpoints")
	name, rest, err := rundir.ReadPointer(filepath.Join(ckDir, rundir.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	step, v := bestOfMetrics(t, dir, key, lower)
	if name != rundir.CheckpointName(step) {
		t.Errorf("best pointer names %s; the best %s in metrics.jsonl is %g at step %d", name, key, v, step)
	}
	if f := strings.Fields(rest); len(f) != 2 || f[0] != key {
		t.Errorf("best pointer's second line %q, want %q and the value", rest, key)
	}
	if _, err := os.Stat(filepath.Join(ckDir, name)); err != nil {
		t.Errorf("the best checkpoint is gone: %v", err)
	}
	p, err := rundir.ResolveCheckpoint(filepath.Join(dir, rundir.BestFile))
	if err != nil || filepath.Base(p) != name {
		t.Errorf("rundir.ResolveCheckpoint(RUN/best) = %s, %v; want %s", p, err, name)
	}
	if ck, err := LoadCheckpoint(p); err != nil || ck.Step != step {
		t.Errorf("best checkpoint: %v, step %v, want %d", err, ck, step)
	}
	return step
}

func TestKeepBestSurvivesRetention(t *testing.T) {
	// The loss is lowest at the first step and grows from there: retention
	// would delete the best checkpoint.
	useGrowingFake(t)
	cfg := testConfig(t, 30)
	cfg.Run.CheckpointEvery, cfg.Run.KeepCheckpoints, cfg.Run.LogEvery = 5, 1, 2
	cfg.Run.KeepBest = "loss"
	out := t.TempDir()
	res, err := Run(context.Background(), cfg, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	step := checkBest(t, out, "loss", true)
	if step >= 25 {
		t.Fatalf("the best loss is at step %d: the test needs one before the newest checkpoint", step)
	}
	names, _ := rundir.ListCheckpoints(filepath.Join(out, "checkpoints"))
	if len(names) != 2 || names[0] != rundir.CheckpointName(step) || names[1] != rundir.CheckpointName(30) {
		t.Errorf("kept %v, want the best (step %d) and the newest", names, step)
	}
	if res.BestCheckpoint != filepath.Join(out, "checkpoints", rundir.CheckpointName(step)) {
		t.Errorf("Result.BestCheckpoint %q", res.BestCheckpoint)
	}

	// Resumed, the run keeps that best (from the pointer) while the loss
	// grows on.
	p, _ := rundir.ResolveCheckpoint(out)
	ck, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Run.Steps = 40
	if _, err := Run(context.Background(), cfg, Options{Out: out, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	if got := checkBest(t, out, "loss", true); got != step {
		t.Errorf("after the resume the best is step %d, want %d", got, step)
	}
	names, _ = rundir.ListCheckpoints(filepath.Join(out, "checkpoints"))
	if len(names) != 2 || names[0] != rundir.CheckpointName(step) {
		t.Errorf("after the resume kept %v", names)
	}

	// Without the pointer (or with one for another key) the best is
	// recomputed from metrics.jsonl among the checkpoints on disk.
	os.Remove(filepath.Join(out, "checkpoints", rundir.BestFile))
	p, _ = rundir.ResolveCheckpoint(out)
	ck, _ = LoadCheckpoint(p)
	cfg.Run.Steps = 45
	if _, err := Run(context.Background(), cfg, Options{Out: out, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	if got := checkBest(t, out, "loss", true); got != step {
		t.Errorf("recomputed best is step %d, want %d", got, step)
	}

	// Turned off on resume, the pointer goes and retention takes the old
	// best like any other checkpoint.
	p, _ = rundir.ResolveCheckpoint(out)
	ck, _ = LoadCheckpoint(p)
	cfg.Run.Steps, cfg.Run.KeepBest = 50, ""
	if _, err := Run(context.Background(), cfg, Options{Out: out, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", rundir.BestFile)); !os.IsNotExist(err) {
		t.Errorf("best pointer after keep_best was turned off: %v", err)
	}
	if names, _ = rundir.ListCheckpoints(filepath.Join(out, "checkpoints")); len(names) != 1 {
		t.Errorf("kept %v, want only the newest", names)
	}
	if _, err := rundir.ResolveCheckpoint(filepath.Join(out, rundir.BestFile)); err == nil || !strings.Contains(err.Error(), "keep_best") {
		t.Errorf("RUN/best without a best checkpoint: %v", err)
	}
}

// An evaluation key: only evaluated steps are candidates, and an evaluated
// step that sets a new best gets a checkpoint of its own.
func TestKeepBestEvalKey(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 12)
	// A learning rate so large that the fake's units move, and are scored,
	// from the first evaluation on.
	cfg.Optimizer.LR, cfg.Scheduler.Kind = 1, "none"
	cfg.Run.EvalEvery, cfg.Run.EvalTrajectories, cfg.Run.CheckpointEvery, cfg.Run.KeepCheckpoints = 3, 2, 5, 1
	cfg.Run.KeepBest = "eval_score60_max"
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	step := checkBest(t, out, "eval_score60_max", false)
	if step%3 != 0 || step%5 == 0 || step == 12 {
		t.Errorf("best at step %d; the test needs an evaluated step that is not a checkpoint step", step)
	}
	names, _ := rundir.ListCheckpoints(filepath.Join(out, "checkpoints"))
	if len(names) != 2 || names[0] != rundir.CheckpointName(step) || names[1] != rundir.CheckpointName(12) {
		t.Errorf("kept %v, want the best (step %d) and the newest", names, step)
	}
}

func TestKeepBestValidation(t *testing.T) {
	cfg := testConfig(t, 10)
	for _, tc := range []struct {
		key, walks string
		eval       int
		want       string
	}{
		{"los", EvalStandard, 0, "run.keep_best (--keep-best) = los: must be \"\" (off) or a metrics key: higher is better for eval_grid_units,"},
		{"eval_grid_units", EvalStandard, 0, "run.eval_every (--eval-every) is 0"},
		{"eval_trn_grid_units", EvalStandard, 10, "run.eval_walks (--eval-walks) both"},
	} {
		c := cfg
		c.Run.KeepBest, c.Run.EvalWalks, c.Run.EvalEvery = tc.key, tc.walks, tc.eval
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("keep_best %q: %v, want one line with %q", tc.key, err, tc.want)
		}
	}
	for _, ok := range []string{"", "loss", "ci", "grad_norm"} {
		c := cfg
		c.Run.KeepBest = ok
		if err := c.Validate(); err != nil {
			t.Errorf("keep_best %q: %v", ok, err)
		}
	}
	hi, lo := BestKeys()
	for _, k := range append(hi, lo...) {
		if lower, ok := bestLowerIsBetter(k); !ok || lower != contains(lo, k) {
			t.Errorf("key %s: lower %v ok %v", k, lower, ok)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

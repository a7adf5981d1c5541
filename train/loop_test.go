package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/rundir"
)

// testConfig is a small config for loop tests; the fake model ignores sizes
// except N and H.
func testConfig(t *testing.T, steps int64) Config {
	t.Helper()
	c, err := Preset("smoke")
	if err != nil {
		t.Fatal(err)
	}
	c.Model.Units, c.Model.Hidden = 4, 3
	c.Data.BatchSize, c.Data.SeqLen = 3, 5
	c.Run.Steps = steps
	c.Run.LogEvery = 1
	c.Run.CheckpointEvery = 4
	c.Run.KeepCheckpoints = 0
	c.Scheduler.Window, c.Scheduler.Patience, c.Scheduler.Factor = 3, 0, 0.5
	c.Scheduler.Threshold = 0.5 // so the fake run sees plateaus and the scheduler state matters
	return c
}

// loadAt loads the checkpoint of step of the run in dir and returns its
// path too.
func loadAt(t *testing.T, dir string, step int64) (string, *Checkpoint) {
	t.Helper()
	p := filepath.Join(dir, "checkpoints", rundir.CheckpointName(step))
	ck, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, ck
}

// readMetrics returns the metrics lines without their timing fields.
func readMetrics(t *testing.T, dir string) []map[string]any {
	t.Helper()
	out := testutil.MetricsObjects(t, dir)
	for _, m := range out {
		for _, k := range []string{"step", "loss", "sep", "inv", "cap", "ci", "lr", "grad_norm", "zero_frac", "steps_per_sec", "elapsed"} {
			if _, ok := m[k]; !ok {
				t.Errorf("metrics line lacks %q: %v", k, m)
			}
		}
		delete(m, "steps_per_sec")
		delete(m, "elapsed")
		delete(m, "eval_seconds")
	}
	return out
}

// resumeEquivalence runs 2k steps in one go and k + k with a resume in
// between, and requires identical metrics (except timing) and identical
// final checkpoints' tensors.
func resumeEquivalence(t *testing.T, cfg Config, k int64) {
	t.Helper()
	whole := t.TempDir()
	c := cfg
	c.Run.Steps = 2 * k
	if _, err := Run(context.Background(), c, Options{Out: whole}); err != nil {
		t.Fatal(err)
	}
	split := t.TempDir()
	c.Run.Steps = k
	if _, err := Run(context.Background(), c, Options{Out: split}); err != nil {
		t.Fatal(err)
	}
	ckPath, err := rundir.ResolveCheckpoint(split)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(ckPath) != rundir.CheckpointName(k) {
		t.Fatalf("latest checkpoint %s, want %s", ckPath, rundir.CheckpointName(k))
	}
	ck, err := LoadCheckpoint(ckPath)
	if err != nil {
		t.Fatal(err)
	}
	c = ck.Config
	c.Run.Steps = 2 * k
	if _, err := Run(context.Background(), c, Options{Out: split, Resume: ck, ResumePath: ckPath}); err != nil {
		t.Fatal(err)
	}
	a, b := readMetrics(t, whole), readMetrics(t, split)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("metrics lines: %d uninterrupted, %d resumed", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("metrics differ at line %d:\n uninterrupted %v\n resumed       %v", i+1, a[i], b[i])
		}
	}
	_, ca := loadAt(t, whole, 2*k)
	_, cb := loadAt(t, split, 2*k)
	if !reflect.DeepEqual(ca.Params, cb.Params) || !reflect.DeepEqual(ca.Opt, cb.Opt) || !reflect.DeepEqual(ca.SamplerState, cb.SamplerState) {
		t.Error("final checkpoints differ between the uninterrupted and the resumed run")
	}
	if !reflect.DeepEqual(ca.Scheduler, cb.Scheduler) {
		t.Errorf("scheduler state differs: %+v vs %+v", ca.Scheduler, cb.Scheduler)
	}
}

func TestResumeEquivalenceFake(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 0)
	// k = 7 is not a multiple of the checkpoint interval or the scheduler
	// window, so partial windows must be carried over exactly.
	resumeEquivalence(t, cfg, 7)
}

// TestResumeEquivalenceLogEvery: the first half ends at a step that the
// uninterrupted run does not log (k = 7, log_every 3), or logs without an
// evaluation (k = 6, eval_every 4): the line the first half wrote as its
// last, and its evaluation, do not stay in the resumed run's file.
func TestResumeEquivalenceLogEvery(t *testing.T) {
	useFake(t, nil)
	for _, k := range []int64{7, 6} {
		cfg := testConfig(t, 0)
		cfg.Run.LogEvery = 3
		cfg.Run.EvalEvery, cfg.Run.EvalTrajectories = 4, 2
		resumeEquivalence(t, cfg, k)
	}
}

// TestStepSchedule: with scheduler.kind step the metrics lines show the
// full learning rate up to the decay step and lr x factor after it, and a
// run resumed before the decay step (k = 3) or after it (k = 7) equals the
// uninterrupted one.
func TestStepSchedule(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 10)
	cfg.Optimizer.LR = 1e-3
	cfg.Scheduler.Kind, cfg.Scheduler.DecayStep, cfg.Scheduler.Factor = "step", 5, 0.1
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	for _, m := range readMetrics(t, out) {
		step, lr := int64(m["step"].(float64)), m["lr"].(float64)
		want := 1e-3
		if step > 5 {
			want = 1e-3 * 0.1
		}
		if lr != want {
			t.Errorf("step %d: lr %g, want %g", step, lr, want)
		}
	}
	for _, k := range []int64{3, 7} {
		c := cfg
		c.Scheduler.DecayStep = 5
		resumeEquivalence(t, c, k)
	}
	bad := cfg
	bad.Scheduler.DecayStep = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "scheduler.decay_step") {
		t.Errorf("kind step without a decay step: %v", err)
	}
}

func TestResumeEquivalenceReal(t *testing.T) {
	requireRealModel(t)
	// The smoke size, big enough for the graph's ops to split work over
	// goroutines: their results must not depend on scheduling.
	cfg, _ := Preset("smoke")
	cfg.Run.LogEvery, cfg.Run.CheckpointEvery = 1, 0
	cfg.Scheduler.Window, cfg.Scheduler.Patience = 2, 0
	// Evaluations at steps 4, 8, 12, 16 in both runs (the first half of the
	// split run ends at 8, where it evaluates as its last step).
	cfg.Run.EvalEvery, cfg.Run.EvalTrajectories = 4, 4
	resumeEquivalence(t, cfg, 8)
}

// TestEvalLeavesTrainingUnchanged: a run with the grid evaluation gives the
// same training metrics and parameters as one without, and its evaluated
// lines carry every eval key.
func TestEvalLeavesTrainingUnchanged(t *testing.T) {
	requireRealModel(t)
	cfg, _ := Preset("smoke")
	cfg.Run.Steps, cfg.Run.LogEvery, cfg.Run.CheckpointEvery = 12, 1, 0
	plain, evald := t.TempDir(), t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: plain}); err != nil {
		t.Fatal(err)
	}
	cfg.Run.EvalEvery, cfg.Run.EvalTrajectories, cfg.Run.EvalWalks = 5, 4, EvalBoth
	if _, err := Run(context.Background(), cfg, Options{Out: evald}); err != nil {
		t.Fatal(err)
	}
	a, b := readMetrics(t, plain), readMetrics(t, evald)
	if len(a) != 12 || len(b) != 12 {
		t.Fatalf("metrics lines: %d and %d, want 12", len(a), len(b))
	}
	keys := []string{"eval_grid_units", "eval_grid_frac", "eval_score60_max", "eval_score60_p90", "eval_dead_units", "eval_modules", "eval_periods",
		"eval_std_grid_units", "eval_trn_grid_units", "eval_trn_square_units"}
	for i := range b {
		step := i + 1
		_, has := b[i]["eval_grid_units"]
		if want := step%5 == 0 || step == 12; has != want {
			t.Errorf("step %d: eval keys present %v, want %v", step, has, want)
		}
		for _, k := range keys {
			if _, ok := b[i][k]; has && !ok {
				t.Errorf("step %d: evaluated line lacks %q", step, k)
			}
		}
		if d, ok := b[i]["dead_units"].(float64); !ok || d < 0 || d > float64(cfg.Model.Units) {
			t.Errorf("step %d: dead_units = %v, want a count in [0, %d]", step, b[i]["dead_units"], cfg.Model.Units)
		}
		for k := range b[i] {
			if strings.HasPrefix(k, "eval_") {
				delete(b[i], k)
			}
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("step %d: training metrics differ with evaluation:\n without %v\n with    %v", step, a[i], b[i])
		}
	}
	ca, _ := LoadCheckpoint(filepath.Join(plain, "checkpoints", rundir.CheckpointName(12)))
	cb, _ := LoadCheckpoint(filepath.Join(evald, "checkpoints", rundir.CheckpointName(12)))
	if ca == nil || cb == nil || !reflect.DeepEqual(ca.Params, cb.Params) {
		t.Error("final parameters differ with evaluation")
	}
}

func TestSmokeLowersLoss(t *testing.T) {
	requireRealModel(t)
	cfg, _ := Preset("smoke")
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, out)
	mean := func(rows []map[string]any) float64 {
		var s float64
		for _, r := range rows {
			s += r["loss"].(float64)
		}
		return s / float64(len(rows))
	}
	first, last := mean(m[:3]), mean(m[len(m)-3:])
	t.Logf("smoke: mean loss of the first 3 logged steps %.5g, last 3 %.5g", first, last)
	if !(last < first-0.1*abs(first)) {
		t.Errorf("smoke training did not lower the loss clearly: first %.5g, last %.5g", first, last)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", rundir.CheckpointName(cfg.Run.Steps))); err != nil {
		t.Error(err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestNaNStopsWithStepAndTerm(t *testing.T) {
	// Grad call 11 is step 6's second microbatch (two per step).
	nanAt := 11
	useFake(t, &nanAt)
	cfg := testConfig(t, 20)
	out := t.TempDir()
	res, err := Run(context.Background(), cfg, Options{Out: out})
	if err == nil {
		t.Fatal("run with a NaN loss succeeded")
	}
	for _, want := range []string{"step 6", "loss term ci is NaN", "microbatch 1", rundir.CheckpointName(4)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Term != "ci" {
		t.Errorf("error does not wrap a NonFiniteError for ci: %v", err)
	}
	if res.Step != 5 {
		t.Errorf("result step %d, want 5 (the last good step)", res.Step)
	}
	p, err := rundir.ResolveCheckpoint(out)
	if err != nil || filepath.Base(p) != rundir.CheckpointName(4) {
		t.Errorf("latest checkpoint %q (%v), want step 4's", p, err)
	}
	if _, err := LoadCheckpoint(p); err != nil {
		t.Error(err)
	}
}

func TestEngineLeavesStateOnNaN(t *testing.T) {
	nanAt := 1
	useFake(t, &nanAt)
	cfg := testConfig(t, 1)
	eng, err := NewEngine(EngineSpec{Device: MustParseDevice("cpu"), B: 3, T: 5, N: 4, H: 3, Loss: cfg.Loss, Opt: cfg.OptConfig(), Init: InitForTest(4, 3)})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := eng.Params()
	st0, _ := eng.OptState()
	b := testBatches(t, 2)
	if _, err := eng.Step(b, 1e-2); err == nil {
		t.Fatal("no error")
	}
	after, _ := eng.Params()
	st1, _ := eng.OptState()
	if !reflect.DeepEqual(before, after) || !reflect.DeepEqual(st0, st1) {
		t.Error("a failed step changed parameters or optimiser state")
	}
}

// A non-finite gradient with finite losses stops the step before the
// optimiser, naming the tensor and the microbatch: the engine scans the
// microbatches only when the averaged gradient's norm is not finite.
func TestEngineNamesNonFiniteGradient(t *testing.T) {
	for _, at := range []int{0, 1} {
		t.Run(fmt.Sprint("microbatch ", at), func(t *testing.T) { nonFiniteGradientCase(t, at) })
	}
}

func nonFiniteGradientCase(t *testing.T, at int) {
	infAt := at
	withFake(t, fakeModel{infGradAt: &infAt})
	cfg := testConfig(t, 1)
	eng, err := NewEngine(EngineSpec{Device: MustParseDevice("cpu"), B: 3, T: 5, N: 4, H: 3, Loss: cfg.Loss, Opt: cfg.OptConfig(), Init: InitForTest(4, 3)})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := eng.Params()
	_, err = eng.Step(testBatches(t, 2), 1e-2)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Term != "gradient of mlp.4.weight" || nf.Microbatch != at || !math.IsInf(nf.Value, -1) {
		t.Errorf("Inf in microbatch %d's gradient: error %v", at, err)
	}
	if after, _ := eng.Params(); !reflect.DeepEqual(before, after) {
		t.Errorf("Inf in microbatch %d's gradient: the step changed the parameters", at)
	}
	eng.Close()
}

func TestInterruptWritesCheckpoint(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 1000)
	cfg.Run.CheckpointEvery = 0
	out := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	// Cancel from the log writer once step 3 is reported, i.e. mid-run.
	w := &cancelAfter{cancel: cancel, marker: "step 3/"}
	_, err := Run(ctx, cfg, Options{Out: out, Log: w, LogInterval: 1})
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want an InterruptedError", err)
	}
	if ie.Step != 3 || !strings.Contains(err.Error(), "SIGTERM") || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("got %q at step %d", err, ie.Step)
	}
	ck, err := LoadCheckpoint(ie.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != 3 {
		t.Errorf("checkpoint at step %d, want 3", ck.Step)
	}
}

type cancelAfter struct {
	cancel func(error)
	marker string
	log    strings.Builder
}

func (c *cancelAfter) String() string { return c.log.String() }

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.log.Write(p)
	if strings.Contains(string(p), c.marker) {
		c.cancel(errors.New("SIGTERM"))
	}
	return len(p), nil
}

func TestKeepCheckpointsAndFreshOut(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 10)
	cfg.Run.CheckpointEvery, cfg.Run.KeepCheckpoints = 2, 2
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	names, _ := rundir.ListCheckpoints(filepath.Join(out, "checkpoints"))
	if want := []string{rundir.CheckpointName(8), rundir.CheckpointName(10)}; !reflect.DeepEqual(names, want) {
		t.Errorf("kept %v, want %v", names, want)
	}
	if b, err := os.ReadFile(filepath.Join(out, "config.yaml")); err != nil || !strings.Contains(string(b), "units: 4") {
		t.Errorf("config.yaml: %v %q", err, b)
	}
	// A second fresh run into the same directory is refused.
	_, err := Run(context.Background(), cfg, Options{Out: out})
	if err == nil || !strings.Contains(err.Error(), "already holds a training run") {
		t.Errorf("second run into the same directory: %v", err)
	}
	// Resuming at the final step has nothing to do.
	p, _ := rundir.ResolveCheckpoint(out)
	ck, _ := LoadCheckpoint(p)
	if _, err := Run(context.Background(), cfg, Options{Out: out, Resume: ck, ResumePath: p}); err == nil || !strings.Contains(err.Error(), "nothing to do") {
		t.Errorf("resume at the end: %v", err)
	}
}

func TestResumeTrimsLaterMetrics(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 10)
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	// Pretend the run crashed after step 10 but we resume from step 4.
	p, ck := loadAt(t, out, 4)
	if _, err := Run(context.Background(), cfg, Options{Out: out, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, out)
	if len(m) != 10 {
		t.Fatalf("%d metrics lines after resume, want 10", len(m))
	}
	for i, r := range m {
		if int(r["step"].(float64)) != i+1 {
			t.Fatalf("line %d has step %v", i+1, r["step"])
		}
	}
}

func TestBadDeviceFailsBeforeWriting(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 3)
	cfg.Run.Device = "cuda:0"
	out := filepath.Join(t.TempDir(), "run")
	_, err := Run(context.Background(), cfg, Options{Out: out})
	if err == nil || !strings.Contains(err.Error(), "CUDA") {
		t.Fatalf("error %v, want the no-CUDA message", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory was created before the device check")
	}
}

// TestZeroWeightTermsLogged: with a term's weight zero, metrics.jsonl still
// has its unweighted value (capacity is negative, not 0); a term undefined
// for the batch is null, and every term key is on every line.
func TestZeroWeightTermsLogged(t *testing.T) {
	requireRealModel(t)
	cfg, _ := Preset("smoke")
	cfg.Run.Steps, cfg.Run.LogEvery, cfg.Run.CheckpointEvery = 4, 2, 0
	cfg.Loss.LambdaCap = 0
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	lines := readMetrics(t, out)
	if len(lines) != 3 { // steps 1, 2, 4
		t.Fatalf("%d metrics lines, want 3", len(lines))
	}
	for _, m := range lines {
		c, ok := m["cap"].(float64)
		if !ok || !(c < 0) {
			t.Errorf("step %v: cap = %v with lambda_cap 0, want its (negative) unweighted value", m["step"], m["cap"])
		}
		for _, k := range []string{"sep", "inv", "ci"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("step %v: %s = %v, want a number", m["step"], k, m[k])
			}
		}
	}

	// sigma_x below any distance: no near pairs (inv) and no step short
	// enough (ci), so both are undefined; their weights zero, sep trains.
	// (Permuted trajectories all end at one point: near pairs.)
	cfg.Loss.LambdaCap, cfg.Loss.SigmaX, cfg.Data.Augment = 0.5, 1e-9, "none"
	cfg.Loss.LambdaInv, cfg.Loss.LambdaCI = 0, 0
	out = t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	for _, m := range readMetrics(t, out) {
		if m["inv"] != nil || m["ci"] != nil {
			t.Errorf("step %v: inv = %v, ci = %v, want null (no near pairs, no short steps)", m["step"], m["inv"], m["ci"])
		}
		if _, ok := m["sep"].(float64); !ok {
			t.Errorf("step %v: sep = %v, want a number", m["step"], m["sep"])
		}
	}
}

// TestResumeRecordsConfigHistory: a resume that changes settings appends
// its configuration and changes to config-history.yaml, and the first
// metrics line after it names the changes.
func TestResumeRecordsConfigHistory(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 8)
	cfg.Run.LogEvery = 2
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHistory(out)
	if err != nil || len(h) != 1 || h[0].Step != 0 || h[0].Event != "start" || h[0].Config.Optimizer.LR != cfg.Optimizer.LR {
		t.Fatalf("history of a fresh run: %+v, %v", h, err)
	}
	p := filepath.Join(out, "checkpoints", rundir.CheckpointName(8))
	ck, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	c := ck.Config
	c.Run.Steps, c.Optimizer.LR, c.Scheduler.Kind = 14, 1e-3, "none"
	if _, err := Run(context.Background(), c, Options{Out: out, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	h, err = ReadHistory(out)
	if err != nil || len(h) != 2 {
		t.Fatalf("history after a resume: %d entries, %v", len(h), err)
	}
	want := map[string]string{
		"optimizer.lr":   fmt.Sprintf("%v -> 0.001", cfg.Optimizer.LR),
		"scheduler.kind": cfg.Scheduler.Kind + " -> none",
		"run.steps":      "8 -> 14",
	}
	if e := h[1]; e.Step != 8 || e.Event != "resume" || e.From != p || !reflect.DeepEqual(e.Changes, want) || e.Config.Optimizer.LR != 1e-3 || e.Time == "" {
		t.Errorf("resume entry %+v, want step 8 and changes %v", e, want)
	}
	if h[0].Config.Optimizer.LR != cfg.Optimizer.LR {
		t.Errorf("the first entry lost the earlier lr: %v", h[0].Config.Optimizer.LR)
	}
	lines := readMetrics(t, out)
	var seen int
	for _, m := range lines {
		step := int64(m["step"].(float64))
		cc, has := m["config_changed"]
		switch {
		case step == 10:
			seen++
			if !has || m["resumed_at"] != float64(8) {
				t.Errorf("first line after the resume: %v, want resumed_at 8 and config_changed", m)
				break
			}
			got := cc.(map[string]any)
			if len(got) != 2 || got["optimizer.lr"] != want["optimizer.lr"] || got["scheduler.kind"] != want["scheduler.kind"] {
				t.Errorf("config_changed = %v, want optimizer.lr and scheduler.kind (run.steps left out)", got)
			}
		case has || m["resumed_at"] != nil:
			t.Errorf("step %d carries the resume's keys: %v", step, m)
		}
	}
	if seen != 1 {
		t.Errorf("no metrics line at step 10")
	}
	raw, err := os.ReadFile(filepath.Join(out, "config.yaml"))
	if err != nil || !strings.Contains(string(raw), "since step 8") {
		t.Errorf("config.yaml does not say it holds the configuration since step 8: %s", raw)
	}

	// A resume from an earlier checkpoint supersedes the later entries.
	p4, ck4 := loadAt(t, out, 4)
	if _, err := Run(context.Background(), ck4.Config, Options{Out: out, Resume: ck4, ResumePath: p4}); err != nil {
		t.Fatal(err)
	}
	h, err = ReadHistory(out)
	if err != nil || len(h) != 2 || h[1].Step != 4 || len(h[1].Changes) != 0 {
		t.Errorf("history after resuming from step 4: %+v, %v", h, err)
	}
}

// TestSlowRunNote: a run that would take more than a day says so in one
// line at its start, naming the preset meant for the device.
func TestSlowRunNote(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 1<<40) // microseconds a step, 10^12 steps: years
	cfg.Run.CheckpointEvery = 0
	ctx, cancel := context.WithCancelCause(context.Background())
	w := &cancelAfter{cancel: cancel, marker: "note:"}
	_, err := Run(ctx, cfg, Options{Out: t.TempDir(), Log: w, LogInterval: 1, Preset: "smoke"})
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want the interruption the note triggers", err)
	}
	if ie.Step != 2 {
		t.Errorf("the note came after step %d, want 2", ie.Step)
	}
	log := w.String()
	if n := strings.Count(log, "note:"); n != 1 || !strings.Contains(log, "--preset demo") || !strings.Contains(log, "on cpu") {
		t.Errorf("log %q: want one note naming the demo preset", log)
	}

	for _, c := range []struct {
		secs        float64
		steps       int64
		device      string
		preset      string
		want, avoid string
	}{
		{0.01, 1000, "cpu", "paper", "", ""},
		{5, 2000000, "cpu", "paper", "--preset demo", ""},
		{5, 2000000, "cpu", "demo", "about", "--preset demo"},
		{0.015, 10000000, "cuda:0 (NVIDIA H200)", "paper", "--preset grids", "demo"},
		{0.015, 10000000, "cuda:0", "grids", "on cuda:0", "--preset"},
	} {
		got := SlowRunNote(c.secs, c.steps, c.device, c.preset)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) || c.avoid != "" && strings.Contains(got, c.avoid) {
			t.Errorf("SlowRunNote(%g, %d, %q, %q) = %q", c.secs, c.steps, c.device, c.preset, got)
		}
	}
}

// TestInitialParams: a fresh run starts from model.init_from's tensors
// exactly, with the run's normalisation blocks, and from the random draw
// without it.
func TestInitialParams(t *testing.T) {
	c, _ := Preset("smoke")
	c.Model.Units, c.Model.Hidden = 8, 16
	p, err := InitialParams(&c)
	if err != nil {
		t.Fatal(err)
	}
	want := graph.InitParamsSpec(8, 16, c.Run.Seed, c.Model.InitSpec())
	if !slices.Equal(p.W2, want.W2) || !slices.Equal(p.G0, want.G0) {
		t.Fatal("without init_from the start is not the random draw")
	}
	src := graph.InitParams(8, 16, 99)
	graph.MaskBlocks(src, 2)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := SaveParams(path, src, nil); err != nil {
		t.Fatal(err)
	}
	c.Model.InitFrom, c.Model.Blocks, c.Model.BlockNorm = path, 2, true
	if p, err = InitialParams(&c); err != nil {
		t.Fatal(err)
	}
	for i, s := range src.Slices() {
		if !slices.Equal(p.Slices()[i], s) {
			t.Errorf("%s differs from the file's", graph.ParamNames[i])
		}
	}
	if p.NormBlocks != 2 {
		t.Errorf("norm blocks %d, want 2 (the run's block_norm)", p.NormBlocks)
	}
}

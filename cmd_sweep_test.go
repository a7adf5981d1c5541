package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/sweep"
	"github.com/gridgpu/gridgpu/train"
)

// sweepTest prepares a sweep test: children act as gridgpu, and the model
// must be available.
func sweepTest(t *testing.T) {
	t.Helper()
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	t.Setenv(sweepMainEnv, "1")
}

// analyzedTinySweep prepares a sweep test (sweepTest) of tinySweep with
// tinyAnalyze in a new temporary directory dir: it returns dir, the sweep
// file and the sweep directory to give as --out (dir/sw, not made yet).
func analyzedTinySweep(t *testing.T, run string) (dir, spec, out string) {
	t.Helper()
	sweepTest(t)
	dir = t.TempDir()
	return dir, tinySweep(t, dir, run, tinyAnalyze), filepath.Join(dir, "sw")
}

// tinySweep writes a sweep file of 2 variants x 2 seeds of a tiny model.
func tinySweep(t *testing.T, dir, run, analyze string) string {
	t.Helper()
	src := `base:
  preset: smoke
  config:
    model: {units: 8, hidden: 16}
    data: {batch_size: 4, seq_len: 6}
    run: {` + run + `}
grid:
  run.seed: [0, 1]
variants:
  baseline: {}
  no-capacity: {loss.lambda_cap: 0}
` + analyze
	return testfs.WriteFile(t, dir, "tiny.yaml", src)
}

const tinyAnalyze = "analyze: {arena: [1], bins: 10, trajectories: 4, steps: 50}\n"

var tinyNames = []string{"baseline_seed=0", "baseline_seed=1", "no-capacity_seed=0", "no-capacity_seed=1"}

// metricsNoTiming reads metrics.jsonl without the timing fields.
func metricsNoTiming(t *testing.T, runDir string) []map[string]any {
	t.Helper()
	out := testutil.MetricsObjects(t, runDir)
	for _, o := range out {
		delete(o, "steps_per_sec")
		delete(o, "elapsed")
	}
	return out
}

// sameRun requires two run directories to hold the same training: metrics
// apart from timing, and the final checkpoint's state.
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	ma, mb := metricsNoTiming(t, a), metricsNoTiming(t, b)
	if len(ma) == 0 || !reflect.DeepEqual(ma, mb) {
		t.Fatalf("metrics differ between %s (%d lines) and %s (%d lines)", a, len(ma), b, len(mb))
	}
	_, ca := loadLatest(t, a)
	_, cb := loadLatest(t, b)
	if ca.Step != cb.Step || !reflect.DeepEqual(ca.Params, cb.Params) || !reflect.DeepEqual(ca.Opt, cb.Opt) ||
		!reflect.DeepEqual(ca.SamplerState, cb.SamplerState) || !reflect.DeepEqual(ca.Scheduler, cb.Scheduler) {
		t.Errorf("final checkpoints of %s and %s differ", a, b)
	}
}

func readStatus(t *testing.T, runDir string) *sweep.Status {
	t.Helper()
	st, err := sweep.ReadStatus(runDir)
	if err != nil || st == nil {
		t.Fatalf("%s: status %v %v", runDir, st, err)
	}
	return st
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func TestSweepEndToEnd(t *testing.T) {
	dir, spec, out := analyzedTinySweep(t, "steps: 6, log_every: 2, checkpoint_every: 3")
	code, _, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--parallel", "2", "--devices", "cpu")
	if code != 0 {
		t.Fatalf("sweep: %d\n%s", code, stderr)
	}
	for _, name := range tinyNames {
		rd := filepath.Join(out, "runs", name)
		for _, f := range []string{"config.yaml", "metrics.jsonl", "checkpoints/latest", "checkpoints/step-00000006.safetensors", "report/summary.json", "report/index.html", "report/ratemaps_1m.png", sweep.StatusFile} {
			if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
				t.Errorf("%s: missing %s", name, f)
			}
		}
		if st := readStatus(t, rd); st.State != sweep.StateDone || st.Step != 6 || st.Index < 0 {
			t.Errorf("%s: status %+v", name, st)
		}
	}
	if !strings.Contains(stderr, "2 at once") || !strings.Contains(stderr, "summary: 4 done") {
		t.Errorf("sweep log:\n%s", stderr)
	}

	// A point's run directory is what gridgpu train makes of its config.
	rd := filepath.Join(out, "runs", "no-capacity_seed=1")
	ref := filepath.Join(dir, "ref")
	if code, _, stderr := runCLI(t, "train", "--config", filepath.Join(rd, sweep.ConfigFile), "--out", ref); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	sameRun(t, rd, ref)
	a, _ := os.ReadFile(filepath.Join(rd, "config.yaml"))
	b, _ := os.ReadFile(filepath.Join(ref, "config.yaml"))
	if !bytes.Equal(a, b) || !strings.Contains(string(a), "lambda_cap: 0\n") || !strings.Contains(string(a), "seed: 1\n") {
		t.Errorf("config.yaml of the sweep run:\n%s\nof train:\n%s", a, b)
	}

	// The summary.
	rows := readCSV(t, filepath.Join(out, "results.csv"))
	if len(rows) != 4 {
		t.Fatalf("%d rows in results.csv", len(rows))
	}
	for i, r := range rows {
		if r["name"] != tinyNames[i] || r["index"] != string(rune('0'+i)) || r["status"] != "done" || r["steps"] != "6" {
			t.Errorf("row %d: %v", i, r)
		}
		for _, col := range []string{"variant", "run.seed", "loss", "sep", "inv", "cap", "ci", "steps_per_sec", "grid_units_1m", "modules_1m", "periods_1m", "dead_units"} {
			if _, ok := r[col]; !ok {
				t.Errorf("results.csv lacks column %s", col)
			}
		}
		if r["loss"] == "" || r["grid_units_1m"] == "" {
			t.Errorf("row %d lacks numbers: %v", i, r)
		}
	}
	var js struct {
		Columns []string         `json:"columns"`
		Runs    []map[string]any `json:"runs"`
	}
	raw, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(raw, &js); err != nil || len(js.Runs) != 4 || js.Runs[2]["run.seed"] != 0.0 || js.Runs[2]["variant"] != "no-capacity" {
		t.Errorf("results.json: %v\n%s", err, raw)
	}
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, want := range []string{`href="runs/baseline_seed=0/report/index.html"`, `src="thumbs/baseline_seed=0.png"`,
		`src="runs/no-capacity_seed=1/report/ratemaps_1m.png"`, `src="runs/no-capacity_seed=1/report/histograms_1m.png"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	f, err := os.Open(filepath.Join(out, "thumbs", "baseline_seed=0.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("thumbnail: %v", err)
	}
	f.Close()

	// Again: everything is skipped.
	code, _, stderr = runCLI(t, "sweep", "--spec", spec, "--out", out)
	if code != 0 || strings.Count(stderr, "done before, skipped") != 4 || strings.Contains(stderr, "training") {
		t.Errorf("second sweep: %d\n%s", code, stderr)
	}

	// --collect rebuilds the same summary, from DIR/sweep.yaml without --spec.
	csv1, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	for _, f := range []string{"results.csv", "results.json", "index.html"} {
		os.Remove(filepath.Join(out, f))
	}
	code, _, stderr = runCLI(t, "sweep", "--out", out, "--collect")
	csv2, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	if code != 0 || !bytes.Equal(csv1, csv2) {
		t.Errorf("--collect: %d %s\n%s\nwant\n%s", code, stderr, csv2, csv1)
	}
	for _, f := range []string{"results.json", "index.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("--collect did not write %s", f)
		}
	}
}

func TestSweepListAndIndex(t *testing.T) {
	sweepTest(t)
	dir := t.TempDir()
	spec := tinySweep(t, dir, "steps: 4, log_every: 2, checkpoint_every: 2", "")
	code, stdout, stderr := runCLI(t, "sweep", "--spec", spec, "--list")
	if code != 0 {
		t.Fatal(stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "INDEX") {
		t.Fatalf("--list:\n%s", stdout)
	}
	for i, name := range tinyNames {
		f := strings.Fields(lines[i+1])
		if f[0] != string(rune('0'+i)) || f[1] != name {
			t.Errorf("--list line %d: %q", i+1, lines[i+1])
		}
	}
	if !strings.Contains(lines[3], "loss.lambda_cap=0 run.seed=0") {
		t.Errorf("--list lacks overrides: %q", lines[3])
	}
	_, stdout, _ = runCLI(t, "sweep", "--spec", spec, "--list", "--index", "3")
	if l := strings.Split(strings.TrimSpace(stdout), "\n"); len(l) != 2 || !strings.Contains(l[1], "no-capacity_seed=1") {
		t.Errorf("--list --index 3:\n%s", stdout)
	}
	for _, bad := range []string{"4", "-1"} {
		args := []string{"sweep", "--spec", spec, "--out", filepath.Join(dir, "x"), "--index", bad}
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, "--index "+bad+": the sweep has 4 runs, indices 0 to 3")
	}
	out := filepath.Join(dir, "sw")
	code, _, stderr = runCLI(t, "sweep", "--spec", spec, "--out", out, "--index", "2")
	if code != 0 {
		t.Fatal(stderr)
	}
	ents, _ := os.ReadDir(filepath.Join(out, "runs"))
	if len(ents) != 1 || ents[0].Name() != "no-capacity_seed=0" {
		t.Errorf("--index 2 made %v", ents)
	}
	if readStatus(t, filepath.Join(out, "runs", "no-capacity_seed=0")).State != sweep.StateDone {
		t.Error("run 2 not done")
	}
	if _, err := os.Stat(filepath.Join(out, "results.csv")); err == nil {
		t.Error("--index wrote the summary (concurrent tasks would race on it)")
	}
	// The summary of a partial sweep: one done, three incomplete.
	if code, _, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--collect"); code != 0 {
		t.Fatal(stderr)
	}
	rows := readCSV(t, filepath.Join(out, "results.csv"))
	if len(rows) != 4 || rows[2]["status"] != "done" || rows[0]["status"] != "incomplete" || rows[0]["steps"] != "0" {
		t.Errorf("partial summary: %v", rows)
	}
}

func TestSweepCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := testfs.WriteFile(t, dir, "bad.yaml", "base: {preset: smoke}\ngrid:\n  run.seeds: [0, 1]\n")
	typ := testfs.WriteFile(t, dir, "type.yaml", "base: {preset: smoke}\nvariants:\n  a: {loss.lambda_cap: none}\n")
	top := testfs.WriteFile(t, dir, "top.yaml", "base: {preset: smoke}\nanalyse: {bins: 3}\n")
	an := testfs.WriteFile(t, dir, "an.yaml", "base: {preset: smoke}\nanalyze: {checkpoint: x}\n")
	ok := tinySweep(t, dir, "steps: 4", "")
	// Sweep files are read as config files are (issue 19 F7, F8) and the
	// grid's size is checked before it is expanded (F17).
	fifo := testfs.FIFO(t, dir, "fifo.yaml")
	var seeds []string
	for i := 0; i < 1000; i++ {
		seeds = append(seeds, strconv.Itoa(i))
	}
	huge := testfs.WriteFile(t, dir, "huge.yaml", "base: {preset: smoke}\ngrid:\n  run.seed: ["+strings.Join(seeds, ",")+"]\n  optimizer.lr: ["+strings.Join(seeds, ",")+"]\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--spec", "/dev/zero", "--list"}, "sweep file /dev/zero is a device, not a regular file"},
		{[]string{"sweep", "--spec", fifo, "--list"}, "sweep file " + fifo + " is a named pipe (FIFO), not a regular file"},
		{[]string{"sweep", "--spec", huge, "--list"}, "sweep file " + huge + ": 1000000 runs (1000 values of run.seed x 1000 of optimizer.lr), over the limit of 10000 runs per sweep"},
		{[]string{"sweep", "--spec", huge, "--out", filepath.Join(dir, "huge")}, "1000000 runs"},
		{[]string{"sweep", "--spec", bad, "--list"}, `line 3: unknown config key "run.seeds"; close ones: run.seed`},
		{[]string{"sweep", "--spec", typ, "--list"}, `line 3: loss.lambda_cap must be a number, got "none"`},
		{[]string{"sweep", "--spec", top, "--list"}, `line 2: unknown top-level key "analyse"`},
		{[]string{"sweep", "--spec", an, "--list"}, `unknown analyze flag "checkpoint"; allowed: arena, bins`},
		{[]string{"sweep", "--spec", filepath.Join(dir, "none.yaml"), "--list"}, "none.yaml"},
		{[]string{"sweep", "--list"}, "missing --spec"},
		{[]string{"sweep", "--spec", ok}, "missing --out"},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--emit", "pbs"}, `--emit "pbs": choose slurm or k8s`},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--list", "--collect"}, "do not mix"},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--devices", "gpu0"}, `--devices: "gpu0" is not a device`},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--devices", "cpu,cuda:x"}, `--devices: "cuda:x" is not a device`},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--devices", "cuda, cuda:0"}, `--devices: cuda:0 listed twice`},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--emit", "slurm", "--devices", "cuda:x"}, `--devices: "cuda:x" is not a device; give cpu or cuda`},
		{[]string{"sweep", "--spec", ok, "--out", dir, "--parallel", "0"}, "--parallel 0"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
}

func TestSweepFailedRunIsRecorded(t *testing.T) {
	sweepTest(t)
	for _, b := range train.Backends() {
		if b == "cuda" {
			t.Skip("a CUDA build may have a GPU: the failing run would not fail")
		}
	}
	dir := t.TempDir()
	spec := testfs.WriteFile(t, dir, "f.yaml", `base:
  preset: smoke
  config: {model: {units: 8, hidden: 16}, data: {batch_size: 4, seq_len: 6}, run: {steps: 4}}
variants:
  gpu: {run.device: "cuda:0"}
  cpu: {}
`)
	out := filepath.Join(dir, "sw")
	args := []string{"sweep", "--spec", spec, "--out", out}
	code, _, stderr := runCLI(t, args...)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || !strings.Contains(lines[len(lines)-1], "gridgpu: sweep: 1 of 2 runs failed (gpu)") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	st := readStatus(t, filepath.Join(out, "runs", "gpu"))
	if st.State != sweep.StateFailed || st.Phase != "train" || !strings.Contains(st.Error, "CUDA") || !strings.HasSuffix(st.Log, sweep.TrainLog) {
		t.Errorf("status of the failed run: %+v", st)
	}
	if readStatus(t, filepath.Join(out, "runs", "cpu")).State != sweep.StateDone {
		t.Error("the other run did not go on")
	}
	rows := readCSV(t, filepath.Join(out, "results.csv"))
	if rows[0]["status"] != "failed" || !strings.Contains(rows[0]["error"], "CUDA") || rows[1]["status"] != "done" {
		t.Errorf("summary: %v", rows)
	}
	// Running again retries the failed run (and fails it again).
	code, _, stderr = runCLI(t, args...)
	if code != 1 || !strings.Contains(stderr, "[1/2] gpu: training") || readStatus(t, filepath.Join(out, "runs", "gpu")).Attempts != 2 {
		t.Errorf("second attempt: %d\n%s", code, stderr)
	}
}

// TestSweepInterruptAndContinue stops a sweep with SIGINT in the middle of
// its first run, runs it again, and requires every run to be done and the
// interrupted one to equal an uninterrupted training exactly.
func TestSweepInterruptAndContinue(t *testing.T) {
	dir, spec, out := analyzedTinySweep(t, "steps: 1000, log_every: 50, checkpoint_every: 50")
	exe := testBinary(t)
	cmd := exec.Command(exe, "sweep", "--spec", spec, "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(out, "runs", tinyNames[0])
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(first, "checkpoints", rundir.LatestFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint after 60 s:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted sweep: %v\n%s", err, stderr.String())
	}
	last := strings.TrimSpace(stderr.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "gridgpu: sweep interrupted by SIGINT: 0 of 4 runs done, 1 stopped with a checkpoint, 3 not started; continue with: gridgpu sweep --spec "+spec+" --out "+out) {
		t.Errorf("last line: %q", last)
	}
	st := readStatus(t, first)
	if st.State != sweep.StateInterrupted || st.Step <= 0 || st.Step >= 1000 {
		t.Fatalf("status after the interruption: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(out, "runs", tinyNames[1])); err == nil {
		t.Error("a second run started after the signal")
	}
	rows := readCSV(t, filepath.Join(out, "results.csv"))
	if rows[0]["status"] != "incomplete" || rows[0]["steps"] == "0" {
		t.Errorf("summary after the interruption: %v", rows[0])
	}

	code, _, errText := runCLI(t, "sweep", "--spec", spec, "--out", out)
	if code != 0 || !strings.Contains(errText, tinyNames[0]+": training on cpu (resuming from step ") {
		t.Fatalf("continued sweep: %d\n%s", code, errText)
	}
	for _, name := range tinyNames {
		if s := readStatus(t, filepath.Join(out, "runs", name)); s.State != sweep.StateDone || s.Step != 1000 {
			t.Errorf("%s: %+v", name, s)
		}
	}
	ref := filepath.Join(dir, "ref")
	if code, _, e := runCLI(t, "train", "--config", filepath.Join(first, sweep.ConfigFile), "--out", ref); code != 0 {
		t.Fatal(e)
	}
	sameRun(t, first, ref)
}

// TestSweepEmit checks the Slurm script and the Kubernetes Job, and runs
// their task commands here with an index substituted (and the CPU for the
// GPU).
func TestSweepEmit(t *testing.T) {
	dir, spec, out := analyzedTinySweep(t, "steps: 4, log_every: 2, checkpoint_every: 2")
	exe := testBinary(t)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(exe, filepath.Join(bin, "gridgpu")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	runs := func() []string {
		var names []string
		ents, _ := os.ReadDir(filepath.Join(out, "runs"))
		for _, e := range ents {
			if st, _ := sweep.ReadStatus(filepath.Join(out, "runs", e.Name())); st != nil && st.State == sweep.StateDone {
				names = append(names, e.Name())
			}
		}
		return names
	}

	// The tiny sweep runs on the CPU: no GPU asked for, none passed.
	code, script, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--emit", "slurm", "--parallel", "2", "--time", "2:00:00", "--cpus", "1")
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"#!/bin/bash\n", "\n#SBATCH --array=0-3%2\n", "\n#SBATCH --time=2:00:00\n", "\n#SBATCH --cpus-per-task=1\n",
		"\nexec gridgpu sweep --spec " + spec + " --out " + out + ` --index "$SLURM_ARRAY_TASK_ID"` + "\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("Slurm script lacks %q:\n%s", want, script)
		}
	}
	for _, bad := range []string{"gres", "--devices", "cuda"} {
		if strings.Contains(script, bad) {
			t.Errorf("the Slurm script of a CPU sweep holds %q:\n%s", bad, script)
		}
	}
	// Asked for CUDA: one GPU per task, the task's run on it.
	code, gpuScript, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--emit", "slurm", "--devices", "cuda")
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"\n#SBATCH --gres=gpu:1\n", ` --index "$SLURM_ARRAY_TASK_ID" --devices cuda:0` + "\n"} {
		if !strings.Contains(gpuScript, want) {
			t.Errorf("Slurm script of a CUDA sweep lacks %q:\n%s", want, gpuScript)
		}
	}
	local := filepath.Join(dir, "task.sh")
	os.WriteFile(local, []byte(script), 0o755)
	sh := exec.Command("bash", local)
	// The task's thread count comes from Slurm's cores per task.
	sh.Env = append(env, "SLURM_ARRAY_TASK_ID=2", "SLURM_CPUS_PER_TASK=1", "GOMAXPROCS=2")
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("Slurm task: %v\n%s", err, b)
	} else if !strings.Contains(string(b), "GOMAXPROCS=1)") {
		t.Errorf("the Slurm task did not run with SLURM_CPUS_PER_TASK=1 threads:\n%s", b)
	}
	if got := runs(); !reflect.DeepEqual(got, []string{"no-capacity_seed=0"}) {
		t.Errorf("Slurm task 2 ran %v", got)
	}
	// A sweep with runs on the CPU and on CUDA has no single kind of task.
	mixed := testfs.WriteFile(t, dir, "mixed.yaml", "base: {preset: smoke}\nvariants:\n  cpu: {}\n  gpu: {run.device: 'cuda:0'}\n")
	if code, _, stderr := runCLI(t, "sweep", "--spec", mixed, "--out", out, "--emit", "slurm"); code == 0 || !strings.Contains(stderr, "--devices cpu or --devices cuda") {
		t.Errorf("a mixed sweep: status %d, %s", code, stderr)
	}

	code, manifest, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--emit", "k8s", "--image", "registry.example/gridgpu:1", "--pvc", "sweep-data", "--parallel", "3")
	if code != 0 {
		t.Fatal(stderr)
	}
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Parallelism    int
			Template       struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Image        string
						WorkingDir   string `yaml:"workingDir"`
						Command      []string
						Args         []string
						Resources    struct{ Limits map[string]string }
						VolumeMounts []struct {
							Name      string
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					}
					Volumes []struct {
						Name string
						PVC  struct {
							ClaimName string `yaml:"claimName"`
						} `yaml:"persistentVolumeClaim"`
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(manifest), &job); err != nil {
		t.Fatalf("manifest is not YAML: %v\n%s", err, manifest)
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Metadata.Name != "gridgpu-sweep-tiny" || s.CompletionMode != "Indexed" ||
		s.Completions != 4 || s.Parallelism != 3 || len(s.Template.Spec.Containers) != 1 || len(s.Template.Spec.Volumes) != 1 {
		t.Fatalf("manifest:\n%s", manifest)
	}
	c, v := s.Template.Spec.Containers[0], s.Template.Spec.Volumes[0]
	if c.Image != "registry.example/gridgpu:1" || len(c.Resources.Limits) != 0 || v.PVC.ClaimName != "sweep-data" ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || c.VolumeMounts[0].MountPath != "/sweeps" || c.WorkingDir != "/sweeps" {
		t.Errorf("container or volume:\n%s", manifest)
	}
	wantArgs := []string{"sweep", "--spec", spec, "--out", out, "--index", "$(JOB_COMPLETION_INDEX)"}
	if !reflect.DeepEqual(c.Command, []string{"gridgpu"}) || !reflect.DeepEqual(c.Args, wantArgs) {
		t.Fatalf("command %q args %q", c.Command, c.Args)
	}
	if !strings.Contains(manifest, "name: GOMAXPROCS\n") || !strings.Contains(manifest, "resource: requests.cpu\n") {
		t.Errorf("the pods' thread count does not follow their CPU request:\n%s", manifest)
	}
	code, gpuManifest, stderr := runCLI(t, "sweep", "--spec", spec, "--out", out, "--emit", "k8s", "--devices", "cuda:0")
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(gpuManifest, "nvidia.com/gpu: \"1\"") || !strings.Contains(gpuManifest, "- --devices\n") {
		t.Errorf("the Job of a CUDA sweep asks for no GPU or passes no device:\n%s", gpuManifest)
	}
	var args []string
	for _, a := range c.Args {
		args = append(args, strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", "1"))
	}
	pod := exec.Command(filepath.Join(bin, c.Command[0]), args...) // the image has gridgpu on its PATH
	pod.Env = env
	pod.Dir = t.TempDir()
	if b, err := pod.CombinedOutput(); err != nil {
		t.Fatalf("k8s task: %v\n%s", err, b)
	}
	if got := runs(); !reflect.DeepEqual(got, []string{"baseline_seed=1", "no-capacity_seed=0"}) {
		t.Errorf("after k8s task 1, done runs are %v", got)
	}
}

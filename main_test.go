package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

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

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("model:\n  unit: 3\n"), 0o644)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--preset", "smoke", "--device", "cuda:0", "--out", filepath.Join(dir, "a")}, "built without CUDA support"},
		{[]string{"train", "--preset", "smoke", "--device", "tpu", "--out", filepath.Join(dir, "a")}, `run.device (--device) = tpu: must be "cpu" or "cuda:N"`},
		{[]string{"train", "--preset", "smoke", "--lr", "-1", "--out", filepath.Join(dir, "a")}, "optimizer.lr (--lr) = -1"},
		{[]string{"train", "--preset", "smoke", "--augment", "mirror", "--out", filepath.Join(dir, "a")}, "data.augment (--augment) = mirror"},
		{[]string{"train", "--preset", "nope", "--out", filepath.Join(dir, "a")}, `unknown preset "nope"`},
		{[]string{"train", "--preset", "smoke"}, "no output directory: pass --out DIR"},
		{[]string{"train", "--frobnicate"}, "unknown flag --frobnicate"},
		{[]string{"train", "--steps", "many", "--out", dir}, `invalid value "many" for flag --steps`},
		{[]string{"train", "--config", badYAML, "--out", dir}, `unknown key "unit" in section model`},
		{[]string{"train", "--config", filepath.Join(dir, "missing.yaml"), "--out", dir}, "missing.yaml"},
		{[]string{"train", "--resume", filepath.Join(dir, "missing.safetensors")}, "missing.safetensors: no such file"},
		{[]string{"train", "--resume", dir, "--preset", "smoke"}, "--preset and --resume do not mix"},
		{[]string{"train", "--preset", "smoke", "--out", notDir}, "exists and is not a directory"},
		{[]string{"train", "stray"}, "train takes no arguments"},
		{[]string{"loss"}, "missing --checkpoint and --batch"},
		{[]string{"loss", "--checkpoint", notDir, "--batch", notDir}, "not a valid safetensors file"},
		{[]string{"export", "--checkpoint", notDir}, "missing --out"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	cudaBuilt := false
	for _, b := range train.Backends() {
		cudaBuilt = cudaBuilt || b == "cuda"
	}
	for _, c := range cases {
		if cudaBuilt && c.want == "built without CUDA support" {
			continue // a CUDA build answers with its own device error
		}
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Error("a failed train invocation created its output directory")
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(out, "gridgpu ") || !strings.Contains(out, "devices: cpu") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestTrainLossExport runs the whole CLI path on a tiny model: train,
// resume, loss on a model-only checkpoint, export.
func TestTrainLossExport(t *testing.T) {
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Skipf("graph.Model not available: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("model:\n  units: 8\n  hidden: 16\ndata:\n  batch_size: 4\n  seq_len: 6\n"), 0o644)
	// Precedence: the file sets units 8, the flag overrides hidden.
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--config", cfg, "--hidden", "12", "--steps", "6", "--checkpoint-every", "3", "--out", out)
	if code != 0 {
		t.Fatalf("train: %d %s", code, stderr)
	}
	text, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	for _, want := range []string{"units: 8", "hidden: 12", "batch_size: 4", "lr: 0.003", "steps: 6"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, text)
		}
	}
	// Resume from the directory to 9 steps.
	code, _, stderr = runCLI(t, "train", "--resume", out, "--steps", "9")
	if code != 0 {
		t.Fatalf("resume: %d %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming") {
		t.Errorf("resume log: %s", stderr)
	}
	ck := filepath.Join(out, "checkpoints", train.CheckpointName(9))
	// A model-only copy, as another program would write it.
	p, _, err := train.LoadParams(ck)
	if err != nil {
		t.Fatal(err)
	}
	var ts []data.Tensor
	for i, s := range p.Slices() {
		ts = append(ts, data.Tensor{Name: graph.ParamNames[i], Shape: graph.Shapes(p.N, p.H)[i], F32: s})
	}
	modelOnly := filepath.Join(dir, "model.safetensors")
	if err := data.WriteSafetensors(modelOnly, ts, nil); err != nil {
		t.Fatal(err)
	}
	s, _ := data.NewSampler(5, 3, 7, "permute", 0.15)
	b := s.Next()
	batch := filepath.Join(dir, "batch.npz")
	if err := data.WriteNPZ(batch, []data.Array{{Name: "velocities", Shape: []int{3, 7, 2}, F32: b.Vel}}); err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]any{}
	for _, args := range [][]string{
		{"loss", "--checkpoint", ck, "--batch", batch},
		{"loss", "--checkpoint", modelOnly, "--batch", batch, "--lambda-ci", "0.01"},
		{"loss", "--checkpoint", modelOnly, "--batch", batch, "--lambda-ci", "0", "--grad"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err != nil {
			t.Fatalf("%v: output %q is not JSON: %v", args, stdout, err)
		}
		for _, k := range []string{"loss", "sep", "inv", "cap", "ci"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%v: output lacks %q: %s", args, k, stdout)
			}
		}
		if m["N"].(float64) != 8 || m["H"].(float64) != 12 || m["B"].(float64) != 3 || m["T"].(float64) != 7 {
			t.Errorf("%v: sizes in %s", args, stdout)
		}
		results[strings.Join(args[1:], " ")] = m
	}
	full := results["--checkpoint "+ck+" --batch "+batch]
	only := results["--checkpoint "+modelOnly+" --batch "+batch+" --lambda-ci 0.01"]
	noCI := results["--checkpoint "+modelOnly+" --batch "+batch+" --lambda-ci 0 --grad"]
	// Same weights, same loss settings (smoke's lambda_ci 0.01 given as a flag).
	if full["loss"] != only["loss"] {
		t.Errorf("full and model-only checkpoints give %v and %v", full["loss"], only["loss"])
	}
	want := only["loss"].(float64) - 0.01*only["ci"].(float64)
	if got := noCI["loss"].(float64); abs(got-want) > 1e-6*abs(want)+1e-9 {
		t.Errorf("--lambda-ci 0 gives loss %v, want %v", got, want)
	}
	if _, ok := noCI["grad_norm"].(float64); !ok {
		t.Errorf("--grad output lacks grad_norm")
	}

	npz := filepath.Join(dir, "model.npz")
	code, _, stderr = runCLI(t, "export", "--checkpoint", ck, "--out", npz)
	if code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	arrays, err := data.ReadNPZ(npz)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range graph.ParamNames {
		a, ok := arrays[n]
		if !ok || len(a.F32) != len(p.Slices()[i]) || a.F32[0] != p.Slices()[i][0] {
			t.Errorf("export: tensor %s wrong or missing", n)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestREADMEDocumentsEveryFlag keeps the configuration reference complete.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range train.Fields() {
		if !strings.Contains(string(readme), "| `"+f.Path+"` | `--"+f.Flag+"` |") {
			t.Errorf("README.md's configuration table lacks %s (--%s)", f.Path, f.Flag)
		}
	}
}

// TestLossMatchesTorchReference checks the loss command's contract (SPEC
// section 7) on a model-only checkpoint and batch written by the
// independent PyTorch implementation, against its float64 losses and
// gradient norms.
func TestLossMatchesTorchReference(t *testing.T) {
	dir := filepath.Join("testdata", "torch-tiny")
	refText, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Skipf("no reference case: %v", err)
	}
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Skipf("graph.Model not available: %v", err)
	}
	var ref struct {
		Loss, Sep, Inv, Cap, CI float64
		GradNorm                map[string]float64 `json:"grad_norm"`
	}
	if err := json.Unmarshal(refText, &ref); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "loss", "--checkpoint", filepath.Join(dir, "model.safetensors"), "--batch", filepath.Join(dir, "batch.npz"), "--grad")
	if code != 0 {
		t.Fatalf("loss: %d %s", code, stderr)
	}
	var got struct {
		Loss, Sep, Inv, Cap, CI float64
		GradNorms               map[string]float64 `json:"grad_norms"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	// float32 sums over P = 320 states: 1e-5 relative for losses, 1e-4 for
	// gradient norms (as the graph package's own cross-check).
	check := func(what string, g, w float64) {
		tol := 1e-5
		if strings.HasPrefix(what, "grad") {
			tol = 1e-4
		}
		if abs(g-w) > tol*abs(w)+1e-7 {
			t.Errorf("%s = %.9g, PyTorch float64 reference %.9g", what, g, w)
		}
	}
	check("loss", got.Loss, ref.Loss)
	check("sep", got.Sep, ref.Sep)
	check("inv", got.Inv, ref.Inv)
	check("cap", got.Cap, ref.Cap)
	check("ci", got.CI, ref.CI)
	for name, w := range ref.GradNorm {
		check("grad norm of "+name, got.GradNorms[name], w)
	}
}

package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testfs"
)

// analyze, loss and states given what 'gridgpu export' writes say that it
// is an export and which file to pass instead: the checkpoint of the run
// directory it sits in, when there is one.
func TestExportedModelIsNotACheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "runs", "demo")
	if err := os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "checkpoints", "latest"), []byte("step-8000.safetensors\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var arrays []data.Array
	for _, n := range graph.ParamNames {
		arrays = append(arrays, data.Array{Name: n, Shape: []int{1}, F32: []float32{0}})
	}
	npz := filepath.Join(run, "model.npz")
	if err := data.WriteNPZ(npz, arrays); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "model.npz") // an export outside any run
	if err := data.WriteNPZ(loose, arrays); err != nil {
		t.Fatal(err)
	}
	pt := filepath.Join(dir, "model.pt") // a zip that is not an .npz of the model
	f, err := os.Create(pt)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	zw.Create("archive/data.pkl")
	zw.Close()
	f.Close()

	ck := filepath.Join(run, "checkpoints", "step-8000.safetensors")
	report := filepath.Join(dir, "out", "report")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--checkpoint", npz, "--out", report},
			"--checkpoint " + npz + " is a model exported by 'gridgpu export' (NumPy .npz, for Python), not a checkpoint: pass the run's checkpoint " + ck + " (or the run directory " + run + ")"},
		{[]string{"loss", "--checkpoint", npz, "--batch", npz}, "is a model exported by 'gridgpu export'"},
		{[]string{"states", "--checkpoint", npz, "--out", filepath.Join(dir, "s.npz")}, "pass the run's checkpoint " + ck},
		{[]string{"analyze", "--checkpoint", loose, "--out", report},
			"is a model exported by 'gridgpu export' (NumPy .npz, for Python), not a checkpoint: pass the checkpoint it was exported from (RUN/checkpoints/step-N.safetensors, or the run directory RUN)"},
		{[]string{"analyze", "--checkpoint", pt, "--out", report}, "is a PyTorch file (as 'gridgpu export' writes), not a checkpoint"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Error("a refused analyze left the parent directory of its --out behind")
	}
}

// The first minute (scripts/demo.sh, and the analyze commands of README.md
// and zoo/README.md) writes only under runs/, which git ignores; analyze
// makes the missing parents of its --out, so that runs/NAME/report works in
// a fresh clone.
func TestFirstMinuteWritesUnderRuns(t *testing.T) {
	ignore, err := os.ReadFile(".gitignore")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^/?runs/?$`).Match(ignore) {
		t.Error(".gitignore does not ignore runs/")
	}
	demo, err := os.ReadFile("scripts/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(demo), "OUT=${OUT:-runs/") {
		t.Error("scripts/demo.sh: OUT does not default to a directory under runs/")
	}
	outArg := regexp.MustCompile(`--out[ =]("?[^ "]+"?)`)
	for _, m := range outArg.FindAllStringSubmatch(string(demo), -1) {
		if !strings.HasPrefix(m[1], `"$OUT`) {
			t.Errorf("scripts/demo.sh writes --out %s, outside $OUT", m[1])
		}
	}
	for _, doc := range []string{"README.md", "zoo/README.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(text), "\n") {
			// Commands of code blocks that name a real file (not F or DIR).
			if !strings.HasPrefix(line, "    ") || !strings.Contains(line, "gridgpu ") {
				continue
			}
			for _, m := range outArg.FindAllStringSubmatch(line, -1) {
				if p := m[1]; !strings.HasPrefix(p, "runs/") && !strings.HasPrefix(p, "/runs/") && strings.ToUpper(p[:1]) != p[:1] {
					t.Errorf("%s: %q writes --out %s, outside runs/", doc, strings.TrimSpace(line), p)
				}
			}
		}
	}

	// analyze makes runs/zoo-demo/ for runs/zoo-demo/report (checked on a
	// checkpoint it then refuses, so that nothing is analysed).
	dir := t.TempDir()
	bad := testfs.WriteFile(t, dir, "bad.safetensors", "x")
	report := filepath.Join(dir, "runs", "zoo-demo", "report")
	code, _, stderr := runCLI(t, "analyze", "--checkpoint", bad, "--out", report)
	if code == 0 || strings.Contains(stderr, "does not exist; create it first") {
		t.Errorf("analyze into a missing runs/zoo-demo: exit status %d, %s", code, stderr)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// analysisCLI runs the program in-process.
func analysisCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"gridgpu"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// modelFile writes a model-only safetensors file of an untrained network.
func modelFile(t *testing.T, dir string) string {
	t.Helper()
	p := graph.InitParams(8, 16, 3)
	var ts []data.Tensor
	for i, s := range p.Slices() {
		ts = append(ts, data.Tensor{Name: graph.ParamNames[i], Shape: graph.Shapes(p.N, p.H)[i], F32: s})
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := data.WriteSafetensors(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAnalyzeAndGridscoreCLI(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	out := filepath.Join(dir, "report")
	code, _, stderr := analysisCLI("analyze", "--checkpoint", ck, "--out", out, "--arena", "1,1.5", "--bins", "10", "--trajectories", "6", "--steps", "100", "--seed", "4")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "walking") || !strings.Contains(stderr, "wrote "+out) {
		t.Errorf("no progress lines on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Error("carriage returns in progress written to a non-terminal")
	}
	for _, f := range []string{"summary.json", "ratemaps.npz", "index.html", "ratemaps_1.5m.png", "sacs_1m.png", "distance.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	code, stdout, stderr := analysisCLI("gridscore", "--ratemaps", filepath.Join(out, "ratemaps.npz"), "--name", "ratemaps_1.5m")
	if code != 0 {
		t.Fatalf("gridscore: exit %d\n%s", code, stderr)
	}
	var res struct {
		BinSize   float64 `json:"bin_size"`
		ScaleUnit string  `json:"scale_unit"`
		Maps      []map[string]*float64
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("gridscore output is not JSON: %v\n%s", err, stdout)
	}
	if len(res.Maps) != 8 || res.ScaleUnit != "m" || math.Abs(res.BinSize-0.1) > 1e-12 {
		t.Errorf("gridscore: %d maps, unit %q, bin size %g", len(res.Maps), res.ScaleUnit, res.BinSize)
	}
	for _, m := range res.Maps {
		for _, k := range []string{"score60", "score90", "scale", "orientation"} {
			if _, ok := m[k]; !ok {
				t.Errorf("map lacks %s: %v", k, m)
			}
		}
	}
	// Running again into the same directory needs --overwrite.
	code, _, stderr = analysisCLI("analyze", "--checkpoint", ck, "--out", out, "--arena", "1", "--bins", "10", "--trajectories", "2", "--steps", "20")
	if code == 0 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("non-empty --out: exit %d, %q", code, stderr)
	}
}

func TestAnalysisCLIErrors(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	o := filepath.Join(dir, "o")
	npz := filepath.Join(dir, "x.npz")
	if err := data.WriteNPZ(npz, []data.Array{{Name: "other", Shape: []int{2}, F32: []float32{1, 2}}, {Name: "ratemaps", Shape: []int{4}, F32: []float32{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--out", o}, "missing --checkpoint"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--arena", "1,x"}, `--arena: "x" is not a number`},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--arena", "0"}, "--arena: side 0 m"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--bins", "1"}, "--bins"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--steps", "0"}, "--steps"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--trajectories", "-3"}, "--trajectories"},
		{[]string{"analyze", "--checkpoint", ck, "--out", ck}, "not a directory"},
		{[]string{"analyze", "--checkpoint", filepath.Join(dir, "none"), "--out", o}, "none"},
		{[]string{"gridscore", "--ratemaps", npz, "--name", "nope"}, `no array "nope" (it holds: other, ratemaps)`},
		{[]string{"gridscore", "--ratemaps", npz}, "want [K,nx,ny]"},
		{[]string{"gridscore", "--ratemaps", npz, "--bin-size", "-1"}, "--bin-size"},
		{[]string{"gridscore", "--ratemaps", filepath.Join(dir, "none.npz")}, "none.npz"},
	} {
		code, _, stderr := analysisCLI(c.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "gridgpu: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want one 'gridgpu:' line containing %q", c.args, code, stderr, c.want)
		}
		if strings.Contains(stderr, "goroutine") {
			t.Errorf("%v: stack trace", c.args)
		}
	}
	if _, err := os.Stat(o); err == nil {
		t.Error("a failed analyze created its output directory")
	}
}

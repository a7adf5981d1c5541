package main

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/testpy"
)

func TestStatesCLI(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	out := filepath.Join(dir, "s.npz")
	args := []string{"states", "--checkpoint", ck, "--out", out, "--arena", "1.5", "--bins", "10", "--trajectories", "6", "--steps", "100", "--samples", "300", "--start", "uniform", "--burn-in", "20"}
	code, _, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("states: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "wrote "+out) {
		t.Errorf("stderr:\n%s", stderr)
	}
	arrs, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"states": {300, 8}, "positions": {300, 2}, "modules": {8}, "modules_sac": {8}, "spacing": {8}, "orientation": {8}, "arena_m": {}}
	for name, shape := range want {
		a, ok := arrs[name]
		if !ok {
			t.Errorf("no array %q", name)
			continue
		}
		if len(a.Shape) != len(shape) {
			t.Errorf("%s: shape %v, want %v", name, a.Shape, shape)
			continue
		}
		for i := range shape {
			if a.Shape[i] != shape[i] {
				t.Errorf("%s: shape %v, want %v", name, a.Shape, shape)
			}
		}
	}
	for _, v := range arrs["positions"].Float64s() {
		if v < -0.75 || v > 0.75 {
			t.Fatalf("position %g outside the 1.5 m arena", v)
		}
	}
	for _, v := range arrs["modules"].Float64s() {
		if v != -1 && v != float64(int(v)) {
			t.Fatalf("module label %g", v)
		}
	}
	// Refusals: an existing file without --overwrite, a name without .npz.
	if code, _, stderr := runCLI(t, args...); code != 2 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("existing --out: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "states", "--checkpoint", ck, "--out", filepath.Join(dir, "s.txt")); code != 2 || !strings.Contains(stderr, ".npz") {
		t.Errorf("--out s.txt: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "states", "--checkpoint", ck, "--out", filepath.Join(dir, "t.npz"), "--samples", "1"); code != 2 || !strings.Contains(stderr, "--samples") {
		t.Errorf("--samples 1: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.npz")); err == nil {
		t.Error("a refused run wrote its file")
	}
}

// torusNPZ writes S.npz as the states command does, for one module of 12
// units at 2000 random positions in a 2 m arena: plane waves along two
// lattice directions 60 degrees apart (0.5 m lattice, 10 degrees), unit j
// cos(k_(j mod 2).x - 2 pi j/12) plus noise 0.05, whose states lie on a
// torus; or (noise) position-independent noise.
func torusNPZ(t *testing.T, path string, noise bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	const n, K, period = 12, 2000, 0.5
	k := 4 * math.Pi / (math.Sqrt(3) * period)
	states := make([]float32, K*n)
	pos := make([]float32, 2*K)
	for i := 0; i < K; i++ {
		x, y := 2*rng.Float64()-1, 2*rng.Float64()-1
		pos[2*i], pos[2*i+1] = float32(x), float32(y)
		for u := 0; u < n; u++ {
			th := (40 + 60*float64(u%2)) * math.Pi / 180
			v := math.Cos(k*(math.Cos(th)*x+math.Sin(th)*y)-2*math.Pi*float64(u)/n) + 0.05*rng.NormFloat64()
			if noise {
				v = rng.Float64()
			}
			states[i*n+u] = float32(v)
		}
	}
	if err := data.WriteNPZ(path, []data.Array{
		{Name: "states", Shape: []int{K, n}, F32: states},
		{Name: "positions", Shape: []int{K, 2}, F32: pos},
		{Name: "modules", Shape: []int{n}, F64: make([]float64, n)},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDocsGudhiSnippet runs docs/analysis.md's GUDHI snippet, verbatim, on a
// hand-made torus (Betti numbers 1, 2, 1) and on noise (1, 0, 0), with
// Debian's python3-gudhi (scripts/setup.sh installs it; see internal/testpy).
func TestDocsGudhiSnippet(t *testing.T) {
	code := readmeSnippet(t, "gudhi")
	py := testpy.Python3(t, "gudhi", "numpy")
	for _, c := range []struct {
		noise bool
		want  string
	}{{false, "Betti numbers: [1, 2, 1]"}, {true, "Betti numbers: [1, 0, 0]"}} {
		dir := t.TempDir()
		torusNPZ(t, filepath.Join(dir, "S.npz"), c.noise)
		out := testpy.Run(t, py, dir, "-c", code)
		if !strings.Contains(out, c.want) {
			t.Errorf("noise=%v: snippet printed %q, want %q", c.noise, strings.TrimSpace(out), c.want)
		}
	}
}

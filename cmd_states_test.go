package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
)

func TestStatesCLI(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	out := filepath.Join(dir, "s.npz")
	args := []string{"states", "--checkpoint", ck, "--out", out, "--arena", "1.5", "--bins", "10", "--trajectories", "6", "--steps", "100", "--samples", "300", "--start", "uniform", "--burn-in", "20"}
	code, _, stderr := analysisCLI(args...)
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
	if code, _, stderr := analysisCLI(args...); code != 2 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("existing --out: exit %d, %s", code, stderr)
	}
	if code, _, stderr := analysisCLI("states", "--checkpoint", ck, "--out", filepath.Join(dir, "s.txt")); code != 2 || !strings.Contains(stderr, ".npz") {
		t.Errorf("--out s.txt: exit %d, %s", code, stderr)
	}
	if code, _, stderr := analysisCLI("states", "--checkpoint", ck, "--out", filepath.Join(dir, "t.npz"), "--samples", "1"); code != 2 || !strings.Contains(stderr, "--samples") {
		t.Errorf("--samples 1: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.npz")); err == nil {
		t.Error("a refused run wrote its file")
	}
}

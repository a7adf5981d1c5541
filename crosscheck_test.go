package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

// TestAgainstPyTorchReference checks the float32 graph against cases written
// by an independent PyTorch implementation of the same model (the benchmark
// script's --dump: an untrained model as safetensors, a microbatch as .npz,
// and float64 losses and per-tensor gradient norms). It exercises the
// checkpoint and .npz readers on files another program wrote, too.
func TestAgainstPyTorchReference(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/torch-*")
	if len(dirs) == 0 {
		t.Fatal("no testdata/torch-* cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p, _, err := train.LoadParams(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			arrs, err := data.ReadNPZ(filepath.Join(dir, "batch.npz"))
			if err != nil {
				t.Fatal(err)
			}
			v := arrs["velocities"]
			b := &data.Batch{B: v.Shape[0], T: v.Shape[1], Vel: v.F32}
			raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Loss, Sep, Inv, Cap, CI float64
				GradNorm                map[string]float64 `json:"grad_norm"`
			}
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			m, err := graph.NewModel(b.B, b.T, p.N, p.H, graph.PaperLoss())
			if err != nil {
				t.Fatal(err)
			}
			l, g, err := m.Grad(p, b)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]float64{"loss": ref.Loss, "sep": ref.Sep, "inv": ref.Inv, "cap": ref.Cap, "ci": ref.CI}
			for k, w := range want {
				got := l.Keyed()[k]
				if math.Abs(got-w) > 2e-5*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %.9g, PyTorch float64 %.9g", k, got, w)
				}
			}
			for i, s := range g.Slices() {
				var ss float64
				for _, x := range s {
					ss += float64(x) * float64(x)
				}
				w := ref.GradNorm[graph.ParamNames[i]]
				if got := math.Sqrt(ss); math.Abs(got-w) > 1e-4*math.Max(1e-3, w) {
					t.Errorf("|grad %s| = %.9g, PyTorch float64 %.9g", graph.ParamNames[i], got, w)
				}
			}
		})
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testpy"
	"github.com/gridgpu/gridgpu/reference"
	"github.com/gridgpu/gridgpu/train"
)

// torchScript writes the cases testdata/torch-* (its --dump mode): an
// untrained model as safetensors, a microbatch as .npz and, in
// reference.json, float64 losses and per-tensor gradient norms computed by
// PyTorch's autograd, with the arguments that rebuild the case.
const torchScript = "scripts/torch_reference.py"

// torchRef is a case's reference.json.
type torchRef struct {
	Loss      float64            `json:"loss"`
	Sep       float64            `json:"sep"`
	Inv       float64            `json:"inv"`
	Cap       float64            `json:"cap"`
	CI        float64            `json:"ci"`
	GradNorm  map[string]float64 `json:"grad_norm"`
	FarPairs  int                `json:"far_pairs"`
	NearPairs int                `json:"near_pairs"`
	CIPairs   int                `json:"ci_pairs"`
	Args      []string           `json:"args"` // torchScript's arguments, less --dump DIR
}

// terms are the total and the four unweighted terms by their graph keys.
func (r torchRef) terms() map[string]float64 {
	return map[string]float64{"loss": r.Loss, "sep": r.Sep, "inv": r.Inv, "cap": r.Cap, "ci": r.CI}
}

// torchCase is one case directory, read.
type torchCase struct {
	p   *graph.Params
	b   *data.Batch
	ref torchRef
}

// torchCaseDirs lists testdata/torch-*; there must be some.
func torchCaseDirs(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob("testdata/torch-*")
	if len(dirs) == 0 {
		t.Fatal("no testdata/torch-* cases")
	}
	return dirs
}

func readTorchCase(t *testing.T, dir string) torchCase {
	t.Helper()
	p, _, err := train.LoadParams(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	arrs, err := data.ReadNPZ(filepath.Join(dir, "batch.npz"))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := arrs["velocities"]
	if !ok || len(v.Shape) != 3 || v.Shape[2] != 2 {
		t.Fatalf("%s/batch.npz: no velocities [B,T,2]", dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref torchRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%s/reference.json: %v", dir, err)
	}
	if len(ref.GradNorm) != len(graph.ParamNames) {
		t.Fatalf("%s/reference.json: %d gradient norms, want %d", dir, len(ref.GradNorm), len(graph.ParamNames))
	}
	return torchCase{p: p, b: &data.Batch{B: v.Shape[0], T: v.Shape[1], Vel: v.F32}, ref: ref}
}

// relErr is |got - want| / |want| (the absolute error where want is 0).
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// gradNorms are the Euclidean norms of the tensors, in ParamNames order.
func gradNorms[F float32 | float64](g [][]F) map[string]float64 {
	out := make(map[string]float64, len(g))
	for i, s := range g {
		var ss float64
		for _, x := range s {
			ss += float64(x) * float64(x)
		}
		out[graph.ParamNames[i]] = math.Sqrt(ss)
	}
	return out
}

// TestAgainstPyTorchReference checks the float32 graph against the cases
// of torchScript, an independent implementation of the same model whose
// gradients come from PyTorch's autograd. It exercises the checkpoint and
// .npz readers on files another program wrote, too. Every term of every
// case must be non-zero, the conformal-isometry term included (the cases
// have steps shorter than sigma_x), so that each comparison checks
// something.
func TestAgainstPyTorchReference(t *testing.T) {
	for _, dir := range torchCaseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := readTorchCase(t, dir)
			for k, w := range c.ref.terms() {
				if w == 0 {
					t.Errorf("%s/reference.json: %s is 0, so comparing it proves nothing (regenerate the case with steps shorter than sigma_x: %s --short-steps)", dir, k, torchScript)
				}
			}
			if c.ref.CIPairs == 0 {
				t.Errorf("%s/reference.json: no conformal-isometry pairs", dir)
			}
			m, err := graph.NewModel(c.b.B, c.b.T, c.p.N, c.p.H, graph.PaperLoss())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			l, g, err := m.Grad(c.p, c.b)
			if err != nil {
				t.Fatal(err)
			}
			got := l.Keyed()
			worstTerm, worstGrad := 0.0, 0.0
			for k, w := range c.ref.terms() {
				worstTerm = math.Max(worstTerm, relErr(got[k], w))
				if math.Abs(got[k]-w) > 2e-5*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %.9g, PyTorch float64 %.9g", k, got[k], w)
				}
			}
			for name, gn := range gradNorms(g.Slices()) {
				w := c.ref.GradNorm[name]
				worstGrad = math.Max(worstGrad, relErr(gn, w))
				if math.Abs(gn-w) > 1e-4*math.Max(1e-3, w) {
					t.Errorf("|grad %s| = %.9g, PyTorch float64 %.9g", name, gn, w)
				}
			}
			t.Logf("largest relative difference from PyTorch float64: losses %.2g, gradient norms %.2g", worstTerm, worstGrad)
		})
	}
}

// TestPyTorchReferenceMatchesFloat64 checks the cases' float64 numbers
// against package reference (the losses and the pair counts) and the
// float64 graph (the gradient norms), to float64 rounding: the two sides
// share nothing but the definitions, so agreement to 1e-10 says that
// torchScript computes the same model and losses.
func TestPyTorchReferenceMatchesFloat64(t *testing.T) {
	for _, dir := range torchCaseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := readTorchCase(t, dir)
			lc := graph.PaperLoss()
			vel, pos := reference.F64(c.b.Vel), reference.F64(c.b.Positions())
			rp := reference.ParamsFrom32(c.p.N, c.p.H, c.p.Slices())
			w := map[string]float64{}
			for t, x := range lc.Weights() {
				w[graph.TermSpecs[t].Key] = x
			}
			rl := reference.Loss(reference.Config{SigmaX: lc.SigmaX, SigmaG: lc.SigmaG, Weights: w,
				Reduction: reference.Mean, CI: reference.PaperCI(lc.SigmaX)}, reference.Forward(rp, vel, c.b.B, c.b.T), vel, pos)
			if rl.Far != c.ref.FarPairs || rl.Near != c.ref.NearPairs || rl.CIPairs != c.ref.CIPairs {
				t.Errorf("pairs far, near, CI: reference %d, %d, %d; PyTorch %d, %d, %d",
					rl.Far, rl.Near, rl.CIPairs, c.ref.FarPairs, c.ref.NearPairs, c.ref.CIPairs)
			}
			gl, g, err := graph.Grad64(c.p, c.b, lc)
			if err != nil {
				t.Fatal(err)
			}
			const tol = 1e-10
			worst := 0.0
			check := func(what string, got, want float64) {
				e := relErr(got, want)
				worst = math.Max(worst, e)
				if e > tol {
					t.Errorf("%s = %.17g, PyTorch float64 %.17g (relative error %.2g)", what, got, want, e)
				}
			}
			ref := map[string]float64{"loss": rl.Total}
			for k, v := range rl.Terms {
				ref[k] = v
			}
			g64 := gl.Keyed()
			for k, w := range c.ref.terms() {
				check("reference "+k, ref[k], w)
				check("Grad64 "+k, g64[k], w)
			}
			for name, gn := range gradNorms(g) {
				check("Grad64 |grad "+name+"|", gn, c.ref.GradNorm[name])
			}
			t.Logf("largest relative difference from PyTorch float64: %.2g", worst)
		})
	}
}

// TestPyTorchReferenceRegenerates reruns torchScript with each case's
// recorded arguments and requires the committed case back: the same
// tensors and velocities bit for bit, the same pair counts and the same
// float64 numbers to rounding, so that the cases cannot drift from the
// script. Like the documentation's Python snippets it needs
// /usr/bin/python3 with torch and numpy (CI installs them) and fails
// without them unless GRIDGPU_SKIP_PYTHON=1.
func TestPyTorchReferenceRegenerates(t *testing.T) {
	py := python3WithTorch(t)
	for _, dir := range torchCaseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := readTorchCase(t, dir)
			if len(want.ref.Args) == 0 {
				t.Fatalf("%s/reference.json has no args", dir)
			}
			out := t.TempDir()
			testpy.Run(t, py, "", append([]string{torchScript, "--dump", out}, want.ref.Args...)...)
			got := readTorchCase(t, out)
			if diff := firstDiff(got.p.Slices(), want.p.Slices()); diff != "" {
				t.Errorf("model.safetensors differs: %s", diff)
			}
			if got.b.B != want.b.B || got.b.T != want.b.T {
				t.Errorf("batch.npz is [%d,%d,2], committed [%d,%d,2]", got.b.B, got.b.T, want.b.B, want.b.T)
			} else if diff := firstDiff([][]float32{got.b.Vel}, [][]float32{want.b.Vel}); diff != "" {
				t.Errorf("batch.npz differs: %s", diff)
			}
			if got.ref.FarPairs != want.ref.FarPairs || got.ref.NearPairs != want.ref.NearPairs || got.ref.CIPairs != want.ref.CIPairs {
				t.Errorf("pair counts %d, %d, %d; committed %d, %d, %d", got.ref.FarPairs, got.ref.NearPairs, got.ref.CIPairs,
					want.ref.FarPairs, want.ref.NearPairs, want.ref.CIPairs)
			}
			const tol = 1e-12
			gt := got.ref.terms()
			for k, w := range want.ref.terms() {
				if e := relErr(gt[k], w); e > tol {
					t.Errorf("%s = %.17g, committed %.17g", k, gt[k], w)
				}
			}
			names := make([]string, 0, len(want.ref.GradNorm))
			for n := range want.ref.GradNorm {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if e := relErr(got.ref.GradNorm[n], want.ref.GradNorm[n]); e > tol {
					t.Errorf("|grad %s| = %.17g, committed %.17g", n, got.ref.GradNorm[n], want.ref.GradNorm[n])
				}
			}
		})
	}
}

// firstDiff describes the first element where a and b differ (bit
// patterns, so NaNs compare too), or returns "".
func firstDiff(a, b [][]float32) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d tensors, want %d", len(a), len(b))
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return fmt.Sprintf("tensor %d has %d values, want %d", i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return fmt.Sprintf("tensor %d, value %d: %g, want %g", i, j, a[i][j], b[i][j])
			}
		}
	}
	return ""
}

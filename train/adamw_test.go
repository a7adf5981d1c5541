package train

import (
	"math"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
)

// flat builds N=1, H=1 parameters (8 scalars) from a list.
func flat(v ...float32) *graph.Params {
	p := graph.ZeroParams(1, 1)
	i := 0
	for _, s := range p.Slices() {
		for j := range s {
			s[j] = v[i]
			i++
		}
	}
	return p
}

func values(p *graph.Params) []float32 {
	var out []float32
	for _, s := range p.Slices() {
		out = append(out, s...)
	}
	return out
}

// near compares with relative tolerance tol (the expected values are printed
// to 9 significant digits, float32's precision).
func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Abs(want[i])+1e-12 {
			t.Errorf("%s[%d] = %.9g, want %.9g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// The expected values were computed independently, in Python float64 from
// the formulas of torch.optim.AdamW and clip_grad_norm_, rounding p, m, v to
// float32 after each step.
func TestClipAndAdamWHandComputed(t *testing.T) {
	oc := OptConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 0.1}
	lr := 1e-2
	p := flat(0.5, -0.25, 1.0, 0.0, -1.5, 0.75, 2.0, -0.125)
	g1 := flat(1.0, -2.0, 0.5, 0.0, 3.0, -1.0, 0.25, 4.0)
	g2 := flat(0.0, -1.0, 0.5, 1.0, 1.0, -2.0, 0.75, 0.0)
	avg := graph.ZeroParams(1, 1)
	AverageGrads(avg, []*graph.Params{g1, g2})
	near(t, "avg", values(avg), []float64{0.5, -1.5, 0.5, 0.5, 2, -1.5, 0.5, 2}, 0)
	st := NewOptState(1, 1)
	norm := ClipAndAdamW(p, avg, st, lr, oc)
	if math.Abs(norm-3.6742346141747673) > 1e-12 {
		t.Errorf("norm %.17g, want 3.6742346141747673", norm)
	}
	if st.Step != 1 {
		t.Errorf("step %d, want 1", st.Step)
	}
	near(t, "p1", values(p), []float64{0.489500016, -0.239749998, 0.989000022, -0.00999999233, -1.50849998, 0.759249985, 1.98800004, -0.134875}, 1e-7)
	near(t, "m1", values(st.M), []float64{0.00136082724, -0.00408248184, 0.00136082724, 0.00136082724, 0.00544330897, -0.00408248184, 0.00136082724, 0.00544330897}, 1e-7)
	near(t, "v1", values(st.V), []float64{1.85185087e-07, 1.66666575e-06, 1.85185087e-07, 1.85185087e-07, 2.96296139e-06, 1.66666575e-06, 1.85185087e-07, 2.96296139e-06}, 1e-7)

	// Second step: norm 0.0358 < clip, so no clipping; bias correction t=2.
	g3 := flat(0.0078125, 0, -0.015625, 0, 0, 0, 0.03125, 0)
	norm = ClipAndAdamW(p, g3, st, lr, oc)
	if math.Abs(norm-0.0358013726168425) > 1e-12 {
		t.Errorf("norm %.17g", norm)
	}
	near(t, "p2", values(p), []float64{0.479493886, -0.232809663, 0.989224315, -0.0166905671, -1.51369202, 0.765191317, 1.97651482, -0.141440704}, 1e-7)
	near(t, "m2", values(st.M), []float64{0.00200599455, -0.00367423357, -0.000337755482, 0.00122474448, 0.00489897793, -0.00367423357, 0.00434974441, 0.00489897793}, 1e-7)
	near(t, "v2", values(st.V), []float64{2.46035057e-07, 1.6649991e-06, 4.29140528e-07, 1.84999905e-07, 2.95999848e-06, 1.6649991e-06, 1.16156241e-06, 2.95999848e-06}, 1e-7)
	// The gradient passed in is not modified by clipping.
	near(t, "g3", values(g3), []float64{0.0078125, 0, -0.015625, 0, 0, 0, 0.03125, 0}, 0)
}

func TestClipCoef(t *testing.T) {
	cases := []struct{ norm, clip, want float64 }{
		{1, 0, 1},                  // clipping off
		{0.05, 0.1, 1},             // within bounds
		{0.1, 0.1, 0.1 / 0.100001}, // at the bound: coef < 1 by the 1e-6, PyTorch clips too
		{2, 0.1, 0.1 / 2.000001},
		{0, 0.1, 1},
	}
	for _, c := range cases {
		if got := ClipCoef(c.norm, c.clip); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("ClipCoef(%g, %g) = %.17g, want %.17g", c.norm, c.clip, got, c.want)
		}
	}
}

func TestAdamWNoClipMatchesPlainAdam(t *testing.T) {
	// With wd=0 and no clipping, the first step moves every parameter by
	// lr*sign(g) (up to eps): Adam's well-known first-step property.
	oc := OptConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p := flat(0, 0, 0, 0, 0, 0, 0, 0)
	g := flat(3, -0.5, 1e-3, -7, 2, 0.25, -1, 10)
	ClipAndAdamW(p, g, NewOptState(1, 1), 0.01, oc)
	for i, v := range values(p) {
		want := -0.01 * math.Copysign(1, float64(values(g)[i]))
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Errorf("p[%d] = %g, want %g", i, v, want)
		}
	}
}

package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/gridgpu/gridgpu/data"
)

func testBatch(t *testing.T, B, T int, augment string, seed uint64) *data.Batch {
	t.Helper()
	s, err := data.NewSampler(seed, B, T, augment, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	return s.Next()
}

// testModel is NewModel's model, failing t on an error.
func testModel(t *testing.T, B, T, N, H int, lc LossConfig) *Model {
	t.Helper()
	m, err := NewModel(B, T, N, H, lc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// vecRelErr is ||got - want|| / ||want|| (NaN when want is zero).
func vecRelErr[T float](got []T, want []float64) float64 {
	var num, den float64
	for k, v := range got {
		d := float64(v) - want[k]
		num += d * d
		den += want[k] * want[k]
	}
	return math.Sqrt(num / den)
}

func relErr(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(1e-12, math.Max(math.Abs(a), math.Abs(b)))
}

// centralDiff is the central difference (f(x+h) - f(x-h)) / 2h of f, which
// reads x, in its entry k; x[k] is put back.
func centralDiff(x []float64, k int, h float64, f func() float64) float64 {
	old := x[k]
	x[k] = old + h
	lp := f()
	x[k] = old - h
	lm := f()
	x[k] = old
	return (lp - lm) / (2 * h)
}

// slowSteps scales the velocity of every other step (the first, the third,
// ...) of each trajectory by 0.2, to at most 0.15*sqrt(2)*0.2 = 0.042 m:
// shorter than the paper's sigma_x (0.05 m), so that the conformal-isometry
// term, which only sees such steps, has pairs to compare.
func slowSteps(b *data.Batch) *data.Batch {
	// Every other distinct velocity, wherever it occurs, so that a
	// microbatch whose trajectories share their velocities still does.
	idx := distinctVelocities(b, b.B*b.T)
	for i := 0; i < b.B; i++ {
		for t := 0; t < b.T; t++ {
			if idx[t*b.B+i]%2 != 0 {
				continue
			}
			k := (i*b.T + t) * 2
			b.Vel[k] *= 0.2
			b.Vel[k+1] *= 0.2
		}
	}
	return b
}

// requireLiveTerms stops a gradient test whose loss does not depend on the
// terms it checks: every term of non-zero weight must be non-zero and
// finite on the test's microbatch (a zero term has a zero gradient, which
// any implementation passes).
func requireLiveTerms(t *testing.T, l Losses, lc LossConfig) {
	t.Helper()
	for term, w := range lc.Weights() {
		if v := l.Term[term]; w != 0 && (v == 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("the %s term is %g on this microbatch: its gradient would not be checked", TermSpecs[term].Name, v)
		}
	}
	if math.IsNaN(l.Total) || math.IsInf(l.Total, 0) {
		t.Fatalf("the total loss is %g", l.Total)
	}
}

func TestLossesMatchReference(t *testing.T) {
	cases := []struct {
		name       string
		B, T, N, H int
		lc         LossConfig
		augment    string
	}{
		{"paper-loss", 4, 6, 8, 12, PaperLoss(), data.AugmentPermute},
		{"sum-reduction", 3, 5, 6, 10, func() LossConfig { l := PaperLoss(); l.Reduction = ReduceSum; return l }(), data.AugmentPermute},
		{"no-permutation", 3, 7, 8, 8, PaperLoss(), data.AugmentNone},
		{"B=1", 1, 9, 8, 8, PaperLoss(), data.AugmentPermute},
		{"T=1", 5, 1, 8, 8, PaperLoss(), data.AugmentPermute},
		{"no-near-pairs", 3, 4, 8, 8, func() LossConfig { l := PaperLoss(); l.SigmaX = 1e-9; return l }(), data.AugmentNone},
		{"no-far-pairs", 3, 4, 8, 8, func() LossConfig { l := PaperLoss(); l.SigmaX = 100; return l }(), data.AugmentPermute},
		{"sep-only", 3, 4, 8, 8, LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaSep: 1, Reduction: ReduceMean}, data.AugmentPermute},
		{"every-term", 4, 6, 8, 12, func() LossConfig {
			l := PaperLoss()
			for _, s := range TermSpecs {
				*s.Weight(&l) = 1
			}
			return l
		}(), data.AugmentPermute},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := InitParams(c.N, c.H, uint64(i+1))
			b := testBatch(t, c.B, c.T, c.augment, uint64(10+i))
			m := testModel(t, c.B, c.T, c.N, c.H, c.lc)
			got, err := m.Eval(p, b)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := refLosses(p, b, c.lc)
			if math.Abs(got.Total-want.Total) > 1e-5*math.Max(1, math.Abs(want.Total)) {
				t.Errorf("loss = %.9g, reference %.9g", got.Total, want.Total)
			}
			for term, w := range c.lc.Weights() {
				if w == 0 {
					continue // a term of weight zero is not part of the graph
				}
				if g, r := got.Term[term], want.Term[term]; math.Abs(g-r) > 1e-5*math.Max(1, math.Abs(r)) {
					t.Errorf("%s = %.9g, reference %.9g", TermSpecs[term].Key, g, r)
				}
			}
			if got.ZeroFrac != want.ZeroFrac {
				t.Errorf("zero fraction %g, reference %g", got.ZeroFrac, want.ZeroFrac)
			}
		})
	}
}

// A zeroed Norm-ReLU state: with g0 all negative, g_0 is the zero vector, so
// every later state is zero too.
func TestZeroStateLosses(t *testing.T) {
	p := InitParams(6, 8, 3)
	for i := range p.G0 {
		p.G0[i] = -1
	}
	b := testBatch(t, 2, 3, data.AugmentPermute, 4)
	m := testModel(t, 2, 3, 6, 8, PaperLoss())
	l, g, err := m.Grad(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if l.ZeroFrac != 1 {
		t.Errorf("zero fraction %g, want 1", l.ZeroFrac)
	}
	want, _ := refLosses(p, b, PaperLoss())
	if math.Abs(l.Total-want.Total) > 1e-6 {
		t.Errorf("total %g, reference %g", l.Total, want.Total)
	}
	for i, s := range g.Slices() {
		if _, _, bad := FirstNonFinite(s); bad {
			t.Errorf("gradient of %s is not finite", ParamNames[i])
		}
	}
}

// Finite differences in float64: for each parameter tensor, a handful of
// entries are perturbed by +-h and the central difference of the total loss
// is compared with the analytic gradient. Every term of non-zero weight is
// non-zero on the microbatch (slowSteps gives the paper's conformal
// isometry steps to compare).
func TestGradientFiniteDifferences(t *testing.T) {
	only := func(sep, inv, cap, ci float64) LossConfig {
		return LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaSep: sep, LambdaInv: inv, LambdaCap: cap, LambdaCI: ci, Reduction: ReduceMean}
	}
	type fdCase struct {
		name       string
		lc         LossConfig
		normBlocks int // Params.NormBlocks (0: one Norm-ReLU)
	}
	// Each term of TermSpecs alone, weight 1.
	var cases []fdCase
	for _, s := range TermSpecs {
		lc := only(0, 0, 0, 0)
		*s.Weight(&lc) = 1
		cases = append(cases, fdCase{s.Key, lc, 0})
	}
	cases = append(cases, []fdCase{
		{"all", PaperLoss(), 0},
		{"all-sum", func() LossConfig { l := PaperLoss(); l.Reduction = ReduceSum; return l }(), 0},
		// Conformal isometry over lags up to 3 within 0.25 m, in the
		// variance, the fixed-scale and the binned form.
		{"ci-window", func() LossConfig { l := only(0, 0, 0, 1); l.CIMaxLag, l.CIMaxDist = 3, 0.25; return l }(), 0},
		{"ci-scale", func() LossConfig { l := only(0, 0, 0, 1); l.CIMaxLag, l.CIMaxDist, l.CIScale = 3, 0.25, 4; return l }(), 0},
		{"ci-bins", func() LossConfig { l := only(0, 0, 0, 1); l.CIMaxLag, l.CIMaxDist, l.CIBins = 4, 0.3, 3; return l }(), 0},
		// Norm-ReLU in 2 and 3 blocks of the 6 units.
		{"all-blocknorm2", PaperLoss(), 2},
		{"all-blocknorm3", PaperLoss(), 3},
	}...)
	const B, T, N, H = 3, 4, 6, 8
	// Both paths of the last layer: the MLP on the T distinct velocities,
	// and on all B*T rows.
	for ci, c := range cases {
		for _, U := range []int{T, B * T} {
			t.Run(fmt.Sprintf("%s/U=%d", c.name, U), func(t *testing.T) {
				p32 := InitParams(N, H, uint64(20+ci))
				b := slowSteps(testBatch(t, B, T, data.AugmentPermute, uint64(30+ci)))
				m, err := newModel[float64](B, T, N, H, U, c.lc)
				if err != nil {
					t.Fatal(err)
				}
				m.rec.setNormBlocks(max(1, c.normBlocks))
				p := toT[float64](p32)
				l0, grads, err := m.run(p, b, true)
				if err != nil {
					t.Fatal(err)
				}
				requireLiveTerms(t, l0, c.lc)
				loss := func() float64 {
					l, _, err := m.run(p, b, false)
					if err != nil {
						t.Fatal(err)
					}
					return l.Total
				}
				rng := rand.New(rand.NewPCG(uint64(ci), 1))
				const h = 1e-6
				for ti, tensor := range p {
					idx := rng.Perm(len(tensor))
					if len(idx) > 6 {
						idx = idx[:6]
					}
					var num, ana, diff float64
					for _, k := range idx {
						fd := centralDiff(tensor, k, h, loss)
						num += fd * fd
						ana += grads[ti][k] * grads[ti][k]
						diff += (fd - grads[ti][k]) * (fd - grads[ti][k])
					}
					scale := math.Sqrt(math.Max(num, ana))
					// Central differences carry rounding noise of about
					// 1e-16 |L| / h; below a margin over it there is nothing to compare.
					if scale < 1e-10*math.Max(1, 100*math.Abs(l0.Total)) {
						continue // no dependence on these entries (e.g. capacity does not see g0's scale)
					}
					r := math.Sqrt(diff) / scale
					t.Logf("%s: relative error %.2g, |grad| %.3g", ParamNames[ti], r, math.Sqrt(ana))
					if r > 1e-5 {
						t.Errorf("%s: relative error %.3g (|fd| %.3g, |analytic| %.3g)", ParamNames[ti], r, math.Sqrt(num), math.Sqrt(ana))
					}
				}
			})
		}
	}
}

func ExampleNewModel() {
	p := InitParams(8, 16, 1)
	s, _ := data.NewSampler(1, 4, 10, data.AugmentPermute, 0.15)
	m, _ := NewModel(4, 10, 8, 16, PaperLoss())
	l, _ := m.Eval(p, s.Next())
	fmt.Println(l.Term[Cap] < 0, l.Term[Sep] > 0, l.Term[Sep] <= 1)
	// Output: true true true
}

// The float32 graph against the float64 one at a size where the pair tiles
// and row blocks have ragged edges (P = 9*37 = 333 > pairBlock), which is
// where slicing and summation errors would show.
func TestFloat32MatchesFloat64(t *testing.T) {
	const B, T, N, H = 9, 37, 12, 16
	p := InitParams(N, H, 5)
	b := testBatch(t, B, T, data.AugmentPermute, 6)
	m32 := testModel(t, B, T, N, H, PaperLoss())
	l32, g32, err := m32.Grad(p, b)
	if err != nil {
		t.Fatal(err)
	}
	m64, err := newModel[float64](B, T, N, H, T, PaperLoss())
	if err != nil {
		t.Fatal(err)
	}
	l64, g64, err := m64.run(toT[float64](p), b, true)
	if err != nil {
		t.Fatal(err)
	}
	requireLiveTerms(t, l64, PaperLoss())
	for k := range l64.Keyed() {
		if r := relErr(l32.Keyed()[k], l64.Keyed()[k]); r > 1e-5 {
			t.Errorf("%s: float32 %.8g, float64 %.8g", k, l32.Keyed()[k], l64.Keyed()[k])
		}
	}
	for i, s := range g32.Slices() {
		// float32 rounding, amplified over 37 recurrent steps, measures
		// 3e-5 to 1.2e-4 here (both last-layer paths); a wrong term is O(1).
		if r := vecRelErr(s, g64[i]); !(r <= 3e-4) {
			t.Errorf("gradient of %s: relative error %.3g", ParamNames[i], r)
		}
	}
	want, _ := refLosses(p, b, PaperLoss())
	if r := relErr(l64.Total, want.Total); r > 1e-9 {
		t.Errorf("float64 total %.12g, reference %.12g", l64.Total, want.Total)
	}
	for term, w := range PaperLoss().Weights() {
		if w == 0 {
			continue // a term of weight zero is not part of the graph (it reports 0)
		}
		if v := want.Term[term]; relErr(l64.Term[term], v) > 1e-9 {
			t.Errorf("float64 %s %.12g, reference %.12g", TermSpecs[term].Key, l64.Term[term], v)
		}
	}
}

// The last layer's backward gathers the active steps of each unit in
// batches of gatherRows rows and splits the steps into row blocks; with
// small batches every path (several batches, ragged last batch, blocks)
// runs at a size where finite differences are cheap.
func TestGradientSmallGatherBatches(t *testing.T) {
	const B, T, N, H = 5, 9, 6, 8
	p32 := InitParams(N, H, 41)
	b := slowSteps(testBatch(t, B, T, data.AugmentPermute, 42))
	m, err := newModel[float64](B, T, N, H, B*T, PaperLoss()) // the gathered path
	if err != nil {
		t.Fatal(err)
	}
	p := toT[float64](p32)
	l0, want, err := m.run(p, b, true)
	if err != nil {
		t.Fatal(err)
	}
	requireLiveTerms(t, l0, PaperLoss())
	defer func(old int) { gatherRows = old }(gatherRows)
	gatherRows = 4
	_, grads, err := m.run(p, b, true)
	if err != nil {
		t.Fatal(err)
	}
	for ti := range grads {
		for k := range grads[ti] {
			if math.Abs(grads[ti][k]-want[ti][k]) > 1e-12*math.Max(1, math.Abs(want[ti][k])) {
				t.Fatalf("%s[%d]: %.15g with batches of 4 rows, %.15g with one batch", ParamNames[ti], k, grads[ti][k], want[ti][k])
			}
		}
	}
	total := func() float64 {
		l, _, _ := m.run(p, b, false)
		return l.Total
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const h = 1e-6
	for ti, tensor := range p {
		for _, k := range rng.Perm(len(tensor))[:min(4, len(tensor))] {
			fd := centralDiff(tensor, k, h, total)
			if math.Abs(fd-grads[ti][k]) > 1e-5*math.Max(1e-2, math.Abs(fd)) {
				t.Errorf("%s[%d]: finite difference %.9g, analytic %.9g", ParamNames[ti], k, fd, grads[ti][k])
			}
		}
	}
}

// At this size the last layer's output (16*64 x 128^2 float32 = 64 MiB) is
// mapped outside the Go heap: it must survive use after Close (mapped
// again) and be released when a model is dropped, with the same results.
func TestOffHeapBufferLifecycle(t *testing.T) {
	const B, T, N, H = 16, 64, 128, 4
	p := InitParams(N, H, 7)
	b := testBatch(t, B, T, data.AugmentPermute, 8)
	m := testModel(t, B, T, N, H, PaperLoss())
	want, err := m.Eval(p, b)
	if err != nil {
		t.Fatal(err)
	}
	m.impl.rec.free()
	got, err := m.Eval(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("after releasing the buffer: %+v, before: %+v", got, want)
	}
	m = nil
	runtime.GC()
	runtime.GC()
	m2 := testModel(t, B, T, N, H, PaperLoss())
	defer m2.Close()
	if got, err := m2.Eval(p, b); err != nil || got != want {
		t.Errorf("a second model: %+v (%v), first: %+v", got, err, want)
	}
}

func TestGrad64MatchesReference(t *testing.T) {
	p := InitParams(6, 8, 9)
	b := testBatch(t, 3, 5, data.AugmentPermute, 10)
	l, g, err := Grad64(p, b, PaperLoss())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := refLosses(p, b, PaperLoss()); relErr(l.Total, want.Total) > 1e-10 {
		t.Errorf("total %.12g, reference %.12g", l.Total, want.Total)
	}
	if len(g) != len(ParamNames) || len(g[4]) != len(p.W2) {
		t.Fatalf("gradient has %d tensors", len(g))
	}
}

// checkFloat32 compares a float32 graph's total l and gradient g with the
// float64 all-rows graph's (want, wantG): the total within 1e-5 and each
// tensor within 1e-4, relative; what begins the messages.
func checkFloat32(t *testing.T, what string, l Losses, g *Params, want Losses, wantG [][]float64) {
	t.Helper()
	if r := relErr(l.Total, want.Total); r > 1e-5 {
		t.Errorf("%s: total %.8g, float64 all rows %.8g", what, l.Total, want.Total)
	}
	for i, s := range g.Slices() {
		if r := vecRelErr(s, wantG[i]); !(r <= 1e-4) {
			t.Errorf("%s: gradient of %s: relative error %.3g", what, ParamNames[i], r)
		}
	}
}

// The distinct-velocity path against the all-rows path on the same
// microbatch: the same model, so the same losses and gradients up to the
// rounding of sums taken in another order. In float64 that is far below
// any real error; the float32 graph is compared too, at a size where every
// product splits into several bands (P = 32*30, N*N = 4096).
func TestDistinctVelocitiesMatchAllRows(t *testing.T) {
	for _, c := range []struct {
		B, T, N, H int
		tol64      float64
	}{{4, 7, 6, 8, 1e-11}, {32, 30, 64, 128, 1e-9}} {
		p := InitParams(c.N, c.H, 9)
		b := slowSteps(testBatch(t, c.B, c.T, data.AugmentPermute, 10))
		lc := PaperLoss()
		lc.LambdaCI = 0.01
		ld, gd, err := grad64(p, b, lc, c.T)
		if err != nil {
			t.Fatal(err)
		}
		la, ga, err := grad64(p, b, lc, c.B*c.T)
		if err != nil {
			t.Fatal(err)
		}
		requireLiveTerms(t, la, lc)
		if r := relErr(ld.Total, la.Total); r > c.tol64 {
			t.Errorf("B=%d: float64 total %.15g (distinct) vs %.15g (all rows)", c.B, ld.Total, la.Total)
		}
		for i := range gd {
			if slices.Max(ga[i]) == 0 && slices.Min(ga[i]) == 0 {
				t.Fatalf("B=%d: gradient of %s is zero", c.B, ParamNames[i])
			}
			if r := vecRelErr(gd[i], ga[i]); !(r <= c.tol64) {
				t.Errorf("B=%d: float64 gradient of %s: distinct vs all rows differ by %.3g", c.B, ParamNames[i], r)
			}
		}
		// float32: NewModel takes the distinct path for this batch.
		m32 := testModel(t, c.B, c.T, c.N, c.H, lc)
		l32, g32, err := m32.Grad(p, b)
		if err != nil {
			t.Fatal(err)
		}
		if m32.impl != m32.shared {
			t.Fatalf("B=%d: a permuted microbatch did not take the distinct-velocity graph", c.B)
		}
		checkFloat32(t, fmt.Sprintf("B=%d: float32 distinct", c.B), l32, g32, la, ga)
		m32.Close()
	}
}

// A microbatch without shared velocities (augment none) runs on the
// all-rows graph, built when first needed, and gives the float64 result.
func TestIndependentVelocitiesTakeAllRows(t *testing.T) {
	const B, T, N, H = 3, 5, 6, 8
	p := InitParams(N, H, 2)
	m := testModel(t, B, T, N, H, PaperLoss())
	defer m.Close()
	shared := testBatch(t, B, T, data.AugmentPermute, 3)
	own := testBatch(t, B, T, data.AugmentNone, 3)
	for i, b := range []*data.Batch{shared, own, shared} {
		l, _, err := m.Grad(p, b)
		if err != nil {
			t.Fatal(err)
		}
		wantAll := b == own
		if got := m.impl == m.all; got != wantAll {
			t.Errorf("run %d: all-rows graph used %v, want %v", i, got, wantAll)
		}
		want, _, err := Grad64(p, b, PaperLoss())
		if err != nil {
			t.Fatal(err)
		}
		if r := relErr(l.Total, want.Total); r > 1e-5 {
			t.Errorf("run %d: total %.8g, float64 %.8g", i, l.Total, want.Total)
		}
	}
}

func TestDistinctVelocities(t *testing.T) {
	b := &data.Batch{B: 2, T: 3, Vel: []float32{
		1, 0, 2, 0, 3, 0, // trajectory 0: a b c
		3, 0, 1, 0, 2, 0, // trajectory 1: c a b
	}}
	// Time-major rows: (t0: a c) (t1: b a) (t2: c b).
	want := []int32{0, 1, 2, 0, 1, 2}
	if got := distinctVelocities(b, 3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("distinctVelocities = %v, want %v", got, want)
	}
	if got := distinctVelocities(b, 2); got != nil {
		t.Errorf("with room for 2 of 3 velocities: %v, want nil", got)
	}
}

// A microbatch of two velocity sets has 2T distinct velocities: a model
// built for them runs it on its distinct-velocity graph, one built for T
// on the all-rows graph, and both give the float64 all-rows result.
func TestVelocitySetsTakeTheDistinctGraph(t *testing.T) {
	const B, T, N, H = 6, 5, 8, 10
	p := InitParams(N, H, 4)
	s, err := data.NewSampler(7, B, T, data.AugmentPermute, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetVelocitySets(2); err != nil {
		t.Fatal(err)
	}
	b := slowSteps(s.Next())
	lc := PaperLoss()
	lc.LambdaCI = 0.01
	want, wantG, err := grad64(p, b, lc, B*T)
	if err != nil {
		t.Fatal(err)
	}
	requireLiveTerms(t, want, lc)
	for _, c := range []struct {
		most      int
		wantShare bool
	}{{2 * T, true}, {T, false}} {
		m, err := NewModelDistinct(B, T, N, H, c.most, lc)
		if err != nil {
			t.Fatal(err)
		}
		l, g, err := m.Grad(p, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.impl == m.shared; got != c.wantShare {
			t.Errorf("most %d: distinct-velocity graph used %v, want %v", c.most, got, c.wantShare)
		}
		checkFloat32(t, fmt.Sprintf("most %d", c.most), l, g, want, wantG)
		m.Close()
	}
	if _, err := NewModelDistinct(B, T, N, H, B*T+1, lc); err == nil {
		t.Error("more distinct velocities than rows accepted")
	}
}

//go:build gridgpu_cuda

package cuda

import (
	"math"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// engineGrad runs one step of microbatch b with learning rate 0 (the
// parameters stay) and returns its losses and gradient.
func engineGrad(t *testing.T, e *Engine, b *data.Batch) (graph.Losses, *graph.Params) {
	t.Helper()
	st, err := e.Step([]*data.Batch{b}, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := graph.ZeroParams(e.N, e.H)
	e.must(t, func() error { return e.downloadParams(g, e.grad) })
	return st.Losses, g
}

// TestDistinctVelocities: on a permute-augmented microbatch the engine runs
// its MLP on the U distinct velocities (distinct.go); its losses and
// gradients equal the float64 CPU graph's (graph.Grad64) to float32
// rounding, and the engine's own P-row path on the same microbatch (the
// allRows hook). A microbatch without shared velocities (augment none)
// takes the P-row path, growing the buffers to P rows, and equals the
// float64 graph too. "dup": one velocity taken twice by each trajectory
// (U = T-1; with B = 40, 80 states share it: several dw_distinct chunks).
// At paper size (not in -short mode) the augment-none part is left out:
// the float64 CPU graph on all P rows would take minutes.
func TestDistinctVelocities(t *testing.T) {
	cases := []struct {
		s   size
		dup bool
	}{
		{size{8, 20, 40, 48}, false},
		{size{40, 6, 40, 48}, true},
		{size{8, 16, 128, 256}, false},
		{paperSize, false},
	}
	for _, c := range cases {
		name := c.s.String()
		if c.dup {
			name += "_dup"
		}
		t.Run(name, func(t *testing.T) {
			if c.s == paperSize && testing.Short() {
				t.Skip("paper size skipped in -short mode")
			}
			testDistinct(t, c.s, c.dup)
		})
	}
}

func testDistinct(t *testing.T, s size, dup bool) {
	tol := testTol(t)
	seed := freshSeed(t)
	lc := graph.PaperLoss()
	p := graph.InitParams(s.N, s.H, seed)
	b := sampler(t, s, seed+1).Next()
	if dup {
		dupVelocity(b)
	}
	none, err := data.NewSampler(seed+2, s.B, s.T, data.AugmentNone, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	bn := none.Next()
	P, U := s.B*s.T, s.T
	if dup {
		U = s.T - 1
	}
	model, err := graph.NewModel(s.B, s.T, s.N, s.H, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()

	// want: the float64 graph; bound: as in TestStepVsGraph, max(tol, 4 x
	// the CPU float32 graph's largest gradient error on the batch).
	want := func(b *data.Batch) (graph.Losses, [][]float64, float64) {
		l64, g64, err := graph.Grad64(p, b, lc)
		if err != nil {
			t.Fatal(err)
		}
		_, g32, err := model.Grad(p, b)
		if err != nil {
			t.Fatal(err)
		}
		cpuErr := 0.0
		for i, x := range g32.Slices() {
			cpuErr = max(cpuErr, relErr64(x, g64[i]))
		}
		return l64, g64, math.Max(tol, 4*cpuErr)
	}
	check := func(what string, l graph.Losses, g *graph.Params, wl graph.Losses, wg [][]float64, bound float64) {
		t.Helper()
		worst := 0.0
		r := relScalar(l.Total, wl.Total)
		for term := range graph.TermSpecs {
			r = max(r, relScalar(l.Term[term], wl.Term[term]))
		}
		if !(r < tol) {
			t.Errorf("%s: losses %v, want %v (relative error %.3g)", what, l, wl, r)
		}
		for i, name := range graph.ParamNames {
			e := relErr64(g.Slices()[i], wg[i])
			worst = max(worst, e)
			if !(e < bound) {
				t.Errorf("%s: gradient %s relative error %.3g (bound %.3g)", what, name, e, bound)
			}
		}
		t.Logf("%s: losses within %.3g, gradients within %.3g (bound %.3g)", what, r, worst, bound)
	}

	e := newTestEngine(t, s, lc, seed)
	bytes0 := e.AllocatedBytes()
	// The distinct-velocity path.
	l64, g64, bound := want(b)
	lD, gD := engineGrad(t, e, b)
	if e.lastU != U || e.rows != s.T {
		t.Fatalf("permute-augmented batch: the MLP ran on %d rows with buffers for %d; want %d distinct velocities, buffers for T = %d", e.lastU, e.rows, U, s.T)
	}
	check("distinct velocities vs float64 graph", lD, gD, l64, g64, bound)
	evD, err := e.Eval(b)
	if err != nil {
		t.Fatal(err)
	}

	// The P-row path on the same batch.
	e.allRows = true
	lP, gP := engineGrad(t, e, b)
	if e.lastU != P || e.rows != P {
		t.Fatalf("allRows: the MLP ran on %d rows with buffers for %d, want P = %d", e.lastU, e.rows, P)
	}
	check("P rows vs float64 graph", lP, gP, l64, g64, bound)
	gP64 := make([][]float64, len(graph.ParamNames))
	for i, x := range gP.Slices() {
		gP64[i] = f64s(x)
	}
	// The two paths differ only in the order of the last layer's sums
	// (measured on the emulator: 2.7e-7 to 1.2e-6).
	check("distinct velocities vs P rows", lD, gD, lP, gP64, math.Max(2e-5, bound/4))
	evP, err := e.Eval(b)
	if err != nil {
		t.Fatal(err)
	}
	if r := relScalar(evD.Total, evP.Total); !(r < tol) {
		t.Errorf("Eval: distinct velocities %.9g, P rows %.9g (relative error %.3g)", evD.Total, evP.Total, r)
	}

	if s == paperSize {
		return
	}
	// Without shared velocities: the P-row path, on an engine sized for the
	// distinct one until then.
	e2 := newTestEngine(t, s, lc, seed)
	ln64, gn64, nbound := want(bn)
	lN, gN := engineGrad(t, e2, bn)
	if e2.lastU != P || e2.rows != P {
		t.Fatalf("augment none: the MLP ran on %d rows with buffers for %d, want P = %d", e2.lastU, e2.rows, P)
	}
	check("augment none (P rows) vs float64 graph", lN, gN, ln64, gn64, nbound)
	t.Logf("device buffers: %.2f MiB with the distinct-velocity path, %.2f MiB after a microbatch without shared velocities",
		float64(bytes0)/(1<<20), float64(e2.AllocatedBytes())/(1<<20))
	if !(e2.AllocatedBytes() > bytes0) {
		t.Errorf("the P-row buffers (%d bytes) are not larger than the distinct-velocity ones (%d)", e2.AllocatedBytes(), bytes0)
	}
	// And back: a shared-velocity microbatch on the grown engine takes the
	// distinct path again.
	lD2, gD2 := engineGrad(t, e2, b)
	if e2.lastU != U {
		t.Errorf("after growing, a permute-augmented batch ran on %d MLP rows, want %d", e2.lastU, U)
	}
	check("distinct velocities on the grown engine vs float64 graph", lD2, gD2, l64, g64, bound)
}

//go:build gridgpu_cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
)

// TestCIVarianceTwoPass runs the conformal-isometry stages on states chosen
// so that r = ||g - g_prev|| / ||v|| is about 500 and varies by about 1e-6
// of that: the variance (~1e-7) is 12 orders of magnitude below E[r^2], and
// the one-pass form E[r^2] - E[r]^2 is off by ~1e-5 relative in float64
// there. The two passes (mean, then mean square deviation) must agree with
// a float64 two-pass computation to 1e-6.
func TestCIVarianceTwoPass(t *testing.T) {
	seed := freshSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	s := size{4, 25, 16, 16}
	lc := graph.PaperLoss()
	e := newTestEngine(t, s, lc, seed)
	P, N := e.P, e.N
	// Every state differs from its predecessor by 2.5 in each of its 16
	// units, exactly (the states are multiples of 1/1024), so that
	// ||g - g_prev|| = 10 exactly on the device as here; the speeds are
	// 0.02 (1 + eps), |eps| < 1e-6. Every 7th step is too fast to count and
	// every 11th has speed 0.
	const sp0 = 0.02
	G, GP, V := make([]float32, P*N), make([]float32, P*N), make([]float32, 2*P)
	for i := 0; i < P; i++ {
		for k := 0; k < N; k++ {
			GP[i*N+k] = float32(r.IntN(1024)) / 1024
			G[i*N+k] = GP[i*N+k] + 2.5
		}
		sp := sp0 * (1 + 1e-6*(2*r.Float64()-1))
		switch {
		case i%7 == 3:
			sp = 2 * lc.SigmaX
		case i%11 == 5:
			sp = 0
		}
		a := 2 * math.Pi * r.Float64()
		V[2*i], V[2*i+1] = float32(sp*math.Cos(a)), float32(sp*math.Sin(a))
	}
	var rs []float64
	for i := 0; i < P; i++ {
		sp := math.Hypot(float64(V[2*i]), float64(V[2*i+1]))
		if !(sp > 0 && sp < lc.SigmaX) {
			continue
		}
		var d2 float64
		for k := 0; k < N; k++ {
			d := float64(G[i*N+k]) - float64(GP[i*N+k])
			d2 += d * d
		}
		rs = append(rs, math.Sqrt(d2)/sp)
	}
	K := float64(len(rs))
	var mean, dev float64
	for _, x := range rs {
		mean += x
	}
	mean /= K
	for _, x := range rs {
		dev += (x - mean) * (x - mean)
	}

	b := sampler(t, s, seed+1).Next()
	ran := map[string]bool{}
	for _, st := range e.stages(b, 0, false) {
		switch st.name {
		case "upload", "ci_forward", "ci reduce", "ci_coef", "ci_var", "ci_var reduce", "loss_finalize":
		default:
			continue
		}
		if err := e.d.run(st.run); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		ran[st.name] = true
		if st.name == "upload" {
			e.put(t, e.G, G)
			e.put(t, e.GP, GP)
			e.put(t, e.V, V)
		}
	}
	if len(ran) != 7 {
		t.Fatalf("ran only the stages %v", ran)
	}
	S := e.getF64(t, e.slots(0), slotStride)
	rel := func(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }
	if S[sCIK] != K {
		t.Errorf("count %g, want %g", S[sCIK], K)
	}
	if d := rel(S[sCIMean], mean); d > 1e-6 {
		t.Errorf("mean r = %.12g, want %.12g (relative error %.2g)", S[sCIMean], mean, d)
	}
	if d := rel(S[sCISqDev], dev); d > 1e-6 {
		t.Errorf("sum (r - mean)^2 = %.9g, want %.9g (relative error %.2g)", S[sCISqDev], dev, d)
	}
	if d := rel(S[sLCI], dev/K); d > 1e-6 {
		t.Errorf("L_ci = %.9g, want %.9g (relative error %.2g)", S[sLCI], dev/K, d)
	} else {
		t.Logf("L_ci = %.9g (two-pass float64 %.9g) at mean r %.6g over %g steps", S[sLCI], dev/K, mean, K)
	}
}

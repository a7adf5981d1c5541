package reference

import (
	"math"
	"math/rand/v2"
	"testing"
)

// unitRows draws n non-negative unit vectors of length N (as Norm-ReLU
// makes them), with about a third of the entries zero.
func unitRows(rng *rand.Rand, n, N int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		for {
			row := make([]float64, N)
			for k := range row {
				if rng.Float64() < 0.7 {
					row[k] = rng.Float64()
				}
			}
			if g, nrm := NormReLU(row); nrm > ZeroNorm {
				rows[i] = g
				break
			}
		}
	}
	return rows
}

// walk draws velocities ([B][T][2], components uniform in (-s, s)) and the
// positions they lead to.
func walk(rng *rand.Rand, B, T int, s float64) (vel, pos []float64) {
	vel, pos = make([]float64, B*T*2), make([]float64, B*T*2)
	for b := 0; b < B; b++ {
		var x, y float64
		for t := 0; t < T; t++ {
			i := (b*T + t) * 2
			vel[i], vel[i+1] = s*(2*rng.Float64()-1), s*(2*rng.Float64()-1)
			x, y = x+vel[i], y+vel[i+1]
			pos[i], pos[i+1] = x, y
		}
	}
	return vel, pos
}

// checkFD compares grad with central differences of loss over every entry
// of the rows xs, which loss reads.
func checkFD(t *testing.T, what string, xs [][]float64, grad [][]float64, loss func() float64) {
	t.Helper()
	v0 := loss()
	if !(v0 != 0) || math.IsNaN(v0) || math.IsInf(v0, 0) {
		t.Fatalf("%s: the loss is %g: the test would check nothing", what, v0)
	}
	const h = 1e-6
	var num, diff float64
	for i := range xs {
		for k := range xs[i] {
			old := xs[i][k]
			xs[i][k] = old + h
			lp := loss()
			xs[i][k] = old - h
			lm := loss()
			xs[i][k] = old
			fd := (lp - lm) / (2 * h)
			num += fd * fd
			diff += (fd - grad[i][k]) * (fd - grad[i][k])
		}
	}
	if !(num > 0) {
		t.Fatalf("%s: the finite differences are all zero: the test would check nothing", what)
	}
	if r := math.Sqrt(diff / num); !(r < 1e-6) {
		t.Errorf("%s: relative error %.3g against finite differences (|fd| %.3g)", what, r, math.Sqrt(num))
	}
}

func TestNormReLU(t *testing.T) {
	g, n := NormReLU([]float64{3, -1, 4, 0})
	if want := []float64{0.6, 0, 0.8, 0}; n != 5 || dist2(g, want) > 1e-30 {
		t.Errorf("NormReLU(3, -1, 4, 0) = %v (norm %g), want %v (5)", g, n, want)
	}
	// At the threshold the state is zero; just above it, it is not.
	if g, n := NormReLU([]float64{ZeroNorm, -1}); n != ZeroNorm || g[0] != 0 {
		t.Errorf("at ||ReLU(y)|| = ZeroNorm: %v (norm %g), want the zero vector", g, n)
	}
	if g, _ := NormReLU([]float64{2 * ZeroNorm, -1}); g[0] != 1 {
		t.Errorf("at ||ReLU(y)|| = 2 ZeroNorm: %v, want (1, 0)", g)
	}
	if g, n := NormReLU([]float64{-1, -2}); n != 0 || g[0] != 0 || g[1] != 0 {
		t.Errorf("all negative: %v (norm %g)", g, n)
	}
	if d := NormReLUGrad([]float64{0, 0}, 0, []float64{1, 1}); d[0] != 0 || d[1] != 0 {
		t.Errorf("gradient at a zero state %v, want zero", d)
	}
}

func TestNormReLUGradFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const N = 9
	y := make([]float64, N)
	u := make([]float64, N)
	for k := range y {
		y[k] = 2*rng.Float64() - 1
		if math.Abs(y[k]) < 0.05 {
			y[k] = 0.3 // away from the kink of ReLU
		}
		u[k] = rng.NormFloat64()
	}
	loss := func() float64 {
		g, _ := NormReLU(y)
		var s float64
		for k := range g {
			s += u[k] * g[k]
		}
		return s
	}
	g, n := NormReLU(y)
	checkFD(t, "NormReLU", [][]float64{y}, [][]float64{NormReLUGrad(g, n, u)}, loss)
}

func TestPairGradFD(t *testing.T) {
	const B, T, N = 3, 8, 5
	for _, red := range []Reduction{Mean, Sum} {
		for _, lam := range [][2]float64{{1, 0}, {0, 0.7}, {1, 0.1}} {
			rng := rand.New(rand.NewPCG(2, uint64(red)))
			g := unitRows(rng, B*T, N)
			_, pos := walk(rng, B, T, 0.08)
			const sx, sg = 0.1, 0.4
			ps := Pairs(g, pos, sx, sg)
			if ps.Far == 0 || ps.Near == 0 {
				t.Fatalf("far %d, near %d pairs: both terms must have pairs", ps.Far, ps.Near)
			}
			loss := func() float64 {
				s := Pairs(g, pos, sx, sg)
				return lam[0]*s.Sep(red) + lam[1]*s.Inv(red)
			}
			checkFD(t, "pairs", g, PairGrad(g, pos, sx, sg, lam[0], lam[1], red), loss)
		}
	}
}

func TestPairsCountsAndBoundary(t *testing.T) {
	g := [][]float64{{1, 0}, {0, 1}, {1, 0}}
	// 0 and 1 exactly 0.5 apart: neither near nor far; 2 far from both.
	pos := []float64{0, 0, 0.5, 0, 3, 0}
	s := Pairs(g, pos, 0.5, 1)
	if s.Far != 4 || s.Near != 0 {
		t.Errorf("far %d near %d, want 4 and 0", s.Far, s.Near)
	}
	if want := 2 * (math.Exp(-1) + 1); math.Abs(s.SepSum-want) > 1e-15 {
		t.Errorf("separation sum %g, want %g", s.SepSum, want)
	}
	if s.Inv(Mean) != 0 || s.Inv(Sum) != 0 {
		t.Errorf("invariance over no pairs: %g, %g, want 0", s.Inv(Mean), s.Inv(Sum))
	}
}

func TestCapacityGradFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	g := unitRows(rng, 11, 6)
	checkFD(t, "capacity", g, CapacityGrad(g), func() float64 { return Capacity(g) })
	c := Capacity([][]float64{{1, 0}, {1, 0}})
	if c != -1 {
		t.Errorf("capacity of a constant code %g, want -1", c)
	}
}

func TestCIGradFD(t *testing.T) {
	const B, T, N = 3, 10, 6
	cases := []struct {
		name string
		w    CIWindow
	}{
		{"paper", PaperCI(0.1)},
		{"window", CIWindow{MaxLag: 3, MaxDist: 0.25, Bins: 1}},
		{"scale", CIWindow{MaxLag: 3, MaxDist: 0.25, Scale: 4, Bins: 1}},
		{"bins", CIWindow{MaxLag: 4, MaxDist: 0.3, Bins: 3}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, uint64(i)))
			vel, _ := walk(rng, B, T, 0.1)
			G := make([][][]float64, B)
			g0 := unitRows(rng, 1, N)[0]
			for b := range G {
				G[b] = append([][]float64{g0}, unitRows(rng, T, N)...)
			}
			if _, K := ConformalIsometry(G, vel, c.w); K < 3 {
				t.Fatalf("%d pairs: too few to check", K)
			}
			grad := CIGrad(G, vel, c.w)
			var rows, grows [][]float64
			for b := range G {
				rows, grows = append(rows, G[b][1:]...), append(grows, grad[b][1:]...)
			}
			// g_0 is shared: its gradient is the sum over trajectories.
			g0grad := make([]float64, N)
			for b := range G {
				for k := range g0grad {
					g0grad[k] += grad[b][0][k]
				}
			}
			rows, grows = append(rows, g0), append(grows, g0grad)
			loss := func() float64 { l, _ := ConformalIsometry(G, vel, c.w); return l }
			checkFD(t, c.name, rows, grows, loss)
		})
	}
}

func TestCIForms(t *testing.T) {
	// One trajectory whose consecutive states are 0.1 apart over steps of
	// 0.01 m and 0.04 m: r = 10 and 2.5.
	G := [][][]float64{{{1, 0}, {1, 0.1}, {1, 0.2}}}
	vel := []float64{0.01, 0, 0, 0.04}
	if l, K := ConformalIsometry(G, vel, PaperCI(0.05)); K != 2 || math.Abs(l-14.0625) > 1e-12 {
		t.Errorf("variance of (10, 2.5) = %g over %d pairs, want 14.0625 over 2", l, K)
	}
	if l, _ := ConformalIsometry(G, vel, CIWindow{MaxLag: 1, MaxDist: 0.05, Scale: 5, Bins: 1}); math.Abs(l-15.625) > 1e-12 {
		t.Errorf("mean (r - 5)^2 = %g, want 15.625", l)
	}
	// Two bins of 0.025 m: each pair alone in its bin, no within-bin spread.
	if l, _ := ConformalIsometry(G, vel, CIWindow{MaxLag: 1, MaxDist: 0.05, Bins: 2}); math.Abs(l) > 1e-12 {
		t.Errorf("pooled within-bin variance %g, want 0", l)
	}
	// Lag 2 adds the pair (g_0, g_2): 0.2 over hypot(0.01, 0.04).
	pairs := CIPairs(G, vel, CIWindow{MaxLag: 2, MaxDist: 0.05, Bins: 1})
	if len(pairs) != 3 || pairs[2].Lag != 2 || math.Abs(pairs[2].Disp-math.Hypot(0.01, 0.04)) > 1e-15 {
		t.Errorf("pairs with lag up to 2: %+v", pairs)
	}
	if l, K := ConformalIsometry(G, vel, PaperCI(0.005)); l != 0 || K != 0 {
		t.Errorf("no step shorter than MaxDist: %g over %d pairs, want 0 over 0", l, K)
	}
}

// The two-pass variance keeps its digits where r is large and its spread
// small (the one-pass form, logged for comparison, does not in float32).
func TestCIVarianceTwoPass(t *testing.T) {
	// Ratios 300 + 1e-3 k, k = 0..3: variance 1.25e-6.
	var G [][][]float64
	var vel []float64
	var s1, s2 float32
	for k := 0; k < 4; k++ {
		r := 300 + 1e-3*float64(k)
		d := 1e-3 // step length; the states move by r*d
		G = append(G, [][]float64{{0, 0}, {r * d, 0}})
		vel = append(vel, d, 0)
		s1 += float32(r)
		s2 += float32(r) * float32(r)
	}
	l, K := ConformalIsometry(G, vel, PaperCI(0.05))
	if K != 4 || math.Abs(l-1.25e-6) > 1e-12 {
		t.Errorf("variance %.12g over %d pairs, want 1.25e-6 over 4", l, K)
	}
	t.Logf("two-pass %.6g; one-pass in float32: %.6g", l, s2/4-(s1/4)*(s1/4))
}

func TestForward(t *testing.T) {
	// W(v) = I for every v (zero weights, identity bias): every state is g_0.
	const N, H = 3, 2
	p := &Params{N: N, H: H, W0: make([]float64, 2*H), B0: make([]float64, H), W1: make([]float64, H*H),
		B1: make([]float64, H), W2: make([]float64, N*N*H), B2: make([]float64, N*N), G0: []float64{3, -1, 4}}
	for i := 0; i < N; i++ {
		p.B2[i*N+i] = 1
	}
	s := Forward(p, []float64{0.1, 0, 0, 0.1, 0.2, 0.2, -0.1, 0}, 2, 2)
	for b := 0; b < 2; b++ {
		for tt := 0; tt <= 2; tt++ {
			if dist2(s.G[b][tt], []float64{0.6, 0, 0.8}) > 1e-30 || s.Norm[b][tt] != map[bool]float64{true: 5, false: 1}[tt == 0] {
				t.Errorf("state %d,%d = %v (norm %g)", b, tt, s.G[b][tt], s.Norm[b][tt])
			}
		}
	}
	if s.Zeros() != 0 || len(s.Stepped()) != 4 {
		t.Errorf("zeros %d, stepped %d", s.Zeros(), len(s.Stepped()))
	}
	// W(v) = -I: every stepped state is zero.
	for i := 0; i < N; i++ {
		p.B2[i*N+i] = -1
	}
	if z := Forward(p, []float64{0.1, 0, 0, 0.1}, 1, 2).Zeros(); z != 2 {
		t.Errorf("zeros %d, want 2", z)
	}
}

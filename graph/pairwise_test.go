package graph

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gridgpu/gridgpu/reference"
)

// pairCase draws P unit-norm non-negative states (as Norm-ReLU makes them)
// and positions on a random walk, with a few exact repeats of positions
// and of states.
func pairCase(P, N int, seed uint64, zeroStates bool) ([]float64, []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := make([]float64, P*N)
	pos := make([]float32, 2*P)
	var x, y float64
	for i := 0; i < P; i++ {
		x += 0.1 * (rng.Float64() - 0.5)
		y += 0.1 * (rng.Float64() - 0.5)
		pos[2*i], pos[2*i+1] = float32(x), float32(y)
		if i > 0 && i%11 == 0 {
			pos[2*i], pos[2*i+1] = pos[2*i-2], pos[2*i-1] // same place
		}
		if zeroStates {
			continue
		}
		row := g[i*N : (i+1)*N]
		if i > 0 && i%13 == 0 {
			copy(row, g[(i-1)*N:i*N]) // same state
			continue
		}
		var ss float64
		for k := range row {
			if rng.Float64() < 0.6 {
				row[k] = rng.Float64()
				ss += row[k] * row[k]
			}
		}
		if ss > 0 {
			for k := range row {
				row[k] /= math.Sqrt(ss)
			}
		}
	}
	return g, pos
}

func toRows(g []float64, P, N int) [][]float64 {
	rows := make([][]float64, P)
	for i := range rows {
		rows[i] = g[i*N : (i+1)*N]
	}
	return rows
}

func convert[T float](x []float64) []T {
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

// checkPairs compares the tiled op in element type T with the reference's
// loop over ordered pairs.
func checkPairs[T float](t *testing.T, P, N, block int, lc LossConfig, g []float64, pos []float32, tol float64) {
	t.Helper()
	rows, x, red := toRows(g, P, N), reference.F64(pos), refReduction(lc)
	ref := reference.Pairs(rows, x, lc.SigmaX, lc.SigmaG)
	want := pairResult{Sep: ref.Sep(red), Inv: ref.Inv(red), NFar: int64(ref.Far), NNear: int64(ref.Near), SepSum: ref.SepSum, InvSq: ref.InvSum}
	// The op computes only the terms of non-zero weight.
	if lc.LambdaSep == 0 {
		want.Sep = 0
	}
	if lc.LambdaInv == 0 {
		want.Inv = 0
	}
	wantGrad := reference.PairGrad(rows, x, lc.SigmaX, lc.SigmaG, lc.LambdaSep, lc.LambdaInv, red)
	gt := convert[T](g)
	dg := make([]T, P*N)
	got := pairLossBlock(P, N, gt, pos, lc, dg, block, nil)
	if got.NFar != want.NFar || got.NNear != want.NNear {
		t.Errorf("counts far %d near %d, reference %d %d", got.NFar, got.NNear, want.NFar, want.NNear)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"sep", got.Sep, want.Sep}, {"inv", got.Inv, want.Inv}, {"sep sum", got.SepSum, want.SepSum}, {"inv sum", got.InvSq, want.InvSq}} {
		if c.name == "sep sum" && lc.LambdaSep == 0 || c.name == "inv sum" && lc.LambdaInv == 0 {
			continue
		}
		if math.Abs(c.got-c.want) > tol*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %.12g, reference %.12g", c.name, c.got, c.want)
		}
	}
	var num, den float64
	for i := 0; i < P; i++ {
		for k := 0; k < N; k++ {
			d := float64(dg[i*N+k]) - wantGrad[i][k]
			num += d * d
			den += wantGrad[i][k] * wantGrad[i][k]
		}
	}
	if math.Sqrt(num) > tol*math.Max(math.Sqrt(den), 1e-300) && math.Sqrt(num) > 1e-12 {
		t.Errorf("gradient: |error| %.3g, |reference| %.3g", math.Sqrt(num), math.Sqrt(den))
	}
	// Without a gradient buffer the values are the same.
	if v := pairLossBlock(P, N, gt, pos, lc, nil, block, nil); v.Sep != got.Sep || v.Inv != got.Inv {
		t.Errorf("without gradient: sep %g inv %g, with: %g %g", v.Sep, v.Inv, got.Sep, got.Inv)
	}
}

func TestPairLossMatchesReference(t *testing.T) {
	paper := PaperLoss()
	sum := paper
	sum.Reduction = ReduceSum
	noNear := paper
	noNear.SigmaX = 1e-9
	noFar := paper
	noFar.SigmaX = 100
	sepOnly := LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaSep: 1, Reduction: ReduceMean}
	invOnly := LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaInv: 0.7, Reduction: ReduceMean}
	wide := paper
	wide.SigmaX, wide.SigmaG = 0.2, 0.1 // many near pairs, steep kernel
	cases := []struct {
		name  string
		P, N  int
		block int
		lc    LossConfig
		zero  bool
	}{
		{"P=1", 1, 4, 16, paper, false},
		{"P=2", 2, 3, 16, paper, false},
		{"P<tile", 13, 5, 16, paper, false},
		{"P=tile", 16, 5, 16, paper, false},
		{"P=2tiles", 32, 6, 16, paper, false},
		{"ragged", 61, 7, 16, paper, false},
		{"ragged-wide", 75, 9, 8, wide, false},
		{"default-tile-ragged", 300, 12, pairBlock, paper, false},
		{"default-tile-small", 100, 8, pairBlock, paper, false},
		{"sum", 61, 7, 16, sum, false},
		{"no-near-pairs", 45, 6, 16, noNear, false},
		{"no-far-pairs", 45, 6, 16, noFar, false},
		{"all-zero-states", 40, 6, 16, paper, true},
		{"sep-only", 50, 6, 16, sepOnly, false},
		{"inv-only", 50, 6, 16, invOnly, false},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, pos := pairCase(c.P, c.N, uint64(ci+1), c.zero)
			t.Run("float64", func(t *testing.T) { checkPairs[float64](t, c.P, c.N, c.block, c.lc, g, pos, 1e-10) })
			t.Run("float32", func(t *testing.T) { checkPairs[float32](t, c.P, c.N, c.block, c.lc, g, pos, 2e-5) })
		})
	}
}

// The gradient of the float64 op against central finite differences of its
// own value, independent of any derivation.
func TestPairLossFiniteDifferences(t *testing.T) {
	const P, N = 40, 5
	lc := PaperLoss()
	lc.SigmaX = 0.1
	g, pos := pairCase(P, N, 99, false)
	dg := make([]float64, P*N)
	r0 := pairLossBlock(P, N, g, pos, lc, dg, 16, nil)
	for _, v := range []struct {
		name  string
		value float64
		pairs int64
	}{{"separation", r0.Sep, r0.NFar}, {"invariance", r0.Inv, r0.NNear}} {
		if v.pairs == 0 || v.value == 0 || math.IsNaN(v.value) || math.IsInf(v.value, 0) {
			t.Fatalf("the %s term is %g over %d pairs: its gradient would not be checked", v.name, v.value, v.pairs)
		}
	}
	value := func() float64 {
		r := pairLossBlock(P, N, g, pos, lc, nil, 16, nil)
		return lc.LambdaSep*r.Sep + lc.LambdaInv*r.Inv
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const h = 1e-6
	for _, k := range rng.Perm(P * N)[:25] {
		fd := centralDiff(g, k, h, value)
		if math.Abs(fd-dg[k]) > 1e-6*math.Max(1e-3, math.Abs(fd)) {
			t.Errorf("entry %d: finite difference %.9g, analytic %.9g", k, fd, dg[k])
		}
	}
}

// The result is bit-for-bit the same whatever the number of goroutines.
func TestPairLossDeterministic(t *testing.T) {
	const P, N = 150, 8
	g64, pos := pairCase(P, N, 5, false)
	g := convert[float32](g64)
	run := func(procs int) (pairResult, []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		dg := make([]float32, P*N)
		return pairLossBlock(P, N, g, pos, PaperLoss(), dg, 16, nil), dg
	}
	r1, d1 := run(1)
	r4, d4 := run(4)
	if r1 != r4 {
		t.Errorf("1 goroutine %+v, 4 goroutines %+v", r1, r4)
	}
	for i := range d1 {
		if d1[i] != d4[i] {
			t.Fatalf("gradient entry %d: %g with 1 goroutine, %g with 4", i, d1[i], d4[i])
		}
	}
}

// pairCounts against the reference's count over every ordered pair, with
// pairs exactly sigma_x apart (neither near nor far) and repeated
// positions.
func TestPairCounts(t *testing.T) {
	pos := []float32{0, 0, 0.5, 0, 0.5, 0, 1, 0.25, -3, 7, 0, 0.5, 0.25, 0.25}
	for _, sx := range []float64{0.5, 0.25, 1e-9, 0.3, 100} {
		// The states do not matter for the counts.
		ref := reference.Pairs(make([][]float64, len(pos)/2), reference.F64(pos), sx, 1)
		gf, gn := pairCounts(pos, sx)
		if gf != int64(ref.Far) || gn != int64(ref.Near) {
			t.Errorf("sigma_x %g: far %d near %d, reference %d %d", sx, gf, gn, ref.Far, ref.Near)
		}
	}
}

func TestExpNeg(t *testing.T) {
	var worst float64
	for x := 0.0; x < 60; x += 0.000913 {
		want := math.Exp(-x)
		if r := math.Abs(expNeg(x)-want) / want; r > worst {
			worst = r
		}
	}
	if worst > 1e-11 {
		t.Errorf("worst relative error %.3g", worst)
	}
	if expNeg(800) > 1e-300 || expNeg(math.Inf(1)) > 1e-300 || !math.IsNaN(expNeg(math.NaN())) {
		t.Errorf("large or NaN arguments: %g %g %g", expNeg(800), expNeg(math.Inf(1)), expNeg(math.NaN()))
	}
}

// BenchmarkPairLoss times the fused pairwise op (values and gradient) at
// the four benchmark sizes.
func BenchmarkPairLoss(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			P := s.B * s.T
			g64, pos := pairCase(P, s.N, 3, false)
			g := convert[float32](g64)
			dg := make([]float32, P*s.N)
			var sc pairScratch[float32]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pairLossBlock(P, s.N, g, pos, PaperLoss(), dg, pairBlock, &sc)
			}
			b.ReportMetric(float64(P)*float64(P-1)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
		})
	}
}

// BenchmarkPairCounts times the near/far pair count at paper size.
func BenchmarkPairCounts(b *testing.B) {
	_, pos := pairCase(7800, 1, 3, true)
	for i := 0; i < b.N; i++ {
		pairCounts(pos, 0.05)
	}
}

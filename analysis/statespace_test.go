package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// torusCode is a hand-made module: n units whose activity is a rectified
// hexagonal lattice (period 0.5 m, orientation 10 degrees) with a random
// offset each, sampled at K random positions in a 2 m arena, plus its
// ratemaps. noise replaces the states with position-independent noise.
func torusCode(rng *rand.Rand, n, K int, noise bool) (states []float32, pos []float64, maps []float64, bins Binning, offsets [][2]float64, kA, kB [2]float64) {
	const L, period, orient = 2.0, 0.5, 10.0
	bins = NewBinning(L, 20)
	kA, kB = ModuleWaveVectors(period, orient)
	k := 4 * math.Pi / (math.Sqrt(3) * period)
	var ks [3][2]float64
	for w := 0; w < 3; w++ {
		th := (orient + 30 + 60*float64(w)) * math.Pi / 180
		ks[w] = [2]float64{k * math.Cos(th), k * math.Sin(th)}
	}
	offsets = make([][2]float64, n)
	for u := range offsets {
		offsets[u] = [2]float64{rng.Float64() * period, rng.Float64() * period}
	}
	rate := func(u int, x, y float64) float64 {
		var s float64
		for _, kw := range ks {
			s += math.Cos(kw[0]*(x-offsets[u][0]) + kw[1]*(y-offsets[u][1]))
		}
		return max(0, s)
	}
	states = make([]float32, K*n)
	pos = make([]float64, 2*K)
	for i := 0; i < K; i++ {
		x, y := (rng.Float64()-0.5)*L, (rng.Float64()-0.5)*L
		pos[2*i], pos[2*i+1] = x, y
		for u := 0; u < n; u++ {
			v := rate(u, x, y) + 0.05*rng.NormFloat64()
			if noise {
				v = rng.Float64()
			}
			states[i*n+u] = float32(v)
		}
	}
	nb := bins.NB * bins.NB
	maps = make([]float64, n*nb)
	for u := 0; u < n; u++ {
		for ix := 0; ix < bins.NB; ix++ {
			for iy := 0; iy < bins.NB; iy++ {
				x, y := bins.Centre(ix, iy)
				maps[u*nb+ix*bins.NB+iy] = rate(u, x, y)
			}
		}
	}
	return
}

func TestModuleStateSpaceTorus(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n, K = 12, 1500
	states, pos, maps, bins, offsets, kA, kB := torusCode(rng, n, K, false)
	units := make([]int, n)
	for i := range units {
		units[i] = i
	}
	start := time.Now()
	ss := ModuleStateSpace(states, pos, n, units, kA, kB, maps, bins, DefaultStateSpaceOptions)
	t.Logf("torus: %d points embedded in %.2f s; PCA variance %.3f; continuity %.3f; phase spread %.2f", ss.Points, time.Since(start).Seconds(), ss.PCAVariance, ss.Continuity, ss.PhaseSpread)
	for u := 0; u < n; u++ {
		wa := wrap2pi(kA[0]*offsets[u][0] + kA[1]*offsets[u][1])
		wb := wrap2pi(kB[0]*offsets[u][0] + kB[1]*offsets[u][1])
		if d := torusDist([2]float64{float64(ss.UnitPhases[u][0]), float64(ss.UnitPhases[u][1])}, [2]float64{wa, wb}); d > 0.15 {
			t.Errorf("unit %d: phases %.2f, want %.2f %.2f", u, ss.UnitPhases[u], wa, wb)
		}
	}
	if ss.Continuity > 0.15 {
		t.Errorf("torus: continuity %.3f, want < 0.15 (the state is a function of the lattice phase)", ss.Continuity)
	}
	var top float64
	for _, v := range ss.PCAVariance {
		top += v
	}
	if top < 0.85 {
		t.Errorf("torus: the first %d components hold %.2f of the variance, want > 0.85", len(ss.PCAVariance), top)
	}
	if len(ss.Embedding) != ss.Points || len(ss.Embedding[0]) != 3 {
		t.Fatalf("embedding has %d points", len(ss.Embedding))
	}
	// Nearby points in the embedding have nearby lattice phases.
	E := mat.NewDense(ss.Points, 3, nil)
	for i, e := range ss.Embedding {
		E.SetRow(i, e)
	}
	ec := continuity(E, ss.Phases)
	t.Logf("torus: continuity of the 3-D embedding %.3f", ec)
	if ec > 0.5 {
		t.Errorf("torus: embedding continuity %.3f, want < 0.5", ec)
	}

	states, pos, maps, bins, _, kA, kB = torusCode(rng, n, K, true)
	ns := ModuleStateSpace(states, pos, n, units, kA, kB, maps, bins, DefaultStateSpaceOptions)
	t.Logf("noise: PCA variance %.3f; continuity %.3f", ns.PCAVariance, ns.Continuity)
	if ns.Continuity < 0.8 {
		t.Errorf("noise: continuity %.3f, want near 1", ns.Continuity)
	}
}

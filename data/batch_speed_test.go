package data

import (
	"math"
	"testing"
)

// TestMinSpeedFactor: factor 1 leaves the paper's stream untouched; a factor
// below 1 shortens steps by log-uniform factors in [f, 1] and keeps each
// step's direction and the permutation structure.
func TestMinSpeedFactor(t *testing.T) {
	plain, _ := NewSampler(3, 4, 50, AugmentPermute, 0.15)
	one, _ := NewSampler(3, 4, 50, AugmentPermute, 0.15)
	if err := one.SetMinSpeedFactor(1); err != nil {
		t.Fatal(err)
	}
	a, b := plain.Next(), one.Next()
	for i := range a.Vel {
		if a.Vel[i] != b.Vel[i] {
			t.Fatal("min speed factor 1 changed the microbatch")
		}
	}
	for _, bad := range []float64{0, -1, 1.5, math.NaN()} {
		if err := one.SetMinSpeedFactor(bad); err == nil {
			t.Errorf("factor %g accepted", bad)
		}
	}
	ref, _ := NewSampler(9, 3, 2000, AugmentPermute, 0.15)
	sc, _ := NewSampler(9, 3, 2000, AugmentPermute, 0.15)
	const f = 0.1
	if err := sc.SetMinSpeedFactor(f); err != nil {
		t.Fatal(err)
	}
	r, s := ref.Next(), sc.Next()
	// Trajectory 0 of both microbatches is a permutation of the same base
	// velocities (drawn before the factors), so the difference of their
	// summed log speeds is the sum of the log factors.
	var logRatio float64
	n := 0
	for k := 0; k < 2000; k++ {
		i := k * 2
		sp := math.Hypot(float64(s.Vel[i]), float64(s.Vel[i+1]))
		if sp > 0.15*math.Sqrt2+1e-6 {
			t.Fatalf("scaled speed %g exceeds the box", sp)
		}
		n++
		logRatio += math.Log(sp)
	}
	var refLog float64
	for k := 0; k < 2000; k++ {
		i := k * 2
		refLog += math.Log(math.Hypot(float64(r.Vel[i]), float64(r.Vel[i+1])))
	}
	// E[ln factor] = ln(f)/2 for a log-uniform factor in [f, 1]; its
	// standard error over 2000 steps is about 0.015.
	got := (logRatio - refLog) / float64(n)
	want := math.Log(f) / 2
	if math.Abs(got-want) > 0.15 {
		t.Errorf("mean log speed shift %.3f, want about %.3f", got, want)
	}
	// All trajectories share the same speeds (the permutation structure).
	speeds := func(tr int) map[float32]int {
		m := map[float32]int{}
		for k := 0; k < 2000; k++ {
			i := (tr*2000 + k) * 2
			m[s.Vel[i]*s.Vel[i]+s.Vel[i+1]*s.Vel[i+1]]++
		}
		return m
	}
	m0, m1 := speeds(0), speeds(1)
	for k, v := range m0 {
		if m1[k] != v {
			t.Fatal("trajectories of a scaled microbatch are not permutations of one velocity set")
		}
	}
}

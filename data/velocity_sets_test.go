package data

import (
	"slices"
	"testing"
)

// With VelocitySets = K the trajectories fall into K groups in order, of
// sizes differing by at most one; every trajectory of a group is a
// permutation of the group's set (so they all end at one point), and the
// groups' sets differ.
func TestVelocitySets(t *testing.T) {
	for _, c := range []struct{ B, T, K int }{{7, 5, 3}, {4, 6, 4}, {9, 4, 2}} {
		s, err := NewSampler(3, c.B, c.T, AugmentPermute, 0.15)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetVelocitySets(c.K); err != nil {
			t.Fatal(err)
		}
		b := s.Next()
		sorted := func(i int) []float32 {
			v := slices.Clone(b.Vel[i*c.T*2 : (i+1)*c.T*2])
			slices.Sort(v)
			return v
		}
		size := make([]int, c.K)
		first := make([]int, c.K)
		for i := 0; i < c.B; i++ {
			k := s.SetOf(i)
			if k < 0 || k >= c.K || (i > 0 && k < s.SetOf(i-1)) {
				t.Fatalf("B=%d K=%d: trajectory %d in set %d", c.B, c.K, i, k)
			}
			if size[k] == 0 {
				first[k] = i
			} else if !slices.Equal(sorted(i), sorted(first[k])) {
				t.Errorf("B=%d K=%d: trajectory %d is not a permutation of trajectory %d's set", c.B, c.K, i, first[k])
			}
			size[k]++
		}
		if slices.Max(size)-slices.Min(size) > 1 {
			t.Errorf("B=%d K=%d: group sizes %v", c.B, c.K, size)
		}
		for k := 1; k < c.K; k++ {
			if slices.Equal(sorted(first[k]), sorted(first[0])) {
				t.Errorf("B=%d K=%d: sets 0 and %d are equal", c.B, c.K, k)
			}
		}
	}
}

// One set draws the microbatches the sampler drew before sets existed: the
// set is drawn first, then the permutations, from the same stream.
func TestOneVelocitySetIsThePapersData(t *testing.T) {
	a, _ := NewSampler(5, 6, 8, AugmentPermute, 0.15)
	b, _ := NewSampler(5, 6, 8, AugmentPermute, 0.15)
	if err := b.SetVelocitySets(1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if !slices.Equal(a.Next().Vel, b.Next().Vel) {
			t.Fatalf("microbatch %d differs", i)
		}
	}
	// The first trajectory of the paper's draw: T velocities, then the
	// permutations. With two sets the first set is the same draw.
	c, _ := NewSampler(5, 6, 8, AugmentPermute, 0.15)
	d, _ := NewSampler(5, 6, 8, AugmentPermute, 0.15)
	if err := d.SetVelocitySets(2); err != nil {
		t.Fatal(err)
	}
	bc, bd := c.Next(), d.Next()
	sc, sd := slices.Clone(bc.Vel[:16]), slices.Clone(bd.Vel[:16])
	slices.Sort(sc)
	slices.Sort(sd)
	if !slices.Equal(sc, sd) {
		t.Error("the first set of two is not the one-set draw")
	}
}

func TestVelocitySetsRefused(t *testing.T) {
	for _, c := range []struct {
		augment string
		k       int
	}{{AugmentPermute, 0}, {AugmentPermute, 7}, {AugmentNone, 2}, {AugmentPermute, -1}} {
		s, _ := NewSampler(1, 6, 4, c.augment, 0.15)
		if err := s.SetVelocitySets(c.k); err == nil {
			t.Errorf("augment %s: %d velocity sets accepted", c.augment, c.k)
		}
	}
}

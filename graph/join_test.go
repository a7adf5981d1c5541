package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestJoinParams runs a joined network against its two networks run
// alone, on the same velocities (b's scaled by its gain): with a Norm-ReLU
// per block the joined state is [g_a; g_b] / sqrt(2); with one Norm-ReLU
// over both, each block has its network's direction (and blocks of unequal
// size join too).
func TestJoinParams(t *testing.T) {
	identity := InitSpec{Kind: InitIdentity, Scale: 0.3, G0: G0Abs}
	cases := []struct {
		name       string
		a, b       *Params
		gainB      float32
		normBlocks int
	}{
		{"block norm, gain 0.7", InitParamsSpec(8, 16, 1, identity), InitParamsSpec(8, 12, 2, identity), 0.7, 2},
		{"one norm, gain 1.4", InitParamsSpec(8, 16, 3, identity), InitParamsSpec(8, 16, 4, DefaultInit), 1.4, 0},
		{"unequal sizes", InitParamsSpec(6, 10, 5, identity), InitParamsSpec(4, 8, 6, identity), 1, 0},
	}
	const B, T = 3, 25
	r := rand.New(rand.NewPCG(7, 7))
	vel := make([]float32, B*T*2)
	for i := range vel {
		vel[i] = float32(0.3 * (r.Float64() - 0.5))
	}
	for _, c := range cases {
		j, err := JoinParams(c.a, c.b, 1, c.gainB)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		j.NormBlocks = c.normBlocks
		velB := make([]float32, len(vel))
		for i, v := range vel {
			velB[i] = c.gainB * v
		}
		sa, err := ForwardStates(c.a, vel, B, T)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := ForwardStates(c.b, velB, B, T)
		if err != nil {
			t.Fatal(err)
		}
		if c.gainB != 1 {
			// The check below can fail only if the gain shows in the states.
			plain, _ := ForwardStates(c.b, vel, B, T)
			moved := 0.0
			for i := range plain {
				moved = math.Max(moved, math.Abs(float64(plain[i]-sb[i])))
			}
			if moved < 1e-3 {
				t.Fatalf("%s: gain %g changes b's states by only %g; the test cannot see a lost gain", c.name, c.gainB, moved)
			}
		}
		sj, err := ForwardStates(j, vel, B, T)
		if err != nil {
			t.Fatal(err)
		}
		Na, Nb, N := c.a.N, c.b.N, j.N
		worst := 0.0
		for s := 0; s < B*T; s++ {
			ga, gb, gj := sa[s*Na:(s+1)*Na], sb[s*Nb:(s+1)*Nb], sj[s*N:(s+1)*N]
			// Each block's scale: 1/sqrt(2) with a norm per block, else
			// whatever the shared norm gives it (its own norm).
			ka, kb := float32(1/math.Sqrt2), float32(1/math.Sqrt2)
			if c.normBlocks == 0 {
				ka, kb = norm32(gj[:Na]), norm32(gj[Na:])
			}
			for i := range ga {
				worst = math.Max(worst, math.Abs(float64(gj[i]-ka*ga[i])))
			}
			for i := range gb {
				worst = math.Max(worst, math.Abs(float64(gj[Na+i]-kb*gb[i])))
			}
		}
		if worst > 2e-5 {
			t.Errorf("%s: joined states differ from the two networks' by up to %g", c.name, worst)
		}
		if c.a.N == c.b.N && !BlockDiagonal(j, 2) {
			t.Errorf("%s: joined W(v) is not block-diagonal", c.name)
		}
	}
}

func norm32(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return float32(math.Sqrt(s))
}

func TestJoinParamsRefuses(t *testing.T) {
	a := InitParams(4, 8, 1)
	if _, err := JoinParams(a, a, 1, 0); err == nil {
		t.Error("a zero gain was accepted")
	}
	if _, err := JoinParams(a, a, float32(math.NaN()), 1); err == nil {
		t.Error("a NaN gain was accepted")
	}
	bad := a.Clone()
	bad.G0 = bad.G0[:2]
	if _, err := JoinParams(a, bad, 1, 1); err == nil {
		t.Error("a network with a short g0 was accepted")
	}
}

// TestBlockDiagonal: MaskBlocks makes W(v) block-diagonal, and one
// non-zero off-block weight or bias undoes it.
func TestBlockDiagonal(t *testing.T) {
	p := InitParams(6, 4, 1)
	if BlockDiagonal(p, 2) {
		t.Fatal("a dense draw reads as block-diagonal")
	}
	MaskBlocks(p, 2)
	if !BlockDiagonal(p, 2) || !BlockDiagonal(p, 1) {
		t.Fatal("a masked network does not read as block-diagonal")
	}
	r := 0*6 + 5 // entry (0, 5): units of different blocks
	w := p.Clone()
	w.W2[r*4+3] = 1e-30
	b := p.Clone()
	b.B2[r] = -1
	if BlockDiagonal(w, 2) || BlockDiagonal(b, 2) {
		t.Error("an off-block weight or bias went unnoticed")
	}
}

// TestInitParts checks InitSpec.Parts: the start is block-diagonal, each
// block of every tensor is the fresh draw of its part (seed + 1000 k) read
// at its offset, the other entries are zero; Parts 0 and 1 are the one
// network; Blocks still masks on top.
func TestInitParts(t *testing.T) {
	spec := InitSpec{Kind: InitIdentity, Scale: 0.1, G0: G0Abs}
	const N, H, K, seed = 12, 9, 3, 5
	spec.Parts = K
	p := InitParamsSpec(N, H, seed, spec)
	if !BlockDiagonal(p, K) {
		t.Fatal("W(v) is not block-diagonal in the parts")
	}
	n, h := N/K, H/K
	for k := 0; k < K; k++ {
		q := InitParamsSpec(n, h, seed+uint64(k*PartSeedStride), InitSpec{Kind: InitIdentity, Scale: 0.1, G0: G0Abs})
		u0, h0 := k*n, k*h // the part's first unit and hidden unit
		for i := 0; i < h; i++ {
			for j := 0; j < 2; j++ {
				eq(t, "W0", p.W0[(h0+i)*2+j], q.W0[i*2+j])
			}
			eq(t, "B0", p.B0[h0+i], q.B0[i])
			eq(t, "B1", p.B1[h0+i], q.B1[i])
			for j := 0; j < H; j++ {
				want := float32(0)
				if j >= h0 && j < h0+h {
					want = q.W1[i*h+j-h0]
				}
				eq(t, "W1", p.W1[(h0+i)*H+j], want)
			}
		}
		for i := 0; i < n; i++ {
			eq(t, "G0", p.G0[u0+i], q.G0[i])
			for j := 0; j < n; j++ {
				r, rq := (u0+i)*N+u0+j, i*n+j
				eq(t, "B2", p.B2[r], q.B2[rq])
				for m := 0; m < H; m++ {
					want := float32(0)
					if m >= h0 && m < h0+h {
						want = q.W2[rq*h+m-h0]
					}
					eq(t, "W2", p.W2[r*H+m], want)
				}
			}
		}
	}
	one := InitSpec{Kind: InitIdentity, Scale: 0.1, G0: G0Abs}
	a := InitParamsSpec(N, H, seed, one)
	one.Parts = 1
	b := InitParamsSpec(N, H, seed, one)
	for i, x := range a.Slices() {
		for k := range x {
			eq(t, ParamNames[i], b.Slices()[i][k], x[k])
		}
	}
	spec.Blocks = 6
	if !BlockDiagonal(InitParamsSpec(N, H, seed, spec), 6) {
		t.Error("Parts 3 with Blocks 6: W(v) not block-diagonal in 6 blocks")
	}
}

func eq(t *testing.T, what string, got, want float32) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: %g, want %g", what, got, want)
	}
}

package graph

import (
	"math"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/reference"
)

// kickParams is a model whose W(v) is the identity for vx <= 0.5 and
// I - 100 h (every entry lowered by 100 h, h = vx - 0.5) above: a state
// survives every ordinary step unchanged and is zeroed by a step with
// vx > 0.5 (all of W g is then negative), after which it stays zero.
func kickParams(N, H int) *Params {
	p := ZeroParams(N, H)
	p.W0[0], p.B0[0] = 1, -0.5 // h1[0] = ReLU(vx - 0.5)
	for k := 0; k < H; k++ {
		p.W1[k*H+k] = 1
	}
	for o := 0; o < N*N; o++ {
		p.W2[o*H] = -100
	}
	for i := 0; i < N; i++ {
		p.B2[i*N+i] = 1
	}
	for i := range p.G0 {
		p.G0[i] = float32(i + 1)
	}
	return p
}

// ForwardStates, the forward pass behind every analysis, against the
// reference recurrence: every state of every trajectory, and exactly the
// same states zeroed.
func TestForwardStatesMatchesReference(t *testing.T) {
	negG0 := InitParams(6, 8, 3)
	for i := range negG0.G0 {
		negG0.G0[i] = -1 // g_0 is the zero vector, so is every later state
	}
	kick := kickParams(5, 3)
	kickVel := testBatch(t, 3, 6, data.AugmentNone, 9).Vel
	kickVel[2*2] = 1.5 // trajectory 0, step 3: vx = 1.5 zeroes the state
	cases := []struct {
		name      string
		p         *Params
		B, T      int
		vel       []float32 // nil: a sampled microbatch
		wantZeros int       // -1: any number
	}{
		{"B=1-T=1", InitParams(4, 3, 1), 1, 1, nil, -1},
		{"pytorch-init", InitParams(8, 12, 2), 3, 7, nil, -1},
		{"identity-init", InitParamsSpec(16, 8, 3, InitSpec{Kind: InitIdentity, Scale: 0.1, G0: G0Abs}), 5, 20, nil, 0},
		{"zero-g0", negG0, 2, 4, nil, 2 * 4},
		{"zeroed-mid-trajectory", kick, 3, 6, kickVel, 6 - 2},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vel := c.vel
			if vel == nil {
				vel = testBatch(t, c.B, c.T, data.AugmentPermute, uint64(40+i)).Vel
			}
			got, err := ForwardStates(c.p, vel, c.B, c.T)
			if err != nil {
				t.Fatal(err)
			}
			N := c.p.N
			if len(got) != c.B*c.T*N {
				t.Fatalf("%d values, want B*T*N = %d", len(got), c.B*c.T*N)
			}
			want := reference.Forward(reference.ParamsFrom32(c.p.N, c.p.H, c.p.Slices()), reference.F64(vel), c.B, c.T)
			if c.wantZeros >= 0 && want.Zeros() != c.wantZeros {
				t.Fatalf("the reference has %d zero states, the case is built for %d", want.Zeros(), c.wantZeros)
			}
			zeros := 0
			for b := 0; b < c.B; b++ {
				for tt := 1; tt <= c.T; tt++ {
					g := got[(b*c.T+tt-1)*N : (b*c.T+tt)*N]
					w := want.G[b][tt]
					var gn, diff float64
					for k, v := range g {
						gn += float64(v) * float64(v)
						diff += (float64(v) - w[k]) * (float64(v) - w[k])
					}
					if gn == 0 {
						zeros++
					}
					if wantZero := want.Norm[b][tt] <= reference.ZeroNorm; wantZero != (gn == 0) {
						t.Errorf("trajectory %d step %d: zero %v, reference zero %v", b, tt, gn == 0, wantZero)
					}
					// Unit (or zero) vectors: an absolute bound is a relative one.
					if d := math.Sqrt(diff); !(d < 1e-5) {
						t.Errorf("trajectory %d step %d: |state - reference| = %.3g", b, tt, d)
					}
				}
			}
			if zeros != want.Zeros() {
				t.Errorf("%d zero states, reference %d", zeros, want.Zeros())
			}
		})
	}
}

// Norm-ReLU in blocks on a hand-computed case: y = (3, -1, 4, 0 | 0, 2, -5, 0
// | -1, -2, 0, 0) in K = 3 blocks. Block 1: ReLU = (3, 0, 4, 0), norm 5,
// m = 5 sqrt(3); block 2: (0, 2, 0, 0), m = 2 sqrt(3); block 3 is silent and
// stays zero with m = 0. The live blocks have norm 1/sqrt(3) each.
func TestNormReLUBlocksByHand(t *testing.T) {
	y := []float64{3, -1, 4, 0, 0, 2, -5, 0, -1, -2, 0, 0}
	g := make([]float64, len(y))
	n := make([]float64, 3)
	normReLUBlocksInto(y, g, n)
	s3 := math.Sqrt(3)
	want := []float64{3 / (5 * s3), 0, 4 / (5 * s3), 0, 0, 1 / s3, 0, 0, 0, 0, 0, 0}
	for i := range want {
		if math.Abs(g[i]-want[i]) > 1e-15 {
			t.Errorf("g[%d] = %g, want %g", i, g[i], want[i])
		}
	}
	for k, w := range []float64{5 * s3, 2 * s3, 0} {
		if math.Abs(n[k]-w) > 1e-14 {
			t.Errorf("block %d: m = %g, want %g", k, n[k], w)
		}
	}
	// One block is the paper's Norm-ReLU: the reference's values, and the
	// reference's vector-Jacobian product.
	y1 := []float64{3, -1, 4, 0}
	g1, n1 := make([]float64, 4), make([]float64, 1)
	normReLUBlocksInto(y1, g1, n1)
	rg, rn := reference.NormReLU(y1)
	u := []float64{0.3, -2, 1.5, 7}
	dy := make([]float64, 4)
	normReLUBlocksBackward(g1, n1, u, dy)
	rdy := reference.NormReLUGrad(rg, rn, u)
	for i := range y1 {
		if math.Abs(g1[i]-rg[i]) > 1e-15 || math.Abs(dy[i]-rdy[i]) > 1e-15 {
			t.Errorf("unit %d: g %g dy %g, reference g %g dy %g", i, g1[i], dy[i], rg[i], rdy[i])
		}
	}
	if n1[0] != rn {
		t.Errorf("norm %g, reference %g", n1[0], rn)
	}
}

// ForwardStates (analysis) and the training graph normalise in the same
// blocks: the graph's states of a microbatch equal ForwardStates' on the
// same walks, for NormBlocks 2.
func TestForwardStatesNormBlocksMatchGraph(t *testing.T) {
	const B, T, N, H = 3, 5, 8, 16
	p := InitParamsSpec(N, H, 4, InitSpec{Kind: InitIdentity, Scale: 0.1, G0: G0Abs, Blocks: 2, BlockNorm: true})
	if p.NormBlocks != 2 {
		t.Fatalf("InitParamsSpec with Blocks 2 and BlockNorm: NormBlocks = %d", p.NormBlocks)
	}
	b := testBatch(t, B, T, data.AugmentPermute, 9)
	m := testModel(t, B, T, N, H, PaperLoss())
	defer m.Close()
	if _, err := m.Eval(p, b); err != nil {
		t.Fatal(err)
	}
	got, err := ForwardStates(p, b.Vel, B, T)
	if err != nil {
		t.Fatal(err)
	}
	s := m.impl.rec.s
	for bi := 0; bi < B; bi++ {
		for ti := 1; ti <= T; ti++ {
			row := s[(bi*(T+1)+ti)*N : (bi*(T+1)+ti+1)*N]
			var n1, n2 float64
			for k := 0; k < N; k++ {
				want := got[(bi*T+ti-1)*N+k]
				if math.Abs(float64(row[k]-want)) > 1e-5 {
					t.Fatalf("walk %d step %d unit %d: graph %g, ForwardStates %g", bi, ti, k, row[k], want)
				}
				if k < N/2 {
					n1 += float64(row[k] * row[k])
				} else {
					n2 += float64(row[k] * row[k])
				}
			}
			if math.Abs(n1-0.5) > 1e-5 || math.Abs(n2-0.5) > 1e-5 {
				t.Fatalf("walk %d step %d: block norms^2 %g and %g, want 1/2 each", bi, ti, n1, n2)
			}
		}
	}
	bad := p.Clone()
	bad.NormBlocks = 3
	if _, err := m.Eval(bad, b); err == nil || !strings.Contains(err.Error(), "must divide N") {
		t.Errorf("NormBlocks 3 of 8 units: error %v, want one naming the block count", err)
	}
}

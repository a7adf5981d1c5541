package graph

import (
	"math"
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

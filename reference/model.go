package reference

import (
	"fmt"
	"math"
)

// ZeroNorm is the Norm-ReLU threshold: where ||ReLU(y)|| <= ZeroNorm the
// state is the zero vector instead of ReLU(y)/||ReLU(y)||. It is the one
// definition of the threshold: the Go code uses this constant, and the
// CUDA kernels' ZERO_EPS (cuda/kernels/common.cuh) is its float32 rounding.
const ZeroNorm = 1e-8

// Params are the model's tensors in float64, row-major.
//
//	W0 [H][2]   B0 [H]      Linear(2, H)
//	W1 [H][H]   B1 [H]      Linear(H, H)
//	W2 [N*N][H] B2 [N*N]    Linear(H, N*N), output read as an N x N matrix
//	G0 [N]                  raw initial state: g_0 = NormReLU(G0)
type Params struct {
	N, H                   int
	W0, B0, W1, B1, W2, B2 []float64
	G0                     []float64
}

// ParamsFrom32 widens the seven tensors (in the order W0, B0, W1, B1, W2,
// B2, G0) to float64, exactly. It panics if a length does not fit N and H.
func ParamsFrom32(N, H int, tensors [][]float32) *Params {
	if len(tensors) != 7 {
		panic(fmt.Sprintf("reference: %d tensors, want 7", len(tensors)))
	}
	want := []int{2 * H, H, H * H, H, N * N * H, N * N, N}
	w := make([][]float64, 7)
	for i, t := range tensors {
		if len(t) != want[i] {
			panic(fmt.Sprintf("reference: tensor %d has %d values, want %d for N=%d, H=%d", i, len(t), want[i], N, H))
		}
		w[i] = F64(t)
	}
	return &Params{N: N, H: H, W0: w[0], B0: w[1], W1: w[2], B1: w[3], W2: w[4], B2: w[5], G0: w[6]}
}

// F64 widens float32 values to float64 (exactly).
func F64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, v := range xs {
		out[i] = float64(v)
	}
	return out
}

// NormReLU returns g = ReLU(y)/||ReLU(y)|| and n = ||ReLU(y)||. Where
// n <= ZeroNorm, g is the zero vector (n is still returned as computed).
func NormReLU(y []float64) (g []float64, n float64) {
	var ss float64
	for _, v := range y {
		if v > 0 {
			ss += v * v
		}
	}
	n = math.Sqrt(ss)
	g = make([]float64, len(y))
	if n <= ZeroNorm {
		return g, n
	}
	for i, v := range y {
		if v > 0 {
			g[i] = v / n
		}
	}
	return g, n
}

// NormReLUGrad maps u = dL/dg to dL/dy for g = NormReLU(y), n = ||ReLU(y)||.
//
// Where a unit is active (y_k > 0, equivalently g_k > 0), g = r/n with
// r = ReLU(y), and the Jacobian of r/||r|| is (I - g g^T)/n; ReLU passes the
// gradient only where y_k > 0:
//
//	dL/dy_k = (u_k - g_k (g . u)) / n   if g_k > 0,   0 otherwise.
//
// A zero state (n <= ZeroNorm) is constant in y: its gradient is zero.
func NormReLUGrad(g []float64, n float64, u []float64) []float64 {
	dy := make([]float64, len(g))
	if n <= ZeroNorm {
		return dy
	}
	var dot float64
	for k := range g {
		dot += g[k] * u[k]
	}
	for k, gk := range g {
		if gk > 0 {
			dy[k] = (u[k] - gk*dot) / n
		}
	}
	return dy
}

// Linear returns ReLU(W x + b) (relu) or W x + b for one input row x of K
// values; W is [len(b)][K], row-major.
func Linear(x, w, b []float64, relu bool) []float64 {
	K := len(x)
	out := make([]float64, len(b))
	for o := range out {
		s := b[o]
		for k := 0; k < K; k++ {
			s += w[o*K+k] * x[k]
		}
		if relu {
			s = math.Max(s, 0)
		}
		out[o] = s
	}
	return out
}

// MLP returns the hidden activations h1, h2 ([H] each) and W(v) ([N*N],
// row-major) for the velocity (vx, vy).
func MLP(p *Params, vx, vy float64) (h1, h2, w []float64) {
	h1 = Linear([]float64{vx, vy}, p.W0, p.B0, true)
	h2 = Linear(h1, p.W1, p.B1, true)
	w = Linear(h2, p.W2, p.B2, false)
	return h1, h2, w
}

// Step returns g = NormReLU(W prev) and n = ||ReLU(W prev)|| for an N x N
// matrix w (row-major, N = len(prev)).
func Step(w, prev []float64) (g []float64, n float64) {
	N := len(prev)
	y := make([]float64, N)
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			y[i] += w[i*N+j] * prev[j]
		}
	}
	return NormReLU(y)
}

// States are the states of B trajectories of T steps.
type States struct {
	B, T, N int
	// G[b][t] is g_{b,t} for t = 0..T; G[b][0] = g_0 for every b.
	G [][][]float64
	// Norm[b][t] is the Norm-ReLU norm of G[b][t]: ||ReLU(W(v_{b,t})
	// g_{b,t-1})|| for t >= 1, ||ReLU(G0)|| for t = 0.
	Norm [][]float64
}

// Forward runs the model on vel ([B][T][2], batch-major).
func Forward(p *Params, vel []float64, B, T int) *States {
	if len(vel) != B*T*2 {
		panic(fmt.Sprintf("reference: %d velocity values, want B*T*2 = %d", len(vel), B*T*2))
	}
	g0, n0 := NormReLU(p.G0)
	s := &States{B: B, T: T, N: p.N, G: make([][][]float64, B), Norm: make([][]float64, B)}
	for b := 0; b < B; b++ {
		s.G[b] = [][]float64{g0}
		s.Norm[b] = []float64{n0}
		for t := 1; t <= T; t++ {
			v := vel[(b*T+t-1)*2:]
			_, _, w := MLP(p, v[0], v[1])
			g, n := Step(w, s.G[b][t-1])
			s.G[b] = append(s.G[b], g)
			s.Norm[b] = append(s.Norm[b], n)
		}
	}
	return s
}

// Zeros counts the stepped states (t >= 1) that Norm-ReLU set to zero.
func (s *States) Zeros() int {
	z := 0
	for b := range s.Norm {
		for _, n := range s.Norm[b][1:] {
			if n <= ZeroNorm {
				z++
			}
		}
	}
	return z
}

// Stepped returns the P = B*T states g_{b,t}, t >= 1, as rows b*T + t-1
// (the rows alias s.G).
func (s *States) Stepped() [][]float64 {
	rows := make([][]float64, 0, s.B*s.T)
	for b := range s.G {
		rows = append(rows, s.G[b][1:]...)
	}
	return rows
}

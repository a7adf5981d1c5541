package graph

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// mlpForward computes W = Linear3(ReLU(Linear2(ReLU(Linear1(v))))) for the n
// velocities in vel ([n][2]) and writes [n][N*N] into out. h1 and h2 are
// scratch of n*H each and hold the hidden activations afterwards.
func mlpForward(p *Params, vel []float32, n int, h1, h2, out []float32) {
	H, NN := p.H, p.N*p.N
	for i := 0; i < n; i++ {
		vx, vy := vel[2*i], vel[2*i+1]
		for k := 0; k < H; k++ {
			h := p.W0[2*k]*vx + p.W0[2*k+1]*vy + p.B0[k]
			h1[i*H+k] = max(h, 0)
		}
	}
	gemmBias(n, H, H, h1, p.W1, p.B1, h2)
	for i := range h2[:n*H] {
		h2[i] = max(h2[i], 0)
	}
	gemmBias(n, NN, H, h2, p.W2, p.B2, out)
}

// gemmBias sets out[n][m] = x[n][k] * w[m][k]^T + bias[m].
func gemmBias(n, m, k int, x, w, bias, out []float32) {
	for i := 0; i < n; i++ {
		copy(out[i*m:(i+1)*m], bias)
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: n, Cols: k, Stride: k, Data: x[:n*k]},
		blas32.General{Rows: m, Cols: k, Stride: k, Data: w},
		1, blas32.General{Rows: n, Cols: m, Stride: m, Data: out[:n*m]})
}

// ForwardStates runs the network on B trajectories of T velocities (vel is
// [B][T][2]) from g_0 = NormReLU(G0) and returns the states g_1..g_T as
// [B][T][N]. It is the plain forward pass, for analysis of long trajectories:
// memory stays O(B*N*N) whatever T is.
func ForwardStates(p *Params, vel []float32, B, T int) ([]float32, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if len(vel) != B*T*2 {
		return nil, fmt.Errorf("velocities hold %d values, want B*T*2 = %d", len(vel), B*T*2)
	}
	N, H := p.N, p.H
	g0 := make([]float32, N)
	K := p.normBlocks()
	norms := make([]float64, K)
	normReLUBlocksInto(p.G0, g0, norms)
	prev := make([]float32, B*N)
	for b := 0; b < B; b++ {
		copy(prev[b*N:], g0)
	}
	states := make([]float32, B*T*N)
	vt := make([]float32, B*2)
	h1, h2 := make([]float32, B*H), make([]float32, B*H)
	w := make([]float32, B*N*N)
	y := make([]float32, N)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			vt[2*b], vt[2*b+1] = vel[(b*T+t)*2], vel[(b*T+t)*2+1]
		}
		mlpForward(p, vt, B, h1, h2, w)
		for b := 0; b < B; b++ {
			wb := w[b*N*N : (b+1)*N*N]
			gp := prev[b*N : (b+1)*N]
			for i := 0; i < N; i++ {
				var s float32
				row := wb[i*N : (i+1)*N]
				for j, g := range gp {
					s += row[j] * g
				}
				y[i] = s
			}
			out := states[(b*T+t)*N : (b*T+t+1)*N]
			normReLUBlocksInto(y, out, norms)
			copy(gp, out)
		}
	}
	return states, nil
}

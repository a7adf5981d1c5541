//go:build gridgpu_cuda

package cuda

import (
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// Distinct velocities: the MLP once per velocity, not once per state.
//
// With the paper's permutation augmentation every trajectory of a
// microbatch takes the same T velocities in another order, so the MLP
// v -> W(v) has only U <= T distinct inputs among the P = B*T states (the
// CPU graph's derivation is in graph/recurrence.go, "Distinct velocities").
// The engine then runs the MLP on U rows and lets each state look its W up:
//
//	h1_u = ReLU(W0 v_u + b0), h2_u = ReLU(W1 h1_u + b1), W_u = W2 h2_u + b2   (u < U)
//	y_i  = W_{idx[i]} g_{i-1}                                                  (state i = b*T + t)
//
// Backward, rnn_backward computes dy_i = dL/dy_i as on the P-row path but
// leaves W in place, and the gradient of W_u collects the steps that use it:
//
//	dL/dW_u = sum_{i: idx[i] = u} dy_i g_{i-1}^T = DY_u^T GP_u   (N x B_u x N, dw_distinct)
//	dL/db2  = sum_u dL/dW_u                                      (colsum over U rows)
//	dL/dW2  = dW^T H2   (N^2 x U x H),   dL/dh2 = dW W2   (U x N^2 x H)
//
// then the first two layers' backward on U rows. The three products that
// dominate the P-row path (P x N^2 x H each) shrink by P/U = B, and W(v)
// takes U x N^2 floats instead of P x N^2 (3.9 MB instead of 511 MB at
// paper size). Without shared velocities (data.augment none) U would be P:
// the P-row path runs instead (W_i per state, overwritten in place by dW_i,
// dL/db2 = DY^T GP).

// mlpRows is the MLP's rows for one microbatch.
type mlpRows struct {
	U int // rows of the MLP: the distinct velocities, or P (the P-row path)
	// idx is nil on the P-row path; otherwise it is the int32 buffer
	// uploaded to rowIdx: [P] the velocity u of state i = b*T + t, then
	// [U+1] where velocity u's states start in the list that follows, then
	// [P] the states grouped by velocity, increasing i within one.
	idx []int32
	vel []float32 // [U][2] the distinct velocities (nil on the P-row path)
}

// start and list are the offsets (in int32 elements) of idx's second and
// third parts.
func (r mlpRows) start(P int) int { return P }
func (r mlpRows) list(P int) int  { return P + r.U + 1 }

// rowsOf decides the path of microbatch b: the distinct-velocity path when
// its trajectories have at most T distinct velocities between them
// (graph.DistinctVelocities, the CPU graph's test, numbering the
// velocities in the same order), else (or with the allRows hook) the P-row
// path.
func (e *Engine) rowsOf(b *data.Batch) mlpRows {
	P, B, T := e.P, e.B, e.T
	if e.allRows {
		return mlpRows{U: P}
	}
	tm := graph.DistinctVelocities(b, T) // time-major: row t*B + b
	if tm == nil {
		return mlpRows{U: P}
	}
	U := 0
	for _, u := range tm {
		U = max(U, int(u)+1)
	}
	r := mlpRows{U: U, idx: make([]int32, 2*P+U+1), vel: make([]float32, 2*U)}
	idx, start, list := r.idx[:P], r.idx[r.start(P):r.list(P)], r.idx[r.list(P):]
	for bi := 0; bi < B; bi++ {
		for t := 0; t < T; t++ {
			i, u := bi*T+t, tm[t*B+bi]
			idx[i] = u
			start[u+1]++
			r.vel[2*u], r.vel[2*u+1] = b.Vel[2*i], b.Vel[2*i+1]
		}
	}
	for u := 0; u < U; u++ {
		start[u+1] += start[u]
	}
	next := append([]int32(nil), start[:U]...)
	for i, u := range idx {
		list[next[u]] = int32(i)
		next[u]++
	}
	return r
}

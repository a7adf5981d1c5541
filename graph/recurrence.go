package graph

import (
	"math"
	"slices"

	"github.com/gridgpu/gridgpu/reference"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The MLP's last layer fused with the velocity-gated recurrence, unrolled
// over T steps.
//
// Row order: the P = B*T rows of the MLP (velocities, hidden activations,
// the last layer's output) are time-major, row r = (t-1)*B + b (run()
// permutes the velocities); the products do not care about the order, and
// rows of one time step are adjacent for whoever wants to process the
// recurrence step by step.
// The state tensor s is batch-major, [B*(T+1)][N]: row b*(T+1)+t holds
// g_{b,t}, with t = 0 the shared start state g_0 = NormReLU(g0raw). Keeping
// g_0 as a row lets the conformal-isometry loss see g_{b,0} without a second
// gradient path.
//
// The last layer maps h2_r ([H]) to W_r = Wl h2_r + bl ([N*N], read as an
// N x N matrix; Wl is [N*N][H]). Its bias is the same N x N matrix Bl for
// every row, so the op stores only W'_r = Wl h2_r (one GEMM, no bias pass
// over the P x N*N output) and applies Bl in the recurrence:
//
//	y = (W'_r + Bl) g_{b,t-1},  r = ReLU(y),  g_{b,t} = r / ||r||  (0 when ||r|| <= reference.ZeroNorm)
//
// Backward. With u = dL/dg_{b,t} (the loss's direct gradient plus what flows
// back from step t+1) and n = ||r||:
//
//	dL/dr = (u - g (g.u)) / n            (Jacobian of r/||r|| is (I - g g^T)/n)
//	dL/dy = dL/dr * [y > 0]              (y > 0 exactly where g > 0)
//	dL/dW_r = dL/dy g_{b,t-1}^T          (an outer product: row k, column j)
//	dL/dg_{b,t-1} += (W'_r + Bl)^T dL/dy
//	dL/dBl = sum_r dL/dW_r = DY^T Gprev  (DY, Gprev: the P rows of dL/dy and g_{b,t-1})
//	dL/dh2_r = Wl^T vec(dL/dW_r),  dL/dWl = sum_r vec(dL/dW_r) h2_r^T
//
// The P x N*N gradient dL/dW (511 MB at paper size) is never formed. Its row
// r is the outer product dy_r g_r^T (dy_r = dL/dy, g_r = g_{b,t-1}), so with
// Wl read as [N][N][H] (row k*N+j is Wl[k][j]),
//
//	dL/dWl[k][j] = sum_r dy_r[k] g_r[j] h2_r   -> for each k: Gk^T H2k
//	dL/dh2_r    = sum_k dy_r[k] sum_j g_r[j] Wl[k][j]  -> for each k: Gk Wl[k]
//
// where, for output unit k, Gk stacks the rows dy_r[k] g_r and H2k the rows
// h2_r over the steps r with dy_r[k] != 0 only. Norm-ReLU zeroes dy_r[k]
// wherever unit k is silent (about half the units at initialisation), so
// these 2N products of k-sized slices do about half the arithmetic of the
// two dense products with dL/dW, and hold no P x N*N buffer.
//
// Distinct velocities. With the paper's permutation augmentation every
// trajectory of a microbatch takes the same T velocities in another order,
// so the MLP has only U = T distinct inputs among its P = B*T rows. The
// graph then runs the MLP and the last layer on those U rows (rows of h2 and
// W' are indexed by u; idx[r] names the distinct velocity of row r), and the
// backward pass first sums the outer products per distinct velocity,
//
//	dL/dW_u = sum_{r: idx[r] = u} dy_r g_r^T = DY_u^T Gprev_u   (N x B_u x N)
//
// after which the last layer's gradients are two dense products over U rows:
//
//	dL/dWl = dW^T H2  (N*N x U x H),   dL/dh2 = dW Wl  (U x N*N x H).
//
// The largest products then cost U x N^2 x H instead of P x N^2 x H, B times
// (130 at paper size) fewer multiply-adds; the per-velocity sums cost
// P x N^2. Without shared velocities (augment none) U = P, idx is the
// identity, and the gathered products above run instead.

// gatherRows is the number of gathered rows per product in the backward
// pass (a variable so that tests can make it small).
var gatherRows = 1024

// normReLUBlocksInto is Norm-ReLU in K = len(n) contiguous blocks of
// len(y)/K units (Params.NormBlocks): block k of g is r_k / m_k with
// r_k = ReLU(y_k) and m_k = ||r_k|| sqrt(K), so each block has norm
// 1/sqrt(K) and the whole state norm 1, as with one block. It stores m_k in
// n[k], or zero (the block zeroed) where ||r_k|| <= reference.ZeroNorm.
// K = 1 is the paper's Norm-ReLU, bit for bit.
func normReLUBlocksInto[T float](y, g []T, n []float64) {
	K := len(n)
	size := len(y) / K
	sqrtK := math.Sqrt(float64(K))
	for k := range n {
		yk, gk := y[k*size:(k+1)*size], g[k*size:(k+1)*size]
		var ss float64
		for _, v := range yk {
			if v > 0 {
				ss += float64(v) * float64(v)
			}
		}
		nk := math.Sqrt(ss)
		if nk <= reference.ZeroNorm {
			clear(gk)
			n[k] = 0
			continue
		}
		m := nk * sqrtK
		inv := 1 / m
		for i, v := range yk {
			if v > 0 {
				gk[i] = T(float64(v) * inv)
			} else {
				gk[i] = 0
			}
		}
		n[k] = m
	}
}

// normReLUBlocksBackward maps dL/dg to dL/dy for the K = len(n) blocks of
// normReLUBlocksInto. Within a block, g = r/m with m = ||r|| sqrt(K), so
// dg/dr = (I - r r^T/||r||^2)/m = (I - K g g^T)/m, and
//
//	dL/dy = (u - K g (g.u)) / m  where y > 0 (g > 0), else 0.
//
// With K = 1 this is (u - g (g.u))/||r||, the paper's Norm-ReLU.
func normReLUBlocksBackward[T, U float](g []T, n []float64, dg []U, dy []U) {
	K := len(n)
	size := len(g) / K
	fK := float64(K)
	for b, m := range n {
		gb, dgb, dyb := g[b*size:(b+1)*size], dg[b*size:(b+1)*size], dy[b*size:(b+1)*size]
		if m == 0 {
			clear(dyb)
			continue
		}
		var dot float64
		for k, gk := range gb {
			dot += float64(gk) * float64(dgb[k])
		}
		for k, gk := range gb {
			if gk > 0 {
				dyb[k] = U((float64(dgb[k]) - float64(gk)*dot*fK) / m)
			} else {
				dyb[k] = 0
			}
		}
	}
}

// recurForward fills s ([B*(T+1)][N]), the norms n ([B*(T+1)][K], K
// Norm-ReLU blocks) and gprev ([P][N], time-major: the state each step
// starts from) from the bias-free last-layer output w ([U][N*N]: row idx[r]
// serves time-major row r; nil idx: U = P and row r itself) and the bias bl
// ([N*N]). It returns how many of the B*T stepped states had a zeroed block.
func recurForward[T float](B, steps, N, K int, w []T, idx []int32, bl, g0raw, s []T, n []float64, gprev []T) int {
	g0 := make([]T, N)
	n0 := make([]float64, K)
	normReLUBlocksInto(g0raw, g0, n0)
	zeros := make([]int, B)
	NN := N * N
	parallelFor(B, func(b int) {
		y := make([]T, N)
		base := b * (steps + 1)
		copy(s[base*N:(base+1)*N], g0)
		copy(n[base*K:(base+1)*K], n0)
		for t := 1; t <= steps; t++ {
			r := (t-1)*B + b
			prev := s[(base+t-1)*N : (base+t)*N]
			copy(gprev[r*N:(r+1)*N], prev)
			gemv(false, N, N, 1, bl, N, prev, 0, y)
			wr := rowOf(idx, r)
			gemv(false, N, N, 1, w[wr*NN:(wr+1)*NN], N, prev, 1, y)
			nt := n[(base+t)*K : (base+t+1)*K]
			normReLUBlocksInto(y, s[(base+t)*N:(base+t+1)*N], nt)
			if slices.Contains(nt, 0) {
				zeros[b]++
			}
		}
	})
	total := 0
	for _, z := range zeros {
		total += z
	}
	return total
}

// setNormBlocks makes the states' Norm-ReLU work in K blocks
// (Params.NormBlocks).
func (r *recurrence[T]) setNormBlocks(K int) {
	if K != r.K {
		r.K = K
		r.n = make([]float64, r.B*(r.T+1)*K)
	}
}

// rowOf is the row of the distinct-velocity tensors that time-major row r
// uses.
func rowOf(idx []int32, r int) int {
	if idx == nil {
		return r
	}
	return int(idx[r])
}

// recurrence holds one graph's fused last layer and recurrence, and the
// buffers its two passes share. Everything is allocated once per graph.
type recurrence[T float] struct {
	B, T, N, H int
	U          int // rows of the MLP: distinct velocities (U = P: every row its own)
	model      *model[T]
	w          []T // [U][N*N], bias-free last-layer output
	// idx[r] is the distinct velocity of time-major row r, and rowsOf[u]
	// the rows of velocity u in increasing order; both nil when U = P.
	idx    []int32
	rowsOf [][]int32
	freeW  func()
	s      []T       // [B*(T+1)][N] states
	K      int       // Norm-ReLU blocks of a state (Params.NormBlocks)
	n      []float64 // [B*(T+1)][K] Norm-ReLU norms of the blocks of the rows of s
	gprev  []T       // [P][N] time-major: g_{b,t-1}
	zeros  int
	// backward
	dy, carry     []T
	scratch       [][]T // per goroutine: gathered rows and products
	dh2, dWl, dbl []T
	dg0           []T
	dW            []T // [U][N*N]: dL/dW per distinct velocity (U < P only)
}

// newRecurrence adds the last layer (weights wl [N*N][H], bias bl [N*N]) on
// the hidden activations h2 ([U][H]: time-major rows when U = P, distinct
// velocities otherwise, see setRows) and the recurrence from g0raw ([N]) to
// the graph, and returns the state node ([B*(T+1)][N]).
func newRecurrence[T float](mdl *model[T], B, steps, N int, h2, wl, bl, g0raw *G.Node) (*recurrence[T], *G.Node, error) {
	U, H := h2.Shape()[0], h2.Shape()[1]
	P, NN := B*steps, N*N
	r := &recurrence[T]{B: B, T: steps, N: N, H: H, U: U, model: mdl,
		s: make([]T, B*(steps+1)*N), K: 1, n: make([]float64, B*(steps+1)), gprev: make([]T, P*N)}
	fwd := newOp("sicRecurrence", []int{2, 2, 1, 1}, 2)
	fwd.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
	fwd.do = func(in []G.Value) (G.Value, error) {
		if r.w == nil {
			r.w, r.freeW = bigAlloc[T](U * NN)
		}
		hs, ws, bs, g0 := sliceOf[T](in[0]), sliceOf[T](in[1]), sliceOf[T](in[2]), sliceOf[T](in[3])
		t0 := tick()
		gemmPar(false, true, U, NN, H, 1, hs, H, ws, H, 0, r.w, NN)
		tock(PhaseMLPForward, t0)
		t1 := tick()
		r.zeros = recurForward(B, steps, N, r.K, r.w, r.idx, bs, g0, r.s, r.n, r.gprev)
		tock(PhaseRecurrenceForward, t1)
		return denseOf(r.s, B*(steps+1), N), nil
	}
	fwd.diffWRT = []bool{true, true, true, true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("sicRecurrenceGrad", []int{2, 2, 1, 1, 2}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{U, H}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			if r.dh2 == nil {
				r.dy, r.carry = make([]T, P*N), make([]T, B*N)
				r.dh2, r.dWl, r.dbl, r.dg0 = make([]T, U*H), make([]T, NN*H), make([]T, NN), make([]T, N)
			}
			if r.model.wantGrad {
				r.backward(sliceOf[T](in[0]), sliceOf[T](in[1]), sliceOf[T](in[2]), sliceOf[T](in[3]), sliceOf[T](in[4]))
			}
			return denseOf(r.dh2, U, H), nil
		}
		dh2, err := apply(back, inputs[0], inputs[1], inputs[2], inputs[3], grad)
		if err != nil {
			return nil, err
		}
		dWl, err := handOver[T]("sicRecurrenceGradW", &r.dWl, dh2, NN, H)
		if err != nil {
			return nil, err
		}
		dbl, err := handOver[T]("sicRecurrenceGradB", &r.dbl, dh2, NN)
		if err != nil {
			return nil, err
		}
		dg0, err := handOver[T]("sicRecurrenceGradG0", &r.dg0, dh2, N)
		if err != nil {
			return nil, err
		}
		return G.Nodes{dh2, dWl, dbl, dg0}, nil
	}
	out, err := apply(fwd, h2, wl, bl, g0raw)
	return r, out, err
}

// backward fills dh2, dWl, dbl and dg0 from ds, the gradient of the loss
// with respect to every row of s.
func (r *recurrence[T]) backward(h2, wl, bl, g0raw, ds []T) {
	B, steps, N, H := r.B, r.T, r.N, r.H
	P := B * steps
	t0 := tick()
	parallelFor(B, func(b int) {
		dg := make([]T, N)
		carry := r.carry[b*N : (b+1)*N]
		clear(carry)
		for t := steps; t >= 1; t-- {
			row := b*(steps+1) + t
			rr := (t-1)*B + b
			for k := range dg {
				dg[k] = ds[row*N+k] + carry[k]
			}
			dy := r.dy[rr*N : (rr+1)*N]
			normReLUBlocksBackward(r.s[row*N:(row+1)*N], r.n[row*r.K:(row+1)*r.K], dg, dy)
			wr := rowOf(r.idx, rr)
			gemv(true, N, N, 1, r.w[wr*N*N:(wr+1)*N*N], N, dy, 0, carry)
			gemv(true, N, N, 1, bl, N, dy, 1, carry)
		}
	})
	gemm(true, false, N, N, P, 1, r.dy, N, r.gprev, N, 0, r.dbl, N)
	sum := make([]float64, N)
	for b := 0; b < B; b++ {
		base := b * (steps + 1)
		for k := range sum {
			sum[k] += float64(r.carry[b*N+k]) + float64(ds[base*N+k])
		}
	}
	g0 := make([]T, N)
	n0 := make([]float64, r.K)
	normReLUBlocksInto(g0raw, g0, n0)
	d := make([]float64, N)
	normReLUBlocksBackward(g0, n0, sum, d)
	for k, v := range d {
		r.dg0[k] = T(v)
	}
	tock(PhaseRecurrenceBackward, t0)

	t1 := tick()
	defer tock(PhaseMLPBackward, t1)
	if r.idx != nil {
		r.backwardDistinct(h2, wl)
		return
	}
	// Both products are split into tasks with disjoint outputs (units k for
	// dWl, row blocks for dh2), each a sequence of single-threaded GEMMs on
	// gathered rows, so no task waits for another and sums run in a fixed
	// order.
	chunk := gatherRows
	if len(r.scratch) < maxProcs() {
		r.scratch = make([][]T, maxProcs())
	}
	scratch := func(w int) (gk, h2k []T) {
		if r.scratch[w] == nil {
			r.scratch[w] = make([]T, chunk*(N+H))
		}
		return r.scratch[w][:chunk*N], r.scratch[w][chunk*N:]
	}
	// dL/dWl[k] = Gk^T H2k, over the steps where unit k is active.
	parallelForW(N, func(w, k int) {
		gk, h2k := scratch(w)
		dWk := r.dWl[k*N*H : (k+1)*N*H]
		cnt, beta := 0, 0.0
		flush := func() {
			gemm(true, false, N, H, cnt, 1, gk, N, h2k, H, beta, dWk, H)
			cnt, beta = 0, 1
		}
		for rr := 0; rr < P; rr++ {
			if !r.gatherRow(gk, cnt, rr, k) {
				continue
			}
			copy(h2k[cnt*H:(cnt+1)*H], h2[rr*H:(rr+1)*H])
			if cnt++; cnt == chunk {
				flush()
			}
		}
		if cnt > 0 || beta == 0 {
			flush() // with no active step at all this zeroes dWk (k = 0 rows)
		}
	})
	// dL/dh2_r = sum_k dy_r[k] g_r^T Wl[k], row block by row block. The
	// block size is fixed (not a share of GOMAXPROCS) so that each GEMM has
	// the same shape, and so the same rounding, with any number of threads.
	rows := min(chunk, 64)
	parallelForW((P+rows-1)/rows, func(w, blk int) {
		gk, z := scratch(w)
		r0, r1 := blk*rows, min(P, (blk+1)*rows)
		out := r.dh2[r0*H : r1*H]
		clear(out)
		idx := make([]int, chunk)
		for k := 0; k < N; k++ {
			cnt := 0
			for rr := r0; rr < r1; rr++ {
				if !r.gatherRow(gk, cnt, rr, k) {
					continue
				}
				idx[cnt] = rr - r0
				cnt++
			}
			if cnt == 0 {
				continue
			}
			gemm(false, false, cnt, H, N, 1, gk, N, wl[k*N*H:], H, 0, z, H)
			for i, ri := range idx[:cnt] {
				dst := out[ri*H : (ri+1)*H]
				for c, v := range z[i*H : (i+1)*H] {
					dst[c] += v
				}
			}
		}
	})
}

// gatherRow writes row cnt of Gk, dy_r[k] g_r for r = rr, into gk and
// reports true when unit k is active at step rr (dy_r[k] != 0); otherwise it
// writes nothing and reports false.
func (r *recurrence[T]) gatherRow(gk []T, cnt, rr, k int) bool {
	N := r.N
	f := r.dy[rr*N+k]
	if f == 0 {
		return false
	}
	dst := gk[cnt*N : (cnt+1)*N]
	for j, v := range r.gprev[rr*N : (rr+1)*N] {
		dst[j] = f * v
	}
	return true
}

// backwardDistinct fills dWl and dh2 when the U rows of h2 are distinct
// velocities: dL/dW per velocity from the rows that use it, then two dense
// products (see "Distinct velocities" above).
func (r *recurrence[T]) backwardDistinct(h2, wl []T) {
	N, H, U, NN := r.N, r.H, r.U, r.N*r.N
	if len(r.dW) != U*NN {
		r.dW = make([]T, U*NN)
	}
	if len(r.scratch) < maxProcs() {
		r.scratch = make([][]T, maxProcs())
	}
	parallelForW(U, func(w, u int) {
		rows := r.rowsOf[u]
		if need := 2 * len(rows) * N; len(r.scratch[w]) < need {
			r.scratch[w] = make([]T, need)
		}
		dys, gps := r.scratch[w][:len(rows)*N], r.scratch[w][len(rows)*N:2*len(rows)*N]
		for i, rr := range rows {
			copy(dys[i*N:(i+1)*N], r.dy[int(rr)*N:(int(rr)+1)*N])
			copy(gps[i*N:(i+1)*N], r.gprev[int(rr)*N:(int(rr)+1)*N])
		}
		// dW_u = DY_u^T Gprev_u (zero for a padding row that no step uses).
		gemm(true, false, N, N, len(rows), 1, dys, N, gps, N, 0, r.dW[u*NN:(u+1)*NN], N)
	})
	gemmPar(true, false, NN, H, U, 1, r.dW, NN, h2, H, 0, r.dWl, H)
	gemmPar(false, false, U, H, NN, 1, r.dW, NN, wl, H, 0, r.dh2, H)
}

// setRows records which distinct velocity each time-major row uses (nil:
// U = P, every row its own).
func (r *recurrence[T]) setRows(idx []int32) {
	r.idx = idx
	if idx == nil {
		r.rowsOf = nil
		return
	}
	if len(r.rowsOf) != r.U {
		r.rowsOf = make([][]int32, r.U)
	}
	for u := range r.rowsOf {
		r.rowsOf[u] = r.rowsOf[u][:0]
	}
	for rr, u := range idx {
		r.rowsOf[u] = append(r.rowsOf[u], int32(rr))
	}
}

// free releases the largest buffer; the next run allocates it again.
func (r *recurrence[T]) free() {
	if r.freeW != nil {
		r.freeW()
	}
	r.w, r.freeW = nil, nil
}

//go:build gridgpu_cuda

package cuda

// One typed launch function per kernel of kernels/*.cu (in sections by file),
// named after it (mlp_in: mlpIn), with the kernel's parameters in its order
// and the grid shape the kernel assumes. These are the only callers of
// device.launch outside the tests; TestLaunchFunctions (slots_test.go)
// checks each one's argument count against the kernel's signature in the .cu
// file. All run on the device thread (inside device.run).

import "github.com/gridgpu/gridgpu/graph"

// b64 is a flag parameter (long long 0 or 1).
func b64(v bool) arg {
	if v {
		return 1
	}
	return 0
}

// ---- kernels/gemm.cu --------------------------------------------------------

// gemmKernel launches kind, one of gemm_nt, gemm_nn, gemm_tn (or a kernel
// lab family with their tiles and arguments, the lab's gemm_tc_*), on a
// gx x gy x splits grid; ws is the split-K workspace (0 without a split).
func (d *device) gemmKernel(kind string, gx, gy, splits int, A, B, C, bias, ws devPtr, M, N, K, lda, ldb, ldc, kchunk, flags int) error {
	return d.launch(kind, gx, gy, splits, 256, 0, ptr(A), ptr(B), ptr(C), ptr(bias), ptr(ws),
		i64(M), i64(N), i64(K), i64(lda), i64(ldb), i64(ldc), i64(kchunk), i64(flags))
}

// gemmSplitkReduce adds the split-K slices of ws into C with the epilogue.
func (d *device) gemmSplitkReduce(ws, C, bias devPtr, M, N, ldc, splits, flags int) error {
	return d.launch("gemm_splitk_reduce", min(ceilDiv(M*N, 256), 8192), 1, 1, 256, 0,
		ptr(ws), ptr(C), ptr(bias), i64(M), i64(N), i64(ldc), i64(splits), i64(flags))
}

// setRows writes bias into every row of C (before a cuBLAS product with
// beta = 1).
func (d *device) setRows(C, bias devPtr, M, N, ldc int) error {
	return d.launch("set_rows", gridFor(M*N), 1, 1, 256, 0, ptr(C), ptr(bias), i64(M), i64(N), i64(ldc))
}

// ---- kernels/reduce.cu ------------------------------------------------------

// reducePartials sums ncomp consecutive runs of n float64 partials into
// dst[0..ncomp), one block per run, in a fixed order.
func (d *device) reducePartials(part devPtr, n, ncomp int, dst devPtr) error {
	return d.launch("reduce_partials", ncomp, 1, 1, 256, 0, ptr(part), i64(n), ptr(dst))
}

// colsum sums the columns of the rows x cols matrix X into outf (float32,
// added to it with accumulate) and/or outd (float64); a zero pointer skips
// that output.
func (d *device) colsum(X devPtr, rows, cols int, outf, outd devPtr, accumulate bool) error {
	return d.launch("colsum", ceilDiv(cols, 32), 1, 1, 256, 0, ptr(X), i64(rows), i64(cols), ptr(outf), ptr(outd), b64(accumulate))
}

// ---- kernels/mlp.cu ---------------------------------------------------------

// mlpIn: h1 = ReLU(V W0^T + b0), the first MLP layer (K = 2).
func (d *device) mlpIn(V, W0, b0, h1 devPtr, P, H int) error {
	return d.launch("mlp_in", gridFor(P*H), 1, 1, 256, 0, ptr(V), ptr(W0), ptr(b0), ptr(h1), i64(P), i64(H))
}

// reluMask zeroes the n gradients dx where the ReLU output h is zero.
func (d *device) reluMask(dx, h devPtr, n int) error {
	return d.launch("relu_mask", gridFor(n), 1, 1, 256, 0, ptr(dx), ptr(h), i64(n))
}

// dwDistinct writes dW_u = sum of DY_i GP_i^T over the rows i of distinct
// velocity u (rows[start[u]..start[u+1]), int32) into dW [U][N*N].
func (d *device) dwDistinct(DY, GP, start, rows, dW devPtr, U, N int) error {
	return d.launch("dw_distinct", U, ceilDiv(N, 8), 1, 256, dwDistinctShared(N),
		ptr(DY), ptr(GP), ptr(start), ptr(rows), ptr(dW), i64(N))
}

// ---- kernels/recurrence.cu --------------------------------------------------

// g0Forward: g0 = NormReLU(G0) and n0 = ||ReLU(G0)||.
func (d *device) g0Forward(G0, g0, n0 devPtr, N int) error {
	return d.launch("g0_forward", 1, 1, 1, 128, 0, ptr(G0), ptr(g0), ptr(n0), i64(N))
}

// rnnForward runs the recurrence of B trajectories of T steps (a block each):
// states G, previous states GP, norms nrm and per-trajectory zero counts in
// part. Step i reads W row i of Wf, or row idx[i] with idx (int32 [P], the
// distinct-velocity path; 0: none).
func (d *device) rnnForward(Wf, idx, g0, G, GP, nrm, part devPtr, B, T, N int) error {
	return d.launch("rnn_forward", B, 1, 1, rnnThreads, rnnForwardShared(N),
		ptr(Wf), ptr(idx), ptr(g0), ptr(G), ptr(GP), ptr(nrm), ptr(part), i64(B), i64(T), i64(N))
}

// rnnBackward is backpropagation through time. Without idx, Wf is
// overwritten by dWf; with idx (the distinct-velocity path) it is only read
// and dwDistinct forms the weight gradient.
func (d *device) rnnBackward(Wf, idx, G, GP, nrm, dG, DY, dg0ci, dg0b devPtr, B, T, N int) error {
	return d.launch("rnn_backward", B, 1, 1, rnnThreads, rnnBackwardShared(N),
		ptr(Wf), ptr(idx), ptr(G), ptr(GP), ptr(nrm), ptr(dG), ptr(DY), ptr(dg0ci), ptr(dg0b), i64(B), i64(T), i64(N))
}

// g0Backward adds the gradient of the raw initial state, from the B
// trajectories' dg0b, to dG0.
func (d *device) g0Backward(dg0b, g0, n0, dG0 devPtr, B, N int) error {
	return d.launch("g0_backward", 1, 1, 1, 128, 4*N, ptr(dg0b), ptr(g0), ptr(n0), ptr(dG0), i64(B), i64(N))
}

// ---- kernels/pair.cu --------------------------------------------------------

// pairCount counts the far and near pairs of the P positions X (into part,
// reduced to S_NFAR, S_NNEAR).
func (d *device) pairCount(X devPtr, P int, sx2 float64, part devPtr) error {
	cx, cy := pairCountGrid(P)
	return d.launch("pair_count", cx, cy, 1, 256, 0, ptr(X), i64(P), f64(sx2), ptr(part))
}

// pairCoef writes the pairwise terms' coefficients, sep and inv at the pair
// counts in S, into S (graph.PairCoefs.Sep4 and Inv4; mean: the mean
// reduction, see graph.PairDivisor).
func (d *device) pairCoef(S devPtr, sep, inv graph.PairCoef, mean bool) error {
	return d.launch("pair_coef", 1, 1, 1, 1, 0, ptr(S), f64(sep.Scale), f64(sep.Num), f64(sep.Den),
		f64(inv.Scale), f64(inv.Num), f64(inv.Den), b64(mean))
}

// pairLoss is the first pairwise kernel (32 rows per block): the loss sums
// into part and, with doGrad, dG.
func (d *device) pairLoss(G, X devPtr, P, N int, sx2, inv2sg2 float64, doSep, doInv bool, S, dG, part devPtr, doGrad bool) error {
	return d.launch("pair_loss", pairBlocks(P), 1, 1, 256, pairShared(N), ptr(G), ptr(X), i64(P), i64(N), f64(sx2),
		f64(inv2sg2), b64(doSep), b64(doInv), ptr(S), ptr(dG), ptr(part), b64(doGrad))
}

// pairTile is the register-tiled pairwise kernel on gx row tiles x slabs of
// tilesPerSlab column tiles (pairTilePlan); out receives dG, or the slabs'
// partial dG when slabs > 1.
func (d *device) pairTile(G, X devPtr, P, N int, sx2, inv2sg2 float64, doSep, doInv bool, S, out, part devPtr, doGrad bool, gx, slabs, tilesPerSlab int) error {
	return d.launch("pair_tile", gx, slabs, 1, 256, pairTileShared(), ptr(G), ptr(X), i64(P), i64(N), f64(sx2),
		f64(inv2sg2), b64(doSep), b64(doInv), ptr(S), ptr(out), ptr(part), b64(doGrad), i64(tilesPerSlab))
}

// pairSlabSum adds pair_tile's slabs of n partial gradients into dG.
func (d *device) pairSlabSum(ws devPtr, slabs, n int, dG devPtr) error {
	return d.launch("pair_slab_sum", gridFor(n), 1, 1, 256, 0, ptr(ws), i64(slabs), i64(n), ptr(dG))
}

// ---- kernels/capacity.cu ----------------------------------------------------

// capFinalize: the capacity loss from the column sums cs into S, and its
// gradient row capg.
func (d *device) capFinalize(cs devPtr, N, P int, lcap float64, S, capg devPtr) error {
	return d.launch("cap_finalize", 1, 1, 1, 128, 0, ptr(cs), i64(N), i64(P), f64(lcap), ptr(S), ptr(capg))
}

// addRowvec adds the row v to each of the P rows of dG.
func (d *device) addRowvec(dG, v devPtr, P, N int) error {
	return d.launch("add_rowvec", gridFor(P*N), 1, 1, 256, 0, ptr(dG), ptr(v), i64(P), i64(N))
}

// ---- kernels/conformal.cu ---------------------------------------------------

// ciForward is the first pass: count and sum of r into part ([2][ciBlocks]).
func (d *device) ciForward(G, GP, V devPtr, P, N int, sx float64, part devPtr) error {
	return d.launch("ci_forward", ciBlocks(P), 1, 1, 256, 0, ptr(G), ptr(GP), ptr(V), i64(P), i64(N), f64(sx), ptr(part))
}

// ciCoef writes the mean of r and the gradient coefficient into S.
func (d *device) ciCoef(S devPtr, lci float64) error {
	return d.launch("ci_coef", 1, 1, 1, 1, 0, ptr(S), f64(lci))
}

// ciVar is the second pass: the sum of (r - mean)^2 into part ([ciBlocks]).
func (d *device) ciVar(G, GP, V devPtr, P, N int, sx float64, S, part devPtr) error {
	return d.launch("ci_var", ciBlocks(P), 1, 1, 256, 0, ptr(G), ptr(GP), ptr(V), i64(P), i64(N), f64(sx), ptr(S), ptr(part))
}

// ciBackward adds the term's gradient to dG and writes its g0 part to dg0ci.
func (d *device) ciBackward(G, GP, V devPtr, B, T, N int, sx float64, S, dG, dg0ci devPtr) error {
	return d.launch("ci_backward", ciBlocks(B*T), 1, 1, 256, 0, ptr(G), ptr(GP), ptr(V), i64(B), i64(T), i64(N), f64(sx), ptr(S), ptr(dG), ptr(dg0ci))
}

// ---- kernels/loss.cu --------------------------------------------------------

// lossFinalize writes the loss terms and the total into S; weights holds
// the weights of the cudaTerms in their order (cudaWeights).
func (d *device) lossFinalize(S devPtr, P int, weights devPtr, mean bool) error {
	return d.launch("loss_finalize", 1, 1, 1, 1, 0, ptr(S), i64(P), ptr(weights), b64(mean))
}

// ---- kernels/optimiser.cu ---------------------------------------------------

// sumsq: partial sums of squares of the n gradients x into part
// ([sumsqBlocks]).
func (d *device) sumsq(x devPtr, n int, part devPtr) error {
	return d.launch("sumsq", sumsqBlocks, 1, 1, 256, 0, ptr(x), i64(n), ptr(part))
}

// optFinalize: the gradient norm, the clip coefficient and the finiteness
// flag into the step-wide block Gs, from the K microbatch blocks at Sm
// (stride doubles apart).
func (d *device) optFinalize(Gs, Sm devPtr, stride, K int, clip float64) error {
	return d.launch("opt_finalize", 1, 1, 1, 1, 0, ptr(Gs), ptr(Sm), i64(stride), i64(K), f64(clip))
}

// adamw updates the n parameters p and moments m, v (a no-op unless Gs says
// the step is finite); bc1, bc2 are the bias corrections 1 - beta^t.
func (d *device) adamw(p, grad, m, v devPtr, n int, Gs devPtr, lr, wd, b1, b2, eps, bc1, bc2 float64) error {
	return d.launch("adamw", gridFor(n), 1, 1, 256, 0, ptr(p), ptr(grad), ptr(m), ptr(v), i64(n), ptr(Gs),
		f64(lr), f64(wd), f64(b1), f64(b2), f64(eps), f64(bc1), f64(bc2))
}

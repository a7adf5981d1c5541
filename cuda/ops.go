//go:build gridgpu_cuda

package cuda

import (
	"fmt"
)

// Launch plans (grid shapes, shared memory, split-K) and the composite
// operations built on the kernels' launch functions (kernels.go). All run on
// the device thread (inside device.run).

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gridFor is a grid-stride launch size for n elements.
func gridFor(n int) int { return max(1, min(ceilDiv(n, 256), 65535)) }

// gemmPlan decides the split of K for an M x N x K product: enough blocks for
// two per SM, each slice at least 256 deep, at most 16 slices.
func gemmPlan(M, N, K, sms int) (splits, kchunk int) {
	blocks := ceilDiv(M, 128) * ceilDiv(N, 128)
	splits = 1
	if blocks < 2*sms {
		splits = min(ceilDiv(2*sms, blocks), 16, max(1, K/256))
	}
	kchunk = ceilDiv(ceilDiv(K, splits), 8) * 8
	splits = ceilDiv(K, kchunk)
	return splits, kchunk
}

// gemm computes C = op(A) op(B) (+ epilogue) with kernel kind ("gemm_nt",
// "gemm_nn", "gemm_tn"); ws must hold splits*M*N floats when K is split.
// The products run on cuBLAS where gpu.gemm selected it (and the epilogue
// allows), else on the FP32 SIMT kernels (gemmTiles).
func (d *device) gemm(kind string, M, N, K int, A devPtr, lda int, B devPtr, ldb int,
	C devPtr, ldc int, bias devPtr, flags int, ws devPtr, sms int) error {
	if d.blas != "" && flags&flagReLU == 0 && flags != flagAcc|flagBias {
		return d.gemmBLAS(kind, M, N, K, A, lda, B, ldb, C, ldc, bias, flags)
	}
	return d.gemmTiles(kind, M, N, K, A, lda, B, ldb, C, ldc, bias, flags, ws, sms)
}

// gemmTiles runs a product on a family of tile kernels sharing
// gemm_tiles.cuh (the SIMT gemm_*, or the kernel lab's gemm_tc_*), named by
// kind: the same tiles, so the same split-K plan and workspace.
func (d *device) gemmTiles(kind string, M, N, K int, A devPtr, lda int, B devPtr, ldb int,
	C devPtr, ldc int, bias devPtr, flags int, ws devPtr, sms int) error {
	splits, kchunk := gemmPlan(M, N, K, sms)
	gx, gy := ceilDiv(N, 128), ceilDiv(M, 128)
	if splits == 1 {
		return d.gemmKernel(kind, gx, gy, 1, A, B, C, bias, 0, M, N, K, lda, ldb, ldc, K, flags)
	}
	if err := d.gemmKernel(kind, gx, gy, splits, A, B, C, bias, ws, M, N, K, lda, ldb, ldc, kchunk, flags); err != nil {
		return err
	}
	return d.gemmSplitkReduce(ws, C, bias, M, N, ldc, splits, flags)
}

// reduce is reducePartials (kernels.go), under the name the tests use.
func (d *device) reduce(part devPtr, n, ncomp int, dst devPtr) error {
	return d.reducePartials(part, n, ncomp, dst)
}

// Threads per block of the recurrence kernels (16 warps: one warp per row at
// a time, 8 rows each for N = 128).
const rnnThreads = 512

func rnnForwardShared(N int) int  { return 2 * N * 4 }
func rnnBackwardShared(N int) int { return (4 + rnnThreads/32) * N * 4 }

// dwDistinctShared is dw_distinct's dynamic shared memory: chunks of 32 rows
// of GP and 8 columns of DY (DWD_RC in mlp.cu).
func dwDistinctShared(N int) int { return 32 * (N + 8) * 4 }

// pairShared is pair_loss's dynamic shared memory for N units.
func pairShared(N int) int { return ((32+32)*(N|1) + 32*33) * 4 }

// pairBlocks is pair_loss's grid (32 rows per block).
func pairBlocks(P int) int { return ceilDiv(P, 32) }

// pairCountGrid is pair_count's grid: P/256 blocks of i times up to 16
// slabs of j.
func pairCountGrid(P int) (gx, gy int) {
	gx = ceilDiv(P, 256)
	return gx, max(1, min(16, gx))
}

// pair_tile (the register-tiled pairwise kernel): 64 x 64 tiles, N <= 128.
const (
	pairTileRows = 64
	pairTileMaxN = 128
)

// pairTileShared is pair_tile's dynamic shared memory: two 64 x 132 row
// tiles and the 64 x 68 coefficient tile.
func pairTileShared() int { return (2*pairTileRows*132 + pairTileRows*(pairTileRows+4)) * 4 }

// pairTilePlan is pair_tile's grid: P/64 row tiles times slabs of column
// tiles, about 8 blocks per SM (2 fit at a time), at most 8 slabs.
func pairTilePlan(P, sms int) (gx, slabs, tilesPerSlab int) {
	gx = ceilDiv(P, pairTileRows)
	slabs = max(1, min(8, ceilDiv(8*sms, gx), gx))
	tilesPerSlab = ceilDiv(gx, slabs)
	return gx, ceilDiv(gx, tilesPerSlab), tilesPerSlab
}

// ciBlocks is the grid of ci_forward/ci_backward (8 warps, a state each).
func ciBlocks(P int) int { return ceilDiv(P, 8) }

const sumsqBlocks = 1024

// ptrOff converts an element offset for device-pointer arithmetic.
func ptrOff(n int) devPtr { return devPtr(n) }

// gemmBLAS computes the same product with cuBLAS (gpu.gemm cublas). A
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, and a
// row-major matrix read column-major is its transpose: so B goes first, A
// second, each transposed exactly when our kernel's TB/TA is set.
func (d *device) gemmBLAS(kind string, M, N, K int, A devPtr, lda int, B devPtr, ldb int, C devPtr, ldc int, bias devPtr, flags int) error {
	ta, tb := kind == "gemm_tn", kind == "gemm_nt"
	var beta float32
	if flags&flagAcc != 0 {
		beta = 1
	}
	if flags&flagBias != 0 {
		if err := d.setRows(C, bias, M, N, ldc); err != nil {
			return err
		}
		beta = 1
	}
	if err := d.drv.sgemm(tb, ta, N, M, K, 1, B, ldb, A, lda, beta, C, ldc); err != nil {
		return fmt.Errorf("cuda:%d: %s %dx%dx%d: %v", d.ordinal, kind, M, N, K, err)
	}
	return nil
}

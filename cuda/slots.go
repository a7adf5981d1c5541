package cuda

// This file has no build tag, so that slots_test.go (a plain go test) can
// compare its numbers with the #defines of kernels/common.cuh and gemm.cu.

import "github.com/gridgpu/gridgpu/graph"

// termSlots holds each loss term's unweighted value's slot, in graph.Term
// order (TestTermSlots: every term has its own).
var termSlots = [graph.NumTerms]int{graph.Sep: sLSep, graph.Inv: sLInv, graph.Cap: sLCap, graph.CI: sLCI}

// Slots of the float64 scalar buffer: the S_* and G_* macros of
// kernels/common.cuh (sNFar is S_NFAR, gSumSq is G_SUMSQ, ...). Each microbatch
// of a step has a block of slotStride doubles; the step-wide (optimiser)
// block follows the last microbatch's.
const (
	slotStride = 32

	sNFar    = 0
	sNNear   = 1
	sSepSum  = 2
	sInvSum  = 3
	sCapN2   = 4
	sCIK     = 5
	sCISum   = 6
	sCISqDev = 7 // sum of (r - mean r)^2, the conformal isometry's second pass
	sZeros   = 8
	sCSep    = 10
	sCInv    = 11
	sCIMean  = 12
	sCICoef  = 13
	sLSep    = 16
	sLInv    = 17
	sLCap    = 18
	sLCI     = 19
	sLTot    = 20
	sZFrac   = 21

	// The step-wide block.
	gSumSq = 0
	gNorm  = 1
	gScale = 2
	gOK    = 3
)

// GEMM epilogue flags (FLAG_* in kernels/gemm.cu).
const (
	flagAcc  = 1
	flagBias = 2
	flagReLU = 4
)

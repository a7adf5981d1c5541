package cuda

// This file has no build tag, so that slots_test.go (a plain go test) can
// compare its numbers with the #defines of kernels/common.cuh and gemm.cu.

import (
	"slices"

	"github.com/gridgpu/gridgpu/graph"
)

// cudaTerm is a loss term the kernels compute and the slot of its
// unweighted value.
type cudaTerm struct {
	term graph.Term
	slot int
}

// cudaTerms are the loss terms the kernels compute, in graph.Term order:
// entry i is the kernels' term T_* = i, weighted by the i-th of the weights
// that loss_finalize reads (cudaWeights). A term of graph.TermSpecs without
// an entry is CPU-only: NewEngine refuses a non-zero weight for it
// (cpuOnlyTerm), and the engine reports its value as 0. TestTermSlots and
// TestTermIndicesMatchGraph check the entries against the kernel sources.
var cudaTerms = []cudaTerm{{graph.Sep, sLSep}, {graph.Inv, sLInv}, {graph.Cap, sLCap}, {graph.CI, sLCI}}

// cudaWeights returns lc's weights of the terms, in their order: the
// NUM_TERMS weights loss_finalize reads, indexed by T_*.
func cudaWeights(lc graph.LossConfig, terms []cudaTerm) []float64 {
	all := lc.Weights()
	w := make([]float64, len(terms))
	for i, ct := range terms {
		w[i] = all[ct.term]
	}
	return w
}

// cpuOnlyTerm returns the first term of non-zero weight in lc that is not
// one of terms, and whether there is one.
func cpuOnlyTerm(lc graph.LossConfig, terms []cudaTerm) (graph.Term, bool) {
	for t, w := range lc.Weights() {
		if w != 0 && !slices.ContainsFunc(terms, func(ct cudaTerm) bool { return ct.term == graph.Term(t) }) {
			return graph.Term(t), true
		}
	}
	return 0, false
}

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

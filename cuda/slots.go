//go:build gridgpu_cuda

package cuda

// Slots of the float64 scalar buffer; they mirror the S_* and G_* macros of
// kernels/sic.cu. Each microbatch of a step has a block of slotStride
// doubles; the step-wide (optimiser) block follows the last microbatch's.
const (
	slotStride = 32

	sNFar   = 0
	sNNear  = 1
	sSepSum = 2
	sInvSum = 3
	sCapN2  = 4
	sCIK    = 5
	sCISum  = 6
	sCISum2 = 7
	sZeros  = 8
	sCSep   = 10
	sCInv   = 11
	sCIMean = 12
	sCICoef = 13
	sLSep   = 16
	sLInv   = 17
	sLCap   = 18
	sLCI    = 19
	sLTot   = 20
	sZFrac  = 21

	gSumSq = 0
	gNorm  = 1
	gScale = 2
	gOK    = 3
)

// GEMM epilogue flags (kernels/gemm.cu).
const (
	flagAcc  = 1
	flagBias = 2
	flagReLU = 4
)

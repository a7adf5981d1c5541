//go:build !cgo || purego

package graph

// VectorPath: the build without C runs the Go loops.
func VectorPath() string { return "go" }

// pairTileF32 does not apply in the build without C.
func pairTileF32(k *pairKernel, tile []float32, bi, bj, i0, j0 int, diag bool, sc *pairScratch[float32], rowsum, colsum []float64, level int) (sepSum, invSum float64, ok bool) {
	return 0, 0, false
}

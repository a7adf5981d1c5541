// Package simd names the vector paths of gridgpu's C kernels (the
// optimiser's update and the pair loop) and which of them this CPU runs.
// Every path computes the same bits; the paths exist for speed, and the
// tests run each one against the Go definition.
package simd

import "golang.org/x/sys/cpu"

// The paths, as the C kernels number them.
const (
	Scalar = 0 // plain C, one element at a time
	AVX2   = 1 // 4 float64 lanes
	AVX512 = 2 // 8 float64 lanes (AVX-512F)
)

// Levels are the paths this CPU can run, narrowest first.
var Levels = func() []int {
	switch {
	case cpu.X86.HasAVX512F:
		return []int{Scalar, AVX2, AVX512}
	case cpu.X86.HasAVX2:
		return []int{Scalar, AVX2}
	}
	return []int{Scalar}
}()

// Widest is the widest path this CPU can run: the one training uses.
var Widest = Levels[len(Levels)-1]

// Name names a path as benchmarks report it: "scalar", "avx2", "avx512".
func Name(level int) string {
	switch level {
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "scalar"
}

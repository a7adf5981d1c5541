//go:build !cgo || purego

package graph

// BLAS names the BLAS library this build uses for matrix products: gonum's
// pure-Go implementation in this build (tag purego or CGO_ENABLED=0).
const BLAS = "gonum"

// BLASCore names the kernel set of the BLAS; gonum's has one.
func BLASCore() string { return "go" }

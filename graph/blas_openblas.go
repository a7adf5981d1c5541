//go:build cgo && !purego

package graph

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
char *openblas_get_corename(void);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"

	G "gorgonia.org/gorgonia"
)

// The default build does its matrix products with OpenBLAS (Debian:
// libopenblas-dev), 15-40x faster than gonum's pure-Go GEMM on float32.
// Build with -tags purego (or CGO_ENABLED=0) for a build without C.
//
// OpenBLAS runs single-threaded: the ops split every large product into
// row bands over GOMAXPROCS goroutines themselves (gemmPar), and the
// pairwise op runs many small products concurrently. An OpenBLAS thread
// pool on top of that would oversubscribe the cores.
func init() {
	blas32.Use(netlib.Implementation{})
	blas64.Use(netlib.Implementation{})
	G.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

// BLASCore names the kernel set OpenBLAS runs (e.g. "Haswell", "Cooperlake").
// OpenBLAS picks it from the CPU at load time unless the environment
// variable OPENBLAS_CORETYPE names one.
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// BLAS names the BLAS library this build uses for matrix products.
const BLAS = "openblas"

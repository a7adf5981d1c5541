//go:build cgo && !purego

package graph

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
char *openblas_get_corename(void);
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/cpu"
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
// fixed bands themselves (gemmPar), and the pairwise op runs many small
// products concurrently. An OpenBLAS thread pool on top of that would
// oversubscribe the cores, and would make sums depend on the thread count.
func init() {
	pinBLASKernels()
	blas32.Use(netlib.Implementation{})
	blas64.Use(netlib.Implementation{})
	G.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

// PinnedBLASCore is the OpenBLAS kernel set every run uses, whatever the
// CPU. OpenBLAS picks its kernels from the CPU at load time (SkylakeX on an
// AVX-512 Xeon, Haswell on most others, Zen on AMD), and each set rounds
// products differently. Training amplifies a last-bit difference into
// another network (hexagonal on one machine, square on the next), so a
// seed's outcome would depend on the machine. The Haswell kernels need
// AVX2 and FMA only, which every x86-64 server and laptop of the last
// decade has; on the AVX-512 machines they cost some speed (BENCHMARKS.md).
const PinnedBLASCore = "Haswell"

// BLASCoreEnv is the variable OpenBLAS reads its kernel set from. A user who
// sets it chooses the kernels (and so the rounding) themselves.
const BLASCoreEnv = "OPENBLAS_CORETYPE"

// pinBLASKernels makes OpenBLAS use PinnedBLASCore. OpenBLAS reads
// BLASCoreEnv only when the library is loaded, before any Go code runs, so
// the process sets it and replaces itself with a fresh copy of the same
// program (same pid, arguments and environment plus that variable). It does
// nothing when the variable is already set or the CPU lacks AVX2/FMA (then
// OpenBLAS's own choice stands, and results match other machines of the
// same kind only).
func pinBLASKernels() {
	if _, set := os.LookupEnv(BLASCoreEnv); set {
		return
	}
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return
	}
	if err := os.Setenv(BLASCoreEnv, PinnedBLASCore); err != nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	err = syscall.Exec(exe, os.Args, os.Environ())
	// Only reached when the exec failed: go on with the CPU's own kernels.
	fmt.Fprintf(os.Stderr, "gridgpu: warning: could not restart with %s=%s (%v); results may differ from other machines in the last bits\n", BLASCoreEnv, PinnedBLASCore, err)
}

// BLASCore names the kernel set OpenBLAS runs (e.g. "Haswell", "Cooperlake").
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// BLAS names the BLAS library this build uses for matrix products.
const BLAS = "openblas"

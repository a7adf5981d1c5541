package graph

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// gemm computes c = alpha * op(a) * op(b) + beta * c on row-major matrices
// through gonum's BLAS front end, so that a registered implementation
// (OpenBLAS via netlib, when built in) does the work.
// op(a) is m x k, op(b) is k x n.
func gemm[T float](ta, tb bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	tr := func(t bool) blas.Transpose {
		if t {
			return blas.Trans
		}
		return blas.NoTrans
	}
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemm(tr(ta), tr(tb), m, n, k, float32(alpha), a[:lda*(ar-1)+ac], lda,
			any(b).([]float32)[:ldb*(br-1)+bc], ldb, float32(beta), any(c).([]float32)[:ldc*(m-1)+n], ldc)
	case []float64:
		blas64.Implementation().Dgemm(tr(ta), tr(tb), m, n, k, alpha, a[:lda*(ar-1)+ac], lda,
			any(b).([]float64)[:ldb*(br-1)+bc], ldb, beta, any(c).([]float64)[:ldc*(m-1)+n], ldc)
	}
}

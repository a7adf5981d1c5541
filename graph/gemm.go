package graph

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemm computes c = alpha * op(a) * op(b) + beta * c on row-major matrices
// through gonum's BLAS front end, so that a registered implementation
// (OpenBLAS via netlib, when built in) does the work.
// op(a) is m x k, op(b) is k x n.
func gemm[T float](ta, tb bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	if k == 0 {
		// BLAS leaves c untouched when k = 0 only for beta = 1; scale by hand.
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] = T(beta * float64(row[j]))
			}
		}
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemm(trans(ta), trans(tb), m, n, k, float32(alpha), a[:lda*(ar-1)+ac], lda,
			any(b).([]float32)[:ldb*(br-1)+bc], ldb, float32(beta), any(c).([]float32)[:ldc*(m-1)+n], ldc)
	case []float64:
		blas64.Implementation().Dgemm(trans(ta), trans(tb), m, n, k, alpha, a[:lda*(ar-1)+ac], lda,
			any(b).([]float64)[:ldb*(br-1)+bc], ldb, beta, any(c).([]float64)[:ldc*(m-1)+n], ldc)
	}
}

// gemmPar is gemm with the output split into bands, one per goroutine:
// bands of rows when there are enough of them, else bands of columns. Each
// output element is still computed by a single call over the full k, so the
// result does not depend on the number of goroutines beyond what the BLAS
// kernel's own blocking does.
func gemmPar[T float](ta, tb bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	workers := maxProcs()
	const align = 64 // keeps bands on whole kernel blocks
	if workers <= 1 || int64(m)*int64(n)*int64(k) < 1<<20 {
		gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n || m >= workers*align {
		band := (m + workers - 1) / workers
		band = (band + align - 1) / align * align
		parallelFor((m+band-1)/band, func(i int) {
			i0, i1 := i*band, min(m, (i+1)*band)
			ao := i0 * lda // rows of op(a)
			if ta {
				ao = i0
			}
			gemm(ta, tb, i1-i0, n, k, alpha, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
		return
	}
	band := (n + workers - 1) / workers
	band = (band + align - 1) / align * align
	parallelFor((n+band-1)/band, func(j int) {
		j0, j1 := j*band, min(n, (j+1)*band)
		bo := j0 // columns of op(b)
		if tb {
			bo = j0 * ldb
		}
		gemm(ta, tb, m, j1-j0, k, alpha, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
	})
}

// gemv computes y = alpha * op(a) * x + beta * y for a row-major m x n
// matrix a (op(a) is n x m when ta).
func gemv[T float](ta bool, m, n int, alpha float64, a []T, lda int, x []T, beta float64, y []T) {
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemv(trans(ta), m, n, float32(alpha), a[:lda*(m-1)+n], lda,
			any(x).([]float32), 1, float32(beta), any(y).([]float32), 1)
	case []float64:
		blas64.Implementation().Dgemv(trans(ta), m, n, alpha, a[:lda*(m-1)+n], lda,
			any(x).([]float64), 1, beta, any(y).([]float64), 1)
	}
}

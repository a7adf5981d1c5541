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

// gemmBand is the side of the bands gemmPar splits a product into. It is a
// constant, not a function of GOMAXPROCS: a BLAS kernel may round an output
// element differently depending on the shape of the call that computes it
// (OpenBLAS has separate small-matrix and edge kernels), so bands that
// followed the thread count would make the results follow it too.
const gemmBand = 128

// gemmPar is gemm with the output split into bands of gemmBand rows (when
// op(a) has at least as many rows as op(b) has columns) or columns, one
// single-threaded BLAS call each over the full k, spread over the
// goroutines. The partition depends only on m, n and k, so every output
// element is computed by the same call whatever the number of threads, and
// the result is bit-identical with 1 or 64 of them.
func gemmPar[T float](ta, tb bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	if int64(m)*int64(n)*int64(k) < 1<<20 || (m <= gemmBand && n <= gemmBand) {
		gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n {
		parallelFor((m+gemmBand-1)/gemmBand, func(i int) {
			i0, i1 := i*gemmBand, min(m, (i+1)*gemmBand)
			ao := i0 * lda // rows of op(a)
			if ta {
				ao = i0
			}
			gemm(ta, tb, i1-i0, n, k, alpha, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
		return
	}
	parallelFor((n+gemmBand-1)/gemmBand, func(j int) {
		j0, j1 := j*gemmBand, min(n, (j+1)*gemmBand)
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

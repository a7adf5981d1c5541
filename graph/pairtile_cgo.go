//go:build cgo && !purego

package graph

/*
#cgo CFLAGS: -O3 -std=c11
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

// pair_tile_f32 is pairTile's loop (separation_invariance.go) for the
// float32 graph, in C with vector intrinsics, and must give its bits. Per
// row it runs in two passes: the pairs' coefficients, 8 (AVX-512) or 4
// (AVX2) at a time, each operation the one Go does in Go's order (ISO C,
// -std=c11, fuses nothing); then the three running sums (separation,
// invariance, the row's coefficient sum) in column order, as Go adds them.
// A pair that adds nothing to a sum adds +0 here, which changes no sum.
// The exponential is expNeg's: the same reduction, polynomial, table and
// exponent addition, lane by lane.

typedef struct {
	double s2, inv2sg, cSep, cInv;
	int doSep, doInv;
} pair_consts;

static const double pt_expK = 0x1.71547652b82fep+5; // Go's expK, 32/ln2 rounded once
#define PT_LN2HI (6.93147180369123816490e-01 / 32)
#define PT_LN2LO (1.90821492927058770002e-10 / 32)
#define PT_MAGIC 6755399441055744.0 // 0x1.8p52
#define PT_MAXARG 700.0

static inline double pt_max0(double x) { return x != x ? x : (x > 0 ? x : 0); } // Go's max(x, 0)
static inline double pt_min(double x, double y) { return x != x ? x : (x < y ? x : y); } // Go's min

static inline uint64_t pt_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double pt_float(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

// One pair, scalar: the coefficient c, and what it adds to the two sums.
static inline void pt_one(const pair_consts *k, const double *tab, double xi, double yi, double sqi,
		double xj, double yj, double sqj, float g, double *c, double *e, double *dv) {
	double dx = xi - xj, dy = yi - yj;
	double r2 = dx * dx + dy * dy;
	*c = 0; *e = 0; *dv = 0;
	if (r2 > k->s2) {
		if (k->doSep) {
			double d = pt_max0(sqi + sqj - 2 * (double)g);
			double x = -pt_min(d * k->inv2sg, PT_MAXARG);
			double t = x * pt_expK + PT_MAGIC;
			double kr = t - PT_MAGIC;
			double r = x - kr * PT_LN2HI - kr * PT_LN2LO;
			uint64_t n = pt_bits(t);
			double p = (1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24))))) * tab[n & 31];
			*e = pt_float(pt_bits(p) + ((uint64_t)((int64_t)(n << 32) >> 37) << 52));
			*c = k->cSep * *e;
		}
	} else if (r2 < k->s2 && k->doInv) {
		*dv = pt_max0(sqi + sqj - 2 * (double)g);
		*c = k->cInv;
	}
}

__attribute__((target("avx512f")))
static int pt_row_avx512(const pair_consts *k, const double *tab, double xi, double yi, double sqi,
		const double *xs, const double *ys, const double *sqs, float *row, double *colsum,
		double *C, double *E, double *D, int j, int n) {
	const __m512d X = _mm512_set1_pd(xi), Y = _mm512_set1_pd(yi), SQ = _mm512_set1_pd(sqi),
		S2 = _mm512_set1_pd(k->s2), IG = _mm512_set1_pd(k->inv2sg), CS = _mm512_set1_pd(k->cSep),
		CI = _mm512_set1_pd(k->cInv), Z = _mm512_setzero_pd(), TWO = _mm512_set1_pd(2),
		MAXA = _mm512_set1_pd(PT_MAXARG), K = _mm512_set1_pd(pt_expK), M = _mm512_set1_pd(PT_MAGIC),
		HI = _mm512_set1_pd(PT_LN2HI), LO = _mm512_set1_pd(PT_LN2LO), ONE = _mm512_set1_pd(1),
		P2 = _mm512_set1_pd(1.0 / 2), P6 = _mm512_set1_pd(1.0 / 6), P24 = _mm512_set1_pd(1.0 / 24);
	const __m512i SIGN = _mm512_set1_epi64((long long)0x8000000000000000ULL), M31 = _mm512_set1_epi64(31);
	for (; j + 8 <= n; j += 8) {
		__m512d dx = _mm512_sub_pd(X, _mm512_loadu_pd(xs + j)), dy = _mm512_sub_pd(Y, _mm512_loadu_pd(ys + j));
		__m512d r2 = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
		__mmask8 far = _mm512_cmp_pd_mask(r2, S2, _CMP_GT_OQ), near = _mm512_cmp_pd_mask(r2, S2, _CMP_LT_OQ);
		__m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(row + j));
		// max(0, x) returns x when x is NaN, as Go's max(x, 0) does; a -0
		// it leaves changes neither the exponential nor a sum.
		__m512d d = _mm512_max_pd(Z, _mm512_sub_pd(_mm512_add_pd(SQ, _mm512_loadu_pd(sqs + j)), _mm512_mul_pd(TWO, g)));
		__m512d c = Z, e = Z, dv = Z;
		if (k->doSep && far) {
			__m512d x = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(
				_mm512_min_pd(MAXA, _mm512_mul_pd(d, IG))), SIGN)); // min returns a NaN operand, as Go's
			__m512d t = _mm512_add_pd(_mm512_mul_pd(x, K), M);
			__m512d kr = _mm512_sub_pd(t, M);
			__m512d r = _mm512_sub_pd(_mm512_sub_pd(x, _mm512_mul_pd(kr, HI)), _mm512_mul_pd(kr, LO));
			__m512i nb = _mm512_castpd_si512(t);
			__m512d poly = _mm512_add_pd(ONE, _mm512_mul_pd(r, _mm512_add_pd(ONE, _mm512_mul_pd(r,
				_mm512_add_pd(P2, _mm512_mul_pd(r, _mm512_add_pd(P6, _mm512_mul_pd(r, P24))))))));
			__m512d p = _mm512_mul_pd(poly, _mm512_i64gather_pd(_mm512_and_si512(nb, M31), tab, 8));
			__m512i sh = _mm512_slli_epi64(_mm512_srai_epi64(_mm512_slli_epi64(nb, 32), 37), 52);
			__m512d ev = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(p), sh));
			e = _mm512_mask_mov_pd(Z, far, ev);
			c = _mm512_mask_mul_pd(Z, far, CS, ev);
		}
		if (k->doInv && near) {
			dv = _mm512_mask_mov_pd(Z, near, d);
			c = _mm512_mask_mov_pd(c, near, CI);
		}
		_mm512_storeu_pd(C + j, c);
		_mm512_storeu_pd(E + j, e);
		_mm512_storeu_pd(D + j, dv);
		_mm256_storeu_ps(row + j, _mm512_cvtpd_ps(c));
		_mm512_storeu_pd(colsum + j, _mm512_add_pd(_mm512_loadu_pd(colsum + j), c));
	}
	return j;
}

__attribute__((target("avx2")))
static int pt_row_avx2(const pair_consts *k, const double *tab, double xi, double yi, double sqi,
		const double *xs, const double *ys, const double *sqs, float *row, double *colsum,
		double *C, double *E, double *D, int j, int n) {
	const __m256d X = _mm256_set1_pd(xi), Y = _mm256_set1_pd(yi), SQ = _mm256_set1_pd(sqi),
		S2 = _mm256_set1_pd(k->s2), IG = _mm256_set1_pd(k->inv2sg), CS = _mm256_set1_pd(k->cSep),
		CI = _mm256_set1_pd(k->cInv), Z = _mm256_setzero_pd(), TWO = _mm256_set1_pd(2),
		MAXA = _mm256_set1_pd(PT_MAXARG), K = _mm256_set1_pd(pt_expK), M = _mm256_set1_pd(PT_MAGIC),
		HI = _mm256_set1_pd(PT_LN2HI), LO = _mm256_set1_pd(PT_LN2LO), ONE = _mm256_set1_pd(1),
		P2 = _mm256_set1_pd(1.0 / 2), P6 = _mm256_set1_pd(1.0 / 6), P24 = _mm256_set1_pd(1.0 / 24),
		SIGN = _mm256_set1_pd(-0.0);
	const __m256i M31 = _mm256_set1_epi64x(31);
	for (; j + 4 <= n; j += 4) {
		__m256d dx = _mm256_sub_pd(X, _mm256_loadu_pd(xs + j)), dy = _mm256_sub_pd(Y, _mm256_loadu_pd(ys + j));
		__m256d r2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
		__m256d far = _mm256_cmp_pd(r2, S2, _CMP_GT_OQ), near = _mm256_cmp_pd(r2, S2, _CMP_LT_OQ);
		__m256d g = _mm256_cvtps_pd(_mm_loadu_ps(row + j));
		__m256d d = _mm256_max_pd(Z, _mm256_sub_pd(_mm256_add_pd(SQ, _mm256_loadu_pd(sqs + j)), _mm256_mul_pd(TWO, g)));
		__m256d c = Z, e = Z, dv = Z;
		if (k->doSep && _mm256_movemask_pd(far)) {
			__m256d x = _mm256_xor_pd(_mm256_min_pd(MAXA, _mm256_mul_pd(d, IG)), SIGN);
			__m256d t = _mm256_add_pd(_mm256_mul_pd(x, K), M);
			__m256d kr = _mm256_sub_pd(t, M);
			__m256d r = _mm256_sub_pd(_mm256_sub_pd(x, _mm256_mul_pd(kr, HI)), _mm256_mul_pd(kr, LO));
			__m256i nb = _mm256_castpd_si256(t);
			__m256d poly = _mm256_add_pd(ONE, _mm256_mul_pd(r, _mm256_add_pd(ONE, _mm256_mul_pd(r,
				_mm256_add_pd(P2, _mm256_mul_pd(r, _mm256_add_pd(P6, _mm256_mul_pd(r, P24))))))));
			__m256d p = _mm256_mul_pd(poly, _mm256_i64gather_pd(tab, _mm256_and_si256(nb, M31), 8));
			// int64(n<<32)>>37 << 52 keeps bits 5..16 of n's low half:
			// a 32-bit arithmetic shift of that half by 5, then << 52
			// (AVX2 has no 64-bit arithmetic shift).
			__m256i sh = _mm256_slli_epi64(_mm256_srai_epi32(nb, 5), 52);
			__m256d ev = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), sh));
			e = _mm256_and_pd(far, ev);
			c = _mm256_and_pd(far, _mm256_mul_pd(CS, ev));
		}
		if (k->doInv && _mm256_movemask_pd(near)) {
			dv = _mm256_and_pd(near, d);
			c = _mm256_blendv_pd(c, CI, near);
		}
		_mm256_storeu_pd(C + j, c);
		_mm256_storeu_pd(E + j, e);
		_mm256_storeu_pd(D + j, dv);
		_mm_storeu_ps(row + j, _mm256_cvtpd_ps(c));
		_mm256_storeu_pd(colsum + j, _mm256_add_pd(_mm256_loadu_pd(colsum + j), c));
	}
	return j;
}

// pair_tile_f32: the tile's rows ii in [0, bi) against its columns [0, bj)
// (bj <= 256; from ii+1 on on a diagonal tile). level: 0 scalar, 1 AVX2,
// 2 AVX-512. sums[0], sums[1] receive the separation and invariance sums.
static void pair_tile_f32(const pair_consts *k, const double *tab, float *tile, int bi, int bj, int diag,
		const double *pxi, const double *pyi, const double *sqi,
		const double *xs, const double *ys, const double *sqs,
		double *rowsum, double *colsum, double *sums, int level) {
	double C[256], E[256], D[256];
	double sepSum = 0, invSum = 0;
	for (int ii = 0; ii < bi; ii++) {
		float *row = tile + (long)ii * bj;
		int j = 0;
		if (diag) {
			j = ii + 1;
			row[ii] = 0;
		}
		const int start = j;
		if (level == 2) j = pt_row_avx512(k, tab, pxi[ii], pyi[ii], sqi[ii], xs, ys, sqs, row, colsum, C, E, D, j, bj);
		else if (level == 1) j = pt_row_avx2(k, tab, pxi[ii], pyi[ii], sqi[ii], xs, ys, sqs, row, colsum, C, E, D, j, bj);
		for (; j < bj; j++) {
			pt_one(k, tab, pxi[ii], pyi[ii], sqi[ii], xs[j], ys[j], sqs[j], row[j], &C[j], &E[j], &D[j]);
			row[j] = (float)C[j];
			colsum[j] += C[j];
		}
		double rs = 0;
		for (j = start; j < bj; j++) {
			sepSum += E[j];
			invSum += D[j];
			rs += C[j];
		}
		rowsum[ii] += rs;
	}
	sums[0] = sepSum;
	sums[1] = invSum;
}
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// pairTileLevels are the paths of pair_tile_f32 this CPU can run (0
// scalar, 1 AVX2, 2 AVX-512), widest last.
var pairTileLevels = func() []int {
	switch {
	case cpu.X86.HasAVX512F:
		return []int{0, 1, 2}
	case cpu.X86.HasAVX2:
		return []int{0, 1}
	}
	return []int{0}
}()

// pairTileF32 is pairTile for the float32 graph on path level (-1: the
// widest), in C; ok is false where it does not apply (a tile wider than
// 256 columns) and pairTile's Go loop runs instead.
func pairTileF32(k *pairKernel, tile []float32, bi, bj, i0, j0 int, diag bool, sc *pairScratch[float32], rowsum, colsum []float64, level int) (sepSum, invSum float64, ok bool) {
	if bj > 256 || bi == 0 || bj == 0 {
		return 0, 0, false
	}
	if level < 0 {
		level = pairTileLevels[len(pairTileLevels)-1]
	}
	_ = tile[bi*bj-1]
	_ = rowsum[bi-1]
	_ = colsum[bj-1]
	kc := C.pair_consts{s2: C.double(k.s2), inv2sg: C.double(k.inv2sg), cSep: C.double(k.cSep), cInv: C.double(k.cInv)}
	if k.doSep {
		kc.doSep = 1
	}
	if k.doInv {
		kc.doInv = 1
	}
	var sums [2]float64
	var d C.int
	if diag {
		d = 1
	}
	f64 := func(x []float64) *C.double { return (*C.double)(unsafe.Pointer(&x[0])) }
	C.pair_tile_f32(&kc, f64(exp2Frac[:]), (*C.float)(unsafe.Pointer(&tile[0])), C.int(bi), C.int(bj), d,
		f64(sc.px[i0:]), f64(sc.py[i0:]), f64(sc.sq[i0:]), f64(sc.px[j0:]), f64(sc.py[j0:]), f64(sc.sq[j0:]),
		f64(rowsum), f64(colsum), f64(sums[:]), C.int(level))
	return sums[0], sums[1], true
}

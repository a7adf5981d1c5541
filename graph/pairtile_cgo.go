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

// What differs between the widths: the type of a lane mask and the
// operations on it, the sign flip, the table gather and the exponent
// addition, each a small function per width with one name and the
// width as suffix. The row loop below is written once over them.
#define PT_A512 __attribute__((target("avx512f"), always_inline)) static inline
#define PT_A256 __attribute__((target("avx2"), always_inline)) static inline
typedef __mmask8 pt_mask512;
typedef __m256d pt_mask256;
PT_A512 pt_mask512 pt_gt512(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
PT_A256 pt_mask256 pt_gt256(__m256d a, __m256d b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
PT_A512 pt_mask512 pt_lt512(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
PT_A256 pt_mask256 pt_lt256(__m256d a, __m256d b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
PT_A512 int pt_any512(pt_mask512 m) { return m != 0; }
PT_A256 int pt_any256(pt_mask256 m) { return _mm256_movemask_pd(m) != 0; }
// a where m, +0 elsewhere; a where m, b elsewhere
PT_A512 __m512d pt_sel512(pt_mask512 m, __m512d a) { return _mm512_maskz_mov_pd(m, a); }
PT_A256 __m256d pt_sel256(pt_mask256 m, __m256d a) { return _mm256_and_pd(m, a); }
PT_A512 __m512d pt_blend512(pt_mask512 m, __m512d a, __m512d b) { return _mm512_mask_mov_pd(b, m, a); }
PT_A256 __m256d pt_blend256(pt_mask256 m, __m256d a, __m256d b) { return _mm256_blendv_pd(b, a, m); }
// -x, a sign flip as Go's
PT_A512 __m512d pt_neg512(__m512d x) {
	return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(x), _mm512_set1_epi64((long long)0x8000000000000000ULL)));
}
PT_A256 __m256d pt_neg256(__m256d x) { return _mm256_xor_pd(x, _mm256_set1_pd(-0.0)); }
// tab[n & 31] for the bits n of t
PT_A512 __m512d pt_frac512(__m512d t, const double *tab) {
	return _mm512_i64gather_pd(_mm512_and_si512(_mm512_castpd_si512(t), _mm512_set1_epi64(31)), tab, 8);
}
PT_A256 __m256d pt_frac256(__m256d t, const double *tab) {
	return _mm256_i64gather_pd(tab, _mm256_and_si256(_mm256_castpd_si256(t), _mm256_set1_epi64x(31)), 8);
}
// p times 2^m, m = int64(n<<32)>>37 for the bits n of t: bits 5..16 of
// n's low half land on the exponent field, by a 32-bit arithmetic shift
// of that half by 5, then << 52 (AVX2 has no 64-bit arithmetic shift).
PT_A512 __m512d pt_scale512(__m512d p, __m512d t) {
	__m512i sh = _mm512_slli_epi64(_mm512_srai_epi32(_mm512_castpd_si512(t), 5), 52);
	return _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(p), sh));
}
PT_A256 __m256d pt_scale256(__m256d p, __m256d t) {
	__m256i sh = _mm256_slli_epi64(_mm256_srai_epi32(_mm256_castpd_si256(t), 5), 52);
	return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), sh));
}

// PT_ROW defines pt_row_<W>: one row's coefficients from column j on, in
// vectors of LANES float64 lanes (P: the intrinsics' prefix; LOADF,
// STOREF: the float32 halves), up to the last whole vector; it returns
// where it stopped. max(0, x) returns x when x is NaN, as Go's max(x, 0)
// does (a -0 it leaves changes neither the exponential nor a sum), and
// min(700, y) returns a NaN y, as Go's min does.
#define PT_ROW(W, TARGET, P, VD, LANES, LOADF, STOREF) \
__attribute__((target(TARGET))) \
static int pt_row_##W(const pair_consts *k, const double *tab, double xi, double yi, double sqi, \
		const double *xs, const double *ys, const double *sqs, float *row, double *colsum, \
		double *C, double *E, double *D, int j, int n) { \
	const VD X = P##_set1_pd(xi), Y = P##_set1_pd(yi), SQ = P##_set1_pd(sqi), \
		S2 = P##_set1_pd(k->s2), IG = P##_set1_pd(k->inv2sg), CS = P##_set1_pd(k->cSep), \
		CI = P##_set1_pd(k->cInv), Z = P##_setzero_pd(), TWO = P##_set1_pd(2), \
		MAXA = P##_set1_pd(PT_MAXARG), K = P##_set1_pd(pt_expK), M = P##_set1_pd(PT_MAGIC), \
		HI = P##_set1_pd(PT_LN2HI), LO = P##_set1_pd(PT_LN2LO), ONE = P##_set1_pd(1), \
		P2 = P##_set1_pd(1.0 / 2), P6 = P##_set1_pd(1.0 / 6), P24 = P##_set1_pd(1.0 / 24); \
	for (; j + LANES <= n; j += LANES) { \
		VD dx = P##_sub_pd(X, P##_loadu_pd(xs + j)), dy = P##_sub_pd(Y, P##_loadu_pd(ys + j)); \
		VD r2 = P##_add_pd(P##_mul_pd(dx, dx), P##_mul_pd(dy, dy)); \
		pt_mask##W far = pt_gt##W(r2, S2), near = pt_lt##W(r2, S2); \
		VD g = P##_cvtps_pd(LOADF(row + j)); \
		VD d = P##_max_pd(Z, P##_sub_pd(P##_add_pd(SQ, P##_loadu_pd(sqs + j)), P##_mul_pd(TWO, g))); \
		VD c = Z, e = Z, dv = Z; \
		if (k->doSep && pt_any##W(far)) { \
			VD x = pt_neg##W(P##_min_pd(MAXA, P##_mul_pd(d, IG))); \
			VD t = P##_add_pd(P##_mul_pd(x, K), M); \
			VD kr = P##_sub_pd(t, M); \
			VD r = P##_sub_pd(P##_sub_pd(x, P##_mul_pd(kr, HI)), P##_mul_pd(kr, LO)); \
			VD poly = P##_add_pd(ONE, P##_mul_pd(r, P##_add_pd(ONE, P##_mul_pd(r, \
				P##_add_pd(P2, P##_mul_pd(r, P##_add_pd(P6, P##_mul_pd(r, P24)))))))); \
			VD ev = pt_scale##W(P##_mul_pd(poly, pt_frac##W(t, tab)), t); \
			e = pt_sel##W(far, ev); \
			c = pt_sel##W(far, P##_mul_pd(CS, ev)); \
		} \
		if (k->doInv && pt_any##W(near)) { \
			dv = pt_sel##W(near, d); \
			c = pt_blend##W(near, CI, c); \
		} \
		P##_storeu_pd(C + j, c); \
		P##_storeu_pd(E + j, e); \
		P##_storeu_pd(D + j, dv); \
		STOREF(row + j, P##_cvtpd_ps(c)); \
		P##_storeu_pd(colsum + j, P##_add_pd(P##_loadu_pd(colsum + j), c)); \
	} \
	return j; \
}

PT_ROW(512, "avx512f", _mm512, __m512d, 8, _mm256_loadu_ps, _mm256_storeu_ps)
PT_ROW(256, "avx2", _mm256, __m256d, 4, _mm_loadu_ps, _mm_storeu_ps)

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
		if (level == 2) j = pt_row_512(k, tab, pxi[ii], pyi[ii], sqi[ii], xs, ys, sqs, row, colsum, C, E, D, j, bj);
		else if (level == 1) j = pt_row_256(k, tab, pxi[ii], pyi[ii], sqi[ii], xs, ys, sqs, row, colsum, C, E, D, j, bj);
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

	"github.com/gridgpu/gridgpu/internal/simd"
)

// VectorPath names the path of the C kernels (the pair loop here, the
// optimiser's update in package train) on this CPU, for benchmarks: every
// path gives the same bits, at different speeds.
func VectorPath() string { return simd.Name(simd.Widest) }

// pairTileF32 is pairTile for the float32 graph on path level (a level of
// package simd), in C; ok is false where it does not apply (a tile wider than
// 256 columns) and pairTile's Go loop runs instead.
func pairTileF32(k *pairKernel, tile []float32, bi, bj, i0, j0 int, diag bool, sc *pairScratch[float32], rowsum, colsum []float64, level int) (sepSum, invSum float64, ok bool) {
	if bj > 256 || bi == 0 || bj == 0 {
		return 0, 0, false
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

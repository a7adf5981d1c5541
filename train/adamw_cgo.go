//go:build cgo && !purego

package train

/*
#cgo CFLAGS: -O3 -std=c11
#cgo LDFLAGS: -lm
#include <immintrin.h>
#include <math.h>

// adamw_f32 is adamwGo (adamw.go) in C with vector intrinsics: two
// divisions and a square root per element, which Go leaves scalar (about
// 18 cycles an element), 8 or 4 elements at a time. Each intrinsic is the
// operation Go does, in Go's order; ISO C (-std=c11) leaves a*b+c two
// roundings, as in Go. Division, square root and the conversions are
// correctly rounded in every width, so every path gives Go's bits. (The
// compiler's own vectoriser would need -fno-math-errno, which cgo refuses.)

#define ADAMW_CONSTS \
	const double gscale = k[0], decay = k[1], b1 = k[2], b2 = k[3], lr = k[4], \
		bc1 = k[5], bc2 = k[6], eps = k[7], c1 = 1 - b1, c2 = 1 - b2;

static void adamw_scalar(float *p, const float *g, float *m, float *v, long i, long n, const double *k) {
	ADAMW_CONSTS
	for (; i < n; i++) {
		double gi = (double)g[i] * gscale;
		double pi = (double)p[i] * decay;
		double mi = b1 * (double)m[i] + c1 * gi;
		double vi = b2 * (double)v[i] + c2 * gi * gi;
		pi -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
		p[i] = (float)pi;
		m[i] = (float)mi;
		v[i] = (float)vi;
	}
}

// ADAMW_VECTOR defines adamw_<W>, the loop in W-bit vectors of 64-bit
// lanes, once for both widths: P is the intrinsics' prefix (_mm512,
// _mm256) and LOADF/STOREF load and store the lanes' float32 halves.
#define ADAMW_VECTOR(W, TARGET, P, VD, LANES, LOADF, STOREF) \
__attribute__((target(TARGET))) \
static void adamw_##W(float *p, const float *g, float *m, float *v, long n, const double *k) { \
	ADAMW_CONSTS \
	const VD Gs = P##_set1_pd(gscale), D = P##_set1_pd(decay), B1 = P##_set1_pd(b1), \
		B2 = P##_set1_pd(b2), C1 = P##_set1_pd(c1), C2 = P##_set1_pd(c2), LR = P##_set1_pd(lr), \
		BC1 = P##_set1_pd(bc1), BC2 = P##_set1_pd(bc2), E = P##_set1_pd(eps); \
	long i = 0; \
	for (; i + LANES <= n; i += LANES) { \
		VD gi = P##_mul_pd(P##_cvtps_pd(LOADF(g + i)), Gs); \
		VD pi = P##_mul_pd(P##_cvtps_pd(LOADF(p + i)), D); \
		VD mi = P##_add_pd(P##_mul_pd(B1, P##_cvtps_pd(LOADF(m + i))), P##_mul_pd(C1, gi)); \
		VD vi = P##_add_pd(P##_mul_pd(B2, P##_cvtps_pd(LOADF(v + i))), P##_mul_pd(P##_mul_pd(C2, gi), gi)); \
		VD den = P##_add_pd(P##_sqrt_pd(P##_div_pd(vi, BC2)), E); \
		pi = P##_sub_pd(pi, P##_div_pd(P##_mul_pd(LR, P##_div_pd(mi, BC1)), den)); \
		STOREF(p + i, P##_cvtpd_ps(pi)); \
		STOREF(m + i, P##_cvtpd_ps(mi)); \
		STOREF(v + i, P##_cvtpd_ps(vi)); \
	} \
	adamw_scalar(p, g, m, v, i, n, k); \
}

ADAMW_VECTOR(avx512, "avx512f", _mm512, __m512d, 8, _mm256_loadu_ps, _mm256_storeu_ps)
ADAMW_VECTOR(avx2, "avx2", _mm256, __m256d, 4, _mm_loadu_ps, _mm_storeu_ps)

// adamw_f32 runs path level (internal/simd: 0 scalar, 1 AVX2, 2 AVX-512).
static void adamw_f32(float *p, const float *g, float *m, float *v, long n, const double *k, int level) {
	switch (level) {
	case 2: adamw_avx512(p, g, m, v, n, k); break;
	case 1: adamw_avx2(p, g, m, v, n, k); break;
	default: adamw_scalar(p, g, m, v, 0, n, k);
	}
}
*/
import "C"

import (
	"unsafe"

	"github.com/gridgpu/gridgpu/internal/simd"
)

// adamwChunk updates one range with the C twin of adamwGo.
func adamwChunk(p, g, m, v []float32, a *adamwArgs) { adamwC(p, g, m, v, a, simd.Widest) }

// adamwC is adamwChunk on a given path (a level of package simd).
func adamwC(p, g, m, v []float32, a *adamwArgs, level int) {
	if len(p) == 0 {
		return
	}
	_ = g[len(p)-1]
	_ = m[len(p)-1]
	_ = v[len(p)-1]
	k := [8]float64{a.gscale, a.decay, a.b1, a.b2, a.lr, a.bc1, a.bc2, a.eps}
	C.adamw_f32((*C.float)(unsafe.Pointer(&p[0])), (*C.float)(unsafe.Pointer(&g[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])),
		C.long(len(p)), (*C.double)(unsafe.Pointer(&k[0])), C.int(level))
}

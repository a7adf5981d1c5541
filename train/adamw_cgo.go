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

__attribute__((target("avx512f")))
static void adamw_avx512(float *p, const float *g, float *m, float *v, long n, const double *k) {
	ADAMW_CONSTS
	const __m512d Gs = _mm512_set1_pd(gscale), D = _mm512_set1_pd(decay), B1 = _mm512_set1_pd(b1),
		B2 = _mm512_set1_pd(b2), C1 = _mm512_set1_pd(c1), C2 = _mm512_set1_pd(c2), LR = _mm512_set1_pd(lr),
		BC1 = _mm512_set1_pd(bc1), BC2 = _mm512_set1_pd(bc2), E = _mm512_set1_pd(eps);
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		__m512d gi = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(g + i)), Gs);
		__m512d pi = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + i)), D);
		__m512d mi = _mm512_add_pd(_mm512_mul_pd(B1, _mm512_cvtps_pd(_mm256_loadu_ps(m + i))), _mm512_mul_pd(C1, gi));
		__m512d vi = _mm512_add_pd(_mm512_mul_pd(B2, _mm512_cvtps_pd(_mm256_loadu_ps(v + i))),
			_mm512_mul_pd(_mm512_mul_pd(C2, gi), gi));
		__m512d den = _mm512_add_pd(_mm512_sqrt_pd(_mm512_div_pd(vi, BC2)), E);
		pi = _mm512_sub_pd(pi, _mm512_div_pd(_mm512_mul_pd(LR, _mm512_div_pd(mi, BC1)), den));
		_mm256_storeu_ps(p + i, _mm512_cvtpd_ps(pi));
		_mm256_storeu_ps(m + i, _mm512_cvtpd_ps(mi));
		_mm256_storeu_ps(v + i, _mm512_cvtpd_ps(vi));
	}
	adamw_scalar(p, g, m, v, i, n, k);
}

__attribute__((target("avx2")))
static void adamw_avx2(float *p, const float *g, float *m, float *v, long n, const double *k) {
	ADAMW_CONSTS
	const __m256d Gs = _mm256_set1_pd(gscale), D = _mm256_set1_pd(decay), B1 = _mm256_set1_pd(b1),
		B2 = _mm256_set1_pd(b2), C1 = _mm256_set1_pd(c1), C2 = _mm256_set1_pd(c2), LR = _mm256_set1_pd(lr),
		BC1 = _mm256_set1_pd(bc1), BC2 = _mm256_set1_pd(bc2), E = _mm256_set1_pd(eps);
	long i = 0;
	for (; i + 4 <= n; i += 4) {
		__m256d gi = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(g + i)), Gs);
		__m256d pi = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(p + i)), D);
		__m256d mi = _mm256_add_pd(_mm256_mul_pd(B1, _mm256_cvtps_pd(_mm_loadu_ps(m + i))), _mm256_mul_pd(C1, gi));
		__m256d vi = _mm256_add_pd(_mm256_mul_pd(B2, _mm256_cvtps_pd(_mm_loadu_ps(v + i))),
			_mm256_mul_pd(_mm256_mul_pd(C2, gi), gi));
		__m256d den = _mm256_add_pd(_mm256_sqrt_pd(_mm256_div_pd(vi, BC2)), E);
		pi = _mm256_sub_pd(pi, _mm256_div_pd(_mm256_mul_pd(LR, _mm256_div_pd(mi, BC1)), den));
		_mm_storeu_ps(p + i, _mm256_cvtpd_ps(pi));
		_mm_storeu_ps(m + i, _mm256_cvtpd_ps(mi));
		_mm_storeu_ps(v + i, _mm256_cvtpd_ps(vi));
	}
	adamw_scalar(p, g, m, v, i, n, k);
}

// adamw_f32 runs the widest path the CPU has; level forces one (0 scalar,
// 1 AVX2, 2 AVX-512, -1 the widest), for the tests that compare them.
static void adamw_f32(float *p, const float *g, float *m, float *v, long n, const double *k, int level) {
	if (level < 0) {
		__builtin_cpu_init();
		level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
	}
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

	"golang.org/x/sys/cpu"
)

// adamwChunk updates one range with the C twin of adamwGo.
func adamwChunk(p, g, m, v []float32, a *adamwArgs) { adamwC(p, g, m, v, a, -1) }

// adamwLevels are the paths of the C twin this CPU can run, for tests.
func adamwLevels() []int {
	switch {
	case cpu.X86.HasAVX512F:
		return []int{0, 1, 2}
	case cpu.X86.HasAVX2:
		return []int{0, 1}
	}
	return []int{0}
}

// adamwC is adamwChunk on a given path (adamw_f32's level).
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

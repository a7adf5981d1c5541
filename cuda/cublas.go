//go:build gridgpu_cuda && !gridgpu_cudaemu

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>

// cuBLAS is loaded at run time, so that the binary needs only libcuda.so.1:
// whichever of libcublas.so.13/.12/.11 exists. cublasCreate_v2 and
// cublasSgemm_v2 have kept their signatures across these versions.
typedef int (*cublasCreate_t)(void **);
typedef int (*cublasSetMathMode_t)(void *, int);
typedef int (*cublasSgemm_t)(void *, int, int, int, int, int, const float *, const float *, int, const float *, int,
                             const float *, float *, int);
static void *g_handle;
static cublasSgemm_t g_sgemm;

// tf32: CUBLAS_TF32_TENSOR_OP_MATH (3) instead of the default FP32 math.
static int blas_open(char *which, int n, int tf32) {
	const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
	for (int i = 0; i < 4; i++) {
		void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (!h) continue;
		cublasCreate_t create = (cublasCreate_t)dlsym(h, "cublasCreate_v2");
		cublasSgemm_t sgemm = (cublasSgemm_t)dlsym(h, "cublasSgemm_v2");
		if (!create || !sgemm) continue;
		int rc = create(&g_handle);
		if (rc != 0) {
			snprintf(which, n, "%s: cublasCreate failed (%d)", names[i], rc);
			return 1;
		}
		g_sgemm = sgemm;
		if (tf32) {
			cublasSetMathMode_t mode = (cublasSetMathMode_t)dlsym(h, "cublasSetMathMode");
			if (!mode || mode(g_handle, 3) != 0) {
				snprintf(which, n, "%s: cannot select TF32 math", names[i]);
				return 1;
			}
			snprintf(which, n, "%s, TF32", names[i]);
			return 0;
		}
		snprintf(which, n, "%s", names[i]);
		return 0;
	}
	snprintf(which, n, "no libcublas.so.13/.12/.11 found");
	return 1;
}

// Column-major cublasSgemm with host-side alpha and beta.
static int blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, unsigned long long A, int lda,
                      unsigned long long B, int ldb, float beta, unsigned long long C, int ldc) {
	return g_sgemm(g_handle, ta, tb, m, n, k, &alpha, (const float *)A, lda, (const float *)B, ldb, &beta, (float *)C,
	               ldc);
}
*/
import "C"

import "fmt"

// openBLAS loads cuBLAS (gpu.gemm cublas; with tf32 in its TF32
// tensor-core mode, faster at ~1e-3 relative error instead of ~1e-6: the
// kernel lab's cublas-tf32 rows); on the device thread, with the context
// current (the handle binds to it).
func (dr *driver) openBLAS(tf32 bool) (string, error) {
	var buf [256]C.char
	t := C.int(0)
	if tf32 {
		t = 1
	}
	if C.blas_open(&buf[0], C.int(len(buf)), t) != 0 {
		return "", fmt.Errorf("cuBLAS: %s", C.GoString(&buf[0]))
	}
	return C.GoString(&buf[0]), nil
}

// sgemm is cublasSgemm_v2 (column-major; 0 = no transpose, 1 = transpose).
func (dr *driver) sgemm(ta, tb bool, m, n, k int, alpha float32, A devPtr, lda int, B devPtr, ldb int, beta float32, Cp devPtr, ldc int) error {
	op := func(t bool) C.int {
		if t {
			return 1
		}
		return 0
	}
	if rc := C.blas_sgemm(op(ta), op(tb), C.int(m), C.int(n), C.int(k), C.float(alpha), C.ulonglong(A), C.int(lda),
		C.ulonglong(B), C.int(ldb), C.float(beta), C.ulonglong(Cp), C.int(ldc)); rc != 0 {
		return fmt.Errorf("cublasSgemm failed (status %d)", int(rc))
	}
	return nil
}

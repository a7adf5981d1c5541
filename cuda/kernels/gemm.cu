// gemm.cu: single-precision matrix products for the MLP, forward and backward.
//
// C[M,N] = op(A)[M,K] * op(B)[K,N], with
//   A(m,k) = TA ? A[k*lda + m] : A[m*lda + k]
//   B(k,n) = TB ? B[n*ldb + k] : B[k*ldb + n]
// The three products the model needs are the three transposition cases of a
// Linear layer y = x W^T + b (x [P,in], W [out,in], y [P,out]):
//   forward         y  = x W^T      TA=0 TB=1  (gemm_nt)
//   input gradient  dx = dy W       TA=0 TB=0  (gemm_nn)
//   weight gradient dW = dy^T x     TA=1 TB=0  (gemm_tn)
// (the bias gradient db = column sums of dy is in sic.cu).
//
// Design: the classic 128x128 block tile, 8-deep K slices, 256 threads each
// owning an 8x8 sub-tile (two 4x4 quadrants 64 apart, so that the float4 reads
// of shared memory are conflict-free), shared memory double-buffered with a
// register prefetch of the next K slice, so one __syncthreads per slice.
// Operand loads are scalar and bounds-checked (M, N, K need not be multiples
// of anything); they are arranged so that a warp reads contiguous runs of the
// operand's contiguous dimension. Everything is plain FP32 FMA: results agree
// with a float64 reference to ~1e-6 relative, with no TF32 rounding.
//
// Split-K: with gridDim.z > 1 each z-slice multiplies a K range of kchunk and
// writes its raw partial product to ws[z][M][N]; gemm_splitk_reduce then adds
// the slices in a fixed order and applies the epilogue, so results do not
// depend on scheduling (no atomics). This keeps the SMs busy when M*N is
// small and K large (dx = dy W2 at paper size: 7800x256 outputs, K = 16384).
//
// Epilogue flags: 1 = accumulate into C (C += product, used to sum gradients
// over microbatches), 2 = add bias[n], 4 = ReLU.

#define BM 128
#define BN 128
#define BK 8
#define PAD 4

#define FLAG_ACC 1
#define FLAG_BIAS 2
#define FLAG_RELU 4

__device__ __forceinline__ float epilogue(float v, float* C, long long idx, const float* bias, int n, int flags) {
    if (flags & FLAG_BIAS) v += bias[n];
    if (flags & FLAG_ACC) v += C[idx];
    if (flags & FLAG_RELU) v = fmaxf(v, 0.f);
    return v;
}

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_body(const float* __restrict__ A, const float* __restrict__ B, float* C,
                                          const float* __restrict__ bias, float* ws, int M, int N, int K,
                                          long long lda, long long ldb, long long ldc, int kchunk, int flags) {
    __shared__ __align__(16) float As[2][BK][BM + PAD];
    __shared__ __align__(16) float Bs[2][BK][BN + PAD];
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int kbeg = blockIdx.z * kchunk;
    const int kend = min(K, kbeg + kchunk);

    float ra[4], rb[4];
    // Index maps shared by the load and the store of one slice. When the
    // operand's contiguous dimension is K, 8 consecutive threads read one
    // row's 8 K values; otherwise 128 consecutive threads read along M (N).
    auto loadA = [&](int k0) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int kk, mm;
            if (TA) { mm = tid % BM; kk = tid / BM + 2 * q; } else { kk = tid % BK; mm = tid / BK + 32 * q; }
            int m = m0 + mm, k = k0 + kk;
            float v = 0.f;
            if (m < M && k < kend) v = TA ? A[(long long)k * lda + m] : A[(long long)m * lda + k];
            ra[q] = v;
        }
    };
    auto storeA = [&](int buf) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int kk, mm;
            if (TA) { mm = tid % BM; kk = tid / BM + 2 * q; } else { kk = tid % BK; mm = tid / BK + 32 * q; }
            As[buf][kk][mm] = ra[q];
        }
    };
    auto loadB = [&](int k0) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int kk, nn;
            if (TB) { kk = tid % BK; nn = tid / BK + 32 * q; } else { nn = tid % BN; kk = tid / BN + 2 * q; }
            int n = n0 + nn, k = k0 + kk;
            float v = 0.f;
            if (n < N && k < kend) v = TB ? B[(long long)n * ldb + k] : B[(long long)k * ldb + n];
            rb[q] = v;
        }
    };
    auto storeB = [&](int buf) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int kk, nn;
            if (TB) { kk = tid % BK; nn = tid / BK + 32 * q; } else { nn = tid % BN; kk = tid / BN + 2 * q; }
            Bs[buf][kk][nn] = rb[q];
        }
    };

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = 0.f;

    if (kbeg < kend) {
        loadA(kbeg);
        loadB(kbeg);
        storeA(0);
        storeB(0);
    }
    __syncthreads();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        const bool more = k0 + BK < kend;
        if (more) {
            loadA(k0 + BK);
            loadB(k0 + BK);
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 4]);
            float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][64 + ty * 4]);
            float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 4]);
            float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][64 + tx * 4]);
            float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        // The other buffer was last read before the previous barrier.
        if (more) {
            storeA(buf ^ 1);
            storeB(buf ^ 1);
        }
        __syncthreads();
        buf ^= 1;
    }

    const bool split = gridDim.z > 1;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (m >= M) continue;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int nb = n0 + h * 64 + tx * 4;
            if (split) {
                float* dst = ws + ((long long)blockIdx.z * M + m) * N;
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (nb + j < N) dst[nb + j] = acc[i][h * 4 + j];
            } else if (nb + 3 < N && (reinterpret_cast<unsigned long long>(C + (long long)m * ldc + nb) & 15) == 0) {
                // 16-byte store when the address allows it (C may be a
                // tensor inside the flat gradient buffer at any offset).
                const long long idx = (long long)m * ldc + nb;
                float4 v;
                v.x = epilogue(acc[i][h * 4 + 0], C, idx + 0, bias, nb + 0, flags);
                v.y = epilogue(acc[i][h * 4 + 1], C, idx + 1, bias, nb + 1, flags);
                v.z = epilogue(acc[i][h * 4 + 2], C, idx + 2, bias, nb + 2, flags);
                v.w = epilogue(acc[i][h * 4 + 3], C, idx + 3, bias, nb + 3, flags);
                *reinterpret_cast<float4*>(&C[idx]) = v;
            } else {
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const int n = nb + j;
                    if (n < N) {
                        const long long idx = (long long)m * ldc + n;
                        C[idx] = epilogue(acc[i][h * 4 + j], C, idx, bias, n, flags);
                    }
                }
            }
        }
    }
}

// All scalar parameters are 8 bytes wide: the Go launcher passes every
// argument as one 64-bit slot.
#define GEMM_ARGS                                                                                           \
    const float *A, const float *B, float *C, const float *bias, float *ws, long long M, long long N,        \
        long long K, long long lda, long long ldb, long long ldc, long long kchunk, long long flags
#define GEMM_PASS A, B, C, bias, ws, (int)M, (int)N, (int)K, lda, ldb, ldc, (int)kchunk, (int)flags

extern "C" __global__ void __launch_bounds__(256) gemm_nt(GEMM_ARGS) { gemm_body<false, true>(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(256) gemm_nn(GEMM_ARGS) { gemm_body<false, false>(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(256) gemm_tn(GEMM_ARGS) { gemm_body<true, false>(GEMM_PASS); }

// C[m*ldc+n] = epilogue(sum over z of ws[z][m][n]), z in increasing order.
extern "C" __global__ void gemm_splitk_reduce(const float* ws, float* C, const float* bias, long long M, long long N,
                                              long long ldc, long long splits, long long flags) {
    const long long total = M * N;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        float s = 0.f;
        for (long long z = 0; z < splits; z++) s += ws[z * total + e];
        const long long m = e / N, n = e % N;
        const long long idx = m * ldc + n;
        C[idx] = epilogue(s, C, idx, bias, (int)n, (int)flags);
    }
}

// C[m*ldc+n] = bias[n]: the bias term of a product computed by cuBLAS with
// beta = 1 (the optional cuBLAS path has no bias epilogue).
extern "C" __global__ void set_rows(float* C, const float* bias, long long M, long long N, long long ldc) {
    const long long total = M * N;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x)
        C[(e / N) * ldc + e % N] = bias[e % N];
}

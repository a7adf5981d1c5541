// gemm.cu: single-precision matrix products for the MLP, forward and backward.
//
// C[M,N] = op(A)[M,K] * op(B)[K,N] (the contract: gemm_tiles.cuh).
// The three products the model needs are the three transposition cases of a
// Linear layer y = x W^T + b (x [P,in], W [out,in], y [P,out]):
//   forward         y  = x W^T      TA=0 TB=1  (gemm_nt)
//   input gradient  dx = dy W       TA=0 TB=0  (gemm_nn)
//   weight gradient dW = dy^T x     TA=1 TB=0  (gemm_tn)
// (the bias gradient db = column sums of dy is colsum, in reduce.cu).
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
// Split-K (gemm_tiles.cuh) with gemm_splitk_reduce adding the slices in a
// fixed order, so results do not depend on scheduling (no atomics). This
// keeps the SMs busy when M*N is small and K large (dx = dy W2 at paper
// size: 7800x256 outputs, K = 16384).
//
// Variants kept for study (the 3xTF32 tensor-core family) are in the kernel
// lab, cuda/lab.

#include "gemm_tiles.cuh"

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_body(const float* __restrict__ A, const float* __restrict__ B, float* C,
                                          const float* __restrict__ bias, float* ws, int M, int N, int K,
                                          long long lda, long long ldb, long long ldc, int kchunk, int flags) {
    __shared__ __align__(16) float As[2][BK][BM + PAD];
    __shared__ __align__(16) float Bs[2][BK][BN + PAD];
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = 0.f;

    gemm_kloop<TA, TB>(A, B, M, N, K, lda, ldb, kchunk, m0, n0, tid, As, Bs, [&](int buf) {
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
    });

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

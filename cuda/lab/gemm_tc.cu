// gemm_tc.cu (kernel lab): the 3xTF32 tensor-core GEMM, kept for study
// beside the production FP32 kernels (../kernels/gemm.cu): same contract,
// tiles, operand loads, K loop, split-K and epilogue (gemm_tiles.cuh).
// Not loaded by the trainer; cuda/lab_test.go checks it against the float64
// reference and times it against the production products (README.md).
#include "../kernels/gemm_tiles.cuh"

// The inner product runs on the tensor cores with
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80+). Each operand
// is split as x = hi + lo, hi = tf32(x) (round to nearest, 10-bit mantissa),
// lo = tf32(x - hi) (x - hi is exact in FP32), and
//   a*b ~= a_hi*b_hi + a_hi*b_lo + a_lo*b_hi
// (the dropped a_lo*b_lo is ~2^-22 |a b|), accumulated in FP32 with the
// small terms first: FP32-level accuracy (~1e-6 relative, as the SIMT
// kernel), three tensor-core products per step instead of one. Plain TF32
// (one product) would be ~1e-3, as cuBLAS's TF32 mode (the lab's
// cublas-tf32 benchmark rows).
//
// Warps: 8 per block as 2 (M) x 4 (N); a warp owns 64 x 32 outputs, i.e.
// 4 x 4 tiles of 16 x 8, 64 accumulators per thread. Fragment layouts (PTX
// ISA, mma.m16n8k8 .tf32; g = lane/4, t = lane%4):
//   A (16x8, row): a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]
//   B (8x8, col):  b0 = B[t][g], b1 = B[t+4][g]
//   C (16x8):      c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
// Shared tiles are k-major with row stride BM + 8 = 136 floats, so the 32
// lanes of a fragment read (8t + g) mod 32: 32 different banks.
//
// The CPU emulator (cuda/emu) cannot run inline PTX: with GRIDGPU_EMU
// defined, tf32_round and mma_tf32 are the C++ models in cuda/emu/emu.cc
// (the same fragment layout, exchanged through a per-warp buffer).
#define TC_PAD 8
#define TC_LD (BM + TC_PAD)

#ifndef GRIDGPU_EMU
__device__ __forceinline__ unsigned tf32_round(float x) {
    unsigned u;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
    return u;
}
__device__ __forceinline__ void mma_tf32(float* c, const unsigned* a, const unsigned* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
#define tf32_round emu_tf32_round
#define mma_tf32 emu_mma_tf32
#endif

__device__ __forceinline__ void split_tf32(float x, unsigned& hi, unsigned& lo) {
    hi = tf32_round(x);
    lo = tf32_round(x - __uint_as_float(hi));
}

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_tc_body(const float* __restrict__ A, const float* __restrict__ B, float* C,
                                             const float* __restrict__ bias, float* ws, int M, int N, int K,
                                             long long lda, long long ldb, long long ldc, int kchunk, int flags) {
    __shared__ __align__(16) float As[2][BK][TC_LD];
    __shared__ __align__(16) float Bs[2][BK][TC_LD];
    const int tid = threadIdx.x;
    const int lane = tid % 32, warp = tid / 32;
    const int g = lane / 4, t = lane % 4;
    const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;  // warp's origin in the block tile
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.f;

    gemm_kloop<TA, TB>(A, B, M, N, K, lda, ldb, kchunk, m0, n0, tid, As, Bs, [&](int buf) {
        // B fragments of the warp's four 8-column tiles, then per 16-row
        // tile its A fragment, each split in hi and lo.
        unsigned bhi[4][2], blo[4][2];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int nb = wn + 8 * j + g;
            split_tf32(Bs[buf][t][nb], bhi[j][0], blo[j][0]);
            split_tf32(Bs[buf][t + 4][nb], bhi[j][1], blo[j][1]);
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int mb = wm + 16 * i + g;
            unsigned ahi[4], alo[4];
            split_tf32(As[buf][t][mb], ahi[0], alo[0]);
            split_tf32(As[buf][t][mb + 8], ahi[1], alo[1]);
            split_tf32(As[buf][t + 4][mb], ahi[2], alo[2]);
            split_tf32(As[buf][t + 4][mb + 8], ahi[3], alo[3]);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                mma_tf32(acc[i][j], alo, bhi[j]);
                mma_tf32(acc[i][j], ahi, blo[j]);
                mma_tf32(acc[i][j], ahi, bhi[j]);
            }
        }
    });

    const bool split = gridDim.z > 1;
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int m = m0 + wm + 16 * i + g + 8 * h;
            if (m >= M) continue;
#pragma unroll
            for (int j = 0; j < 4; j++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int n = n0 + wn + 8 * j + 2 * t + e;
                    if (n >= N) continue;
                    const float v = acc[i][j][2 * h + e];
                    if (split) {
                        ws[((long long)blockIdx.z * M + m) * N + n] = v;
                    } else {
                        const long long idx = (long long)m * ldc + n;
                        C[idx] = epilogue(v, C, idx, bias, n, flags);
                    }
                }
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 2) gemm_tc_nt(GEMM_ARGS) { gemm_tc_body<false, true>(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(256, 2) gemm_tc_nn(GEMM_ARGS) { gemm_tc_body<false, false>(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(256, 2) gemm_tc_tn(GEMM_ARGS) { gemm_tc_body<true, false>(GEMM_PASS); }

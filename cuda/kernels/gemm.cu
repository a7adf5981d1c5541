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

// The operand loads, shared by gemm_body and gemm_tc_body. A K slice of an
// operand is BK x W values of op(X) (W = BM for A, BN for B) from row
// (column) o and k0 on; each of the 256 threads loads 4 of them into
// registers (load_slice; 0 where the row (column) is >= size or k >= kend)
// and later stores them into the shared tile S[k][m] (store_slice), with
// the same index map (slice_index). KC says whether K is the operand's
// contiguous dimension (A: !TA, B: TB): then 8 consecutive threads read one
// row's 8 K values; otherwise W consecutive threads read along M (N).
template <bool KC, int W>
__device__ __forceinline__ void slice_index(int tid, int q, int& kk, int& mn) {
    if (KC) { kk = tid % BK; mn = tid / BK + 32 * q; } else { mn = tid % W; kk = tid / W + 2 * q; }
}

template <bool KC, int W>
__device__ __forceinline__ void load_slice(const float* __restrict__ X, long long ld, int o, int size, int k0, int kend,
                                           int tid, float* r) {
#pragma unroll
    for (int q = 0; q < 4; q++) {
        int kk, mn;
        slice_index<KC, W>(tid, q, kk, mn);
        int m = o + mn, k = k0 + kk;
        float v = 0.f;
        if (m < size && k < kend) v = KC ? X[(long long)m * ld + k] : X[(long long)k * ld + m];
        r[q] = v;
    }
}

template <bool KC, int W, int LD>
__device__ __forceinline__ void store_slice(float (*S)[LD], int tid, const float* r) {
#pragma unroll
    for (int q = 0; q < 4; q++) {
        int kk, mn;
        slice_index<KC, W>(tid, q, kk, mn);
        S[kk][mn] = r[q];
    }
}

// The K loop shared by gemm_body and gemm_tc_body: the block's K range
// (split-K slice blockIdx.z of kchunk) in BK slices through the shared
// buffers As[2], Bs[2] (row strides LDA, LDB), double-buffered with a
// register prefetch of the next slice (load_slice, store_slice), so one
// __syncthreads per slice; step(buf) multiplies the slice in buffer buf
// into the caller's accumulators.
template <bool TA, bool TB, int LDA, int LDB, class Step>
__device__ __forceinline__ void gemm_kloop(const float* __restrict__ A, const float* __restrict__ B, int M, int N,
                                           int K, long long lda, long long ldb, int kchunk, int m0, int n0, int tid,
                                           float (*As)[BK][LDA], float (*Bs)[BK][LDB], Step step) {
    const int kbeg = blockIdx.z * kchunk;
    const int kend = min(K, kbeg + kchunk);
    float ra[4], rb[4];
    auto load = [&](int k0) {
        load_slice<!TA, BM>(A, lda, m0, M, k0, kend, tid, ra);
        load_slice<TB, BN>(B, ldb, n0, N, k0, kend, tid, rb);
    };
    auto store = [&](int buf) {
        store_slice<!TA, BM>(As[buf], tid, ra);
        store_slice<TB, BN>(Bs[buf], tid, rb);
    };
    if (kbeg < kend) {
        load(kbeg);
        store(0);
    }
    __syncthreads();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        const bool more = k0 + BK < kend;
        if (more) load(k0 + BK);
        step(buf);
        // The other buffer was last read before the previous barrier.
        if (more) store(buf ^ 1);
        __syncthreads();
        buf ^= 1;
    }
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

// ---------------------------------------------------------------------------
// 3xTF32 tensor-core GEMM (opt-in: gpu.gemm 3xtf32, and the products
// that gpu.gemm cublas-tf32 does not give to cuBLAS).
//
// Same contract, tiles, operand loads and K loop (gemm_kloop), split-K and
// epilogue as gemm_body; the inner product runs on the tensor cores with
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80+). Each operand
// is split as x = hi + lo, hi = tf32(x) (round to nearest, 10-bit mantissa),
// lo = tf32(x - hi) (x - hi is exact in FP32), and
//   a*b ~= a_hi*b_hi + a_hi*b_lo + a_lo*b_hi
// (the dropped a_lo*b_lo is ~2^-22 |a b|), accumulated in FP32 with the
// small terms first: FP32-level accuracy (~1e-6 relative, as the SIMT
// kernel), three tensor-core products per step instead of one. Plain TF32
// (one product) would be ~1e-3; that is only available through
// gpu.gemm cublas-tf32.
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

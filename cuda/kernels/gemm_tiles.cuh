// gemm_tiles.cuh: what every GEMM kernel family shares (the production
// FP32 SIMT kernels of gemm.cu and the variants of the kernel lab,
// cuda/lab): the contract below, the 128 x 128 block tiles with 8-deep K
// slices, the bounds-checked operand loads, the double-buffered K loop, the
// epilogue and the launch arguments. Included once per translation unit
// (the emulator includes gemm.cu and the lab's files together).
//
// C[M,N] = op(A)[M,K] * op(B)[K,N], with
//   A(m,k) = TA ? A[k*lda + m] : A[m*lda + k]
//   B(k,n) = TB ? B[n*ldb + k] : B[k*ldb + n]
// Split-K: with gridDim.z > 1 each z-slice multiplies a K range of kchunk and
// writes its raw partial product to ws[z][M][N]; gemm_splitk_reduce (gemm.cu)
// then adds the slices in a fixed order and applies the epilogue.
//
// Epilogue flags: 1 = accumulate into C (C += product, used to sum gradients
// over microbatches), 2 = add bias[n], 4 = ReLU.
#ifndef GRIDGPU_GEMM_TILES_CUH
#define GRIDGPU_GEMM_TILES_CUH

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

// The operand loads, shared by every family. A K slice of an
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

// The K loop every family shares: the block's K range
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

// All scalar parameters are 8 bytes wide: the Go launcher passes every
// argument as one 64-bit slot.
#define GEMM_ARGS                                                                                           \
    const float *A, const float *B, float *C, const float *bias, float *ws, long long M, long long N,        \
        long long K, long long lda, long long ldb, long long ldc, long long kchunk, long long flags
#define GEMM_PASS A, B, C, bias, ws, (int)M, (int)N, (int)K, lda, ldb, ldc, (int)kchunk, (int)flags

#endif  // GRIDGPU_GEMM_TILES_CUH

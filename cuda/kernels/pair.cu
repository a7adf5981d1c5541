// pair.cu: the pairwise terms (separation and invariance): pair counts,
// coefficients, and two kernels for the fused loss and gradient, pair_tile
// (gpu.pair tiled, the default for N <= 128) and pair_loss (gpu.pair
// rowblock, and every N > 128).

#include "common.cuh"

// Pairwise losses, forward and gradient fused, tiled; never a P x P buffer.
//
// The terms and their coefficients are derived at graph.PairCoefficients
// (graph/terms.go). Over ordered pairs i != j, with D_ij = ||g_i - g_j||^2 =
// s_i + s_j - 2 g_i.g_j (s_i = ||g_i||^2, clamped at 0) and the mask from
// positions (float64, as the CPU graph computes it): far if
// ||x_i-x_j||^2 > sigma_x^2, near if <. The kernels sum exp(-D_ij inv2sg2)
// over far pairs and D_ij over near pairs, and form
//   dL/dg_i = sum_j c_ij (g_i - g_j)
// with c_ij = csep exp(-D_ij inv2sg2) (far), cinv (near): inv2sg2 is
// PairCoefs.Inv2SG, and csep, cinv (the factor 4 folded in: PairCoefs.Sep4,
// Inv4 at the pair counts) come from S, written by pair_coef beforehand.
//
// A block owns TI = 32 rows i and sweeps all column tiles of TJ = 32 states:
// Gram tile (each thread 2x2 dots over N from shared memory), c_ij into
// shared memory, then acc_i += sum_j c_ij g_j (each thread 4 rows x up to 8
// columns k = lane + 32q) and rowsum_i += sum_j c_ij. Finally
// dG_i = rowsum_i g_i - acc_i is written (the block owns those rows, so no
// atomics). Loss sums are kept per thread in float64 and written as block
// partials: part[blockIdx] (sep) and part[gridDim + blockIdx] (inv).
// Dynamic shared memory: (TI + TJ) * ld + TI * (TJ + 1) floats, ld = N | 1.
#define TI 32
#define TJ 32
// PAIR_COEF is the coefficient of pair (i, j) of P states, both pair
// kernels' one definition: cij, and the pair's share of its term's running
// sum (tsep or tinv), from the pair's positions XI, XJ ([2], float or
// double: both are widened before the difference), squared norms SI, SJ and
// dot product DOT. It reads i, j, P, sx2, inv2sg2, csep, cinv, doSep and
// doInv from the kernel. A macro, not a function, so that both kernels
// compile to the instructions they had when each wrote it out: D in
// float64, since for near pairs it is a small difference of numbers near
// 2, as in the CPU graph.
#define PAIR_COEF(XI, XJ, SI, SJ, DOT)                                                    \
    if (i < P && j < P && i != j) {                                                       \
        const double dx = (double)(XI)[0] - (double)(XJ)[0];                              \
        const double dy = (double)(XI)[1] - (double)(XJ)[1];                              \
        const double r2 = dx * dx + dy * dy;                                              \
        const double D = fmax((double)(SI) + (double)(SJ) - 2.0 * (double)(DOT), 0.0);    \
        if (r2 > sx2) {                                                                   \
            if (doSep) {                                                                  \
                const float e = expf((float)(-D * inv2sg2));                              \
                tsep += e;                                                                \
                cij = csep * e;                                                           \
            }                                                                             \
        } else if (r2 < sx2) {                                                            \
            if (doInv) {                                                                  \
                tinv += (float)D;                                                         \
                cij = cinv;                                                               \
            }                                                                             \
        }                                                                                 \
    }
// Rows r0..r0+TI-1 of G (zero beyond P) into T (row stride ld), their
// positions into x, then, after a barrier, their squared norms into sq.
__device__ __forceinline__ void loss_tile(const float* G, const float* X, long long P, long long N, long long r0,
                                          int ld, float* T, float (*x)[2], float* sq, int tid) {
    for (int e = tid; e < TI * N; e += blockDim.x) {
        const int r = e / (int)N, k = e % (int)N;
        T[r * ld + k] = (r0 + r < P) ? G[(r0 + r) * N + k] : 0.f;
    }
    if (tid < TI) {
        x[tid][0] = (r0 + tid < P) ? X[2 * (r0 + tid)] : 0.f;
        x[tid][1] = (r0 + tid < P) ? X[2 * (r0 + tid) + 1] : 0.f;
    }
    __syncthreads();
    if (tid < TI) {
        float s = 0;
        for (int k = 0; k < N; k++) s = fmaf(T[tid * ld + k], T[tid * ld + k], s);
        sq[tid] = s;
    }
}
extern "C" __global__ void __launch_bounds__(256) pair_loss(const float* G, const float* X, long long P, long long N,
                                                           double sx2, double inv2sg2, long long doSep,
                                                           long long doInv, const double* S, float* dG,
                                                           double* part, long long doGrad) {
    DYNAMIC_SHARED(float, sm);
    __shared__ float si[TI], sj[TJ], xi[TI][2], xj[TJ][2];
    __shared__ double red[32];
    const int ld = (int)(N | 1);  // odd stride: conflict-free column reads
    float* Gi = sm;
    float* Gj = sm + TI * ld;
    float* Cm = sm + (TI + TJ) * ld;  // [TI][TJ+1]
    const int tid = threadIdx.x, lane = tid % 32, w = tid / 32;
    const long long i0 = blockIdx.x * (long long)TI;
    const float csep = (float)S[S_CSEP], cinv = (float)S[S_CINV];

    loss_tile(G, X, P, N, i0, ld, Gi, xi, si, tid);

    // Gram mapping: rows 2*(tid/16)+{0,1}, columns tid%16 + 16*{0,1}.
    const int gr = 2 * (tid / 16), gc = tid % 16;
    // Gradient mapping: rows 4*w + {0..3}, columns lane + 32q.
    const int nq = (int)((N + 31) / 32);
    float acc[4][8] = {};
    float rowsum[4] = {};
    double sepAcc = 0, invAcc = 0;

    for (long long j0 = 0; j0 < P; j0 += TJ) {
        __syncthreads();  // previous tile's readers are done
        loss_tile(G, X, P, N, j0, ld, Gj, xj, sj, tid);
        float d00 = 0, d01 = 0, d10 = 0, d11 = 0;
        {
            const float* a0 = Gi + gr * ld;
            const float* a1 = Gi + (gr + 1) * ld;
            const float* b0 = Gj + gc * ld;
            const float* b1 = Gj + (gc + 16) * ld;
#pragma unroll 8
            for (int k = 0; k < N; k++) {
                const float x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
                d00 = fmaf(x0, y0, d00);
                d01 = fmaf(x0, y1, d01);
                d10 = fmaf(x1, y0, d10);
                d11 = fmaf(x1, y1, d11);
            }
        }
        __syncthreads();  // sj ready
        float dots[2][2] = {{d00, d01}, {d10, d11}};
        float tsep = 0, tinv = 0;
#pragma unroll
        for (int a = 0; a < 2; a++) {
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int ii = gr + a, jj = gc + 16 * c;
                const long long i = i0 + ii, j = j0 + jj;
                float cij = 0.f;
                PAIR_COEF(xi[ii], xj[jj], si[ii], sj[jj], dots[a][c]);
                Cm[ii * (TJ + 1) + jj] = cij;
            }
        }
        sepAcc += tsep;
        invAcc += tinv;
        if (!doGrad) continue;
        __syncthreads();
#pragma unroll 4
        for (int jj = 0; jj < TJ; jj++) {
            float c[4];
#pragma unroll
            for (int a = 0; a < 4; a++) {
                c[a] = Cm[(4 * w + a) * (TJ + 1) + jj];
                rowsum[a] += c[a];
            }
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const int k = lane + 32 * q;
                if (q < nq && k < N) {
                    const float gj = Gj[jj * ld + k];
#pragma unroll
                    for (int a = 0; a < 4; a++) acc[a][q] = fmaf(c[a], gj, acc[a][q]);
                }
            }
        }
    }
    if (doGrad) {
#pragma unroll
        for (int a = 0; a < 4; a++) {
            const long long i = i0 + 4 * w + a;
            if (i >= P) continue;
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const int k = lane + 32 * q;
                if (q < nq && k < N) dG[i * N + k] = rowsum[a] * Gi[(4 * w + a) * ld + k] - acc[a][q];
            }
        }
    }
    const double s1 = block_sum_d(sepAcc, red);
    const double s2 = block_sum_d(invAcc, red);
    if (tid == 0) {
        part[blockIdx.x] = s1;
        part[gridDim.x + blockIdx.x] = s2;
    }
}

// Far and near ordered-pair counts (they depend only on positions): each
// thread takes one i, and block row blockIdx.y one of gridDim.y slabs of j
// (with one slab P/256 blocks could not fill the card). Counts are integers,
// exact in float64, so the order of the sums does not matter.
// part[b] = far, part[nb + b] = near, b = blockIdx.y*gridDim.x + blockIdx.x.
extern "C" __global__ void pair_count(const float* X, long long P, double sx2, double* part) {
    __shared__ float xs[256][2];
    __shared__ double red[32];
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    const double xi = i < P ? X[2 * i] : 0, yi = i < P ? X[2 * i + 1] : 0;
    const long long chunk = (P + gridDim.y - 1) / gridDim.y;
    const long long jbeg = blockIdx.y * chunk, jend = min(P, jbeg + chunk);
    long long far = 0, near = 0;
    for (long long j0 = jbeg; j0 < jend; j0 += 256) {
        __syncthreads();
        if (j0 + threadIdx.x < jend) {
            xs[threadIdx.x][0] = X[2 * (j0 + threadIdx.x)];
            xs[threadIdx.x][1] = X[2 * (j0 + threadIdx.x) + 1];
        }
        __syncthreads();
        if (i < P) {
            const long long jn = min(256LL, jend - j0);
            for (long long jj = 0; jj < jn; jj++) {
                if (j0 + jj == i) continue;
                const double dx = xi - (double)xs[jj][0], dy = yi - (double)xs[jj][1];
                const double r2 = dx * dx + dy * dy;
                far += r2 > sx2;
                near += r2 < sx2;
            }
        }
    }
    const double f = block_sum_d((double)far, red);
    const double n = block_sum_d((double)near, red);
    if (threadIdx.x == 0) {
        const long long b = blockIdx.y * (long long)gridDim.x + blockIdx.x, nb = (long long)gridDim.x * gridDim.y;
        part[b] = f;
        part[nb + b] = n;
    }
}

// The pairwise terms' gradient coefficients at the pair counts in S: the
// host's graph.PairCoefs.Sep4 (sep_*) and Inv4 (inv_*) evaluated as
// graph.PairCoef.At does, c(M) = scale (num / (den M)), with M as
// graph.PairDivisor gives it (mean: the count, at least 1; sum: 1).
extern "C" __global__ void pair_coef(double* S, double sep_scale, double sep_num, double sep_den, double inv_scale,
                                     double inv_num, double inv_den, long long mean) {
    const double mf = mean ? fmax(S[S_NFAR], 1.0) : 1.0;
    const double mn = mean ? fmax(S[S_NNEAR], 1.0) : 1.0;
    S[S_CSEP] = sep_scale * (sep_num / (sep_den * mf));
    S[S_CINV] = inv_scale * (inv_num / (inv_den * mn));
}

// ---------------------------------------------------------------------------
// Pairwise losses, register-tiled (the default for N <= PK; pair_loss above
// is the first, row-block version: gpu.pair rowblock, and every N > PK).
//
// Same math as pair_loss: dL/dg_i = sum_j c_ij (g_i - g_j) over ordered
// pairs, c_ij from D_ij = s_i + s_j - 2 g_i.g_j and the position mask. Here
// a block owns PT = 64 rows i and a slab of column tiles (blockIdx.y; the
// grid has gridDim.y slabs so that ~4 blocks per SM keep the card busy even
// though P/64 is about the number of SMs). Per 64x64 tile:
//   1. Gram: thread (ty, tx) = (tid/16, tid%16) computes rows i = 4ty+r,
//      columns j = tx+16c (r, c < 4) over k in float4 steps from row-major
//      tiles with row stride PLD = 132 floats (the 16 different rows j a
//      half-warp reads start in 8 different bank quads: 2 wavefronts per
//      float4 read, the minimum; the i rows are broadcasts).
//   2. mask (float64 positions, as the CPU graph), D in float64, loss sums
//      (float64 per thread), c_ij into Ct[j][i] (transposed, float4 reads).
//   3. acc[i][k] += sum_j c_ij g_j[k], rowsum_i += sum_j c_ij: thread
//      (ig, kg) = (tid/16, tid%16) owns rows 4ig+a and k = 4kg+{0..3},
//      64+4kg+{0..3}; per j one float4 of Ct (broadcast) and two of g_j.
// Columns k >= N are zero-padded in shared memory, so N <= 128 (PK). The
// slab's partial dG_i^(s) = rowsum_i g_i - acc_i goes to out + s*P*N
// (out = dG when there is one slab); pair_slab_sum adds the slabs in
// order. Loss partials: part[s*gx + bx] (sep), part[gx*gy + s*gx + bx]
// (inv). No atomics: deterministic. Each unordered pair's Gram entry is
// computed twice (once per orientation); the symmetric variant would save
// a quarter of the FLOPs but needs a cross-block reduction of both row
// sets.
// Dynamic shared memory: 2*PT*PLD + PT*(PT+4) floats = 84,992 bytes.
#define PT 64
#define PK 128
#define PLD 132
#define CLD (PT + 4)
// Squared norms of the 64 rows of a pair_tile tile: 4 threads per row, each
// over k = part + 4m (lanes hit 32 distinct banks), then two shuffles.
__device__ __forceinline__ void tile_sqnorms(const float* T, float* out, int tid) {
    const int row = tid / 4, part = tid % 4;
    float s = 0;
    for (int k = part; k < PK; k += 4) s = fmaf(T[row * PLD + k], T[row * PLD + k], s);
    s += __shfl_xor_sync(0xffffffff, s, 1);
    s += __shfl_xor_sync(0xffffffff, s, 2);
    if (part == 0) out[row] = s;
}

// Tile rows t0 .. t0+PT-1 of G into T (zero-padded beyond P and N), their
// positions into x (float64, 0 beyond P), and, after a barrier, their
// squared norms into s (tile_sqnorms): pair_tile's row tile i and each of
// its column tiles j.
__device__ __forceinline__ void load_pair_tile(const float* G, const float* X, long long P, long long N, long long t0,
                                               float* T, double (*x)[2], float* s, int tid) {
    for (int e = tid; e < PT * PK; e += 256) {
        const int r = e / PK, k = e % PK;
        T[r * PLD + k] = (t0 + r < P && k < N) ? G[(t0 + r) * N + k] : 0.f;
    }
    if (tid < PT) {
        x[tid][0] = (t0 + tid < P) ? (double)X[2 * (t0 + tid)] : 0.0;
        x[tid][1] = (t0 + tid < P) ? (double)X[2 * (t0 + tid) + 1] : 0.0;
    }
    __syncthreads();
    tile_sqnorms(T, s, tid);
}

extern "C" __global__ void __launch_bounds__(256, 2)
    pair_tile(const float* G, const float* X, long long P, long long N, double sx2, double inv2sg2, long long doSep,
              long long doInv, const double* S, float* out, double* part, long long doGrad, long long tilesPerSlab) {
    DYNAMIC_SHARED(float, sm);
    __shared__ float si[PT], sj[PT];
    __shared__ double xi[PT][2], xj[PT][2];
    __shared__ double red[32];
    float* Gi = sm;
    float* Gj = sm + PT * PLD;
    float* Ct = sm + 2 * PT * PLD;  // [PT j][CLD]
    const int tid = threadIdx.x;
    const int ty = tid / 16, tx = tid % 16;
    const long long i0 = blockIdx.x * (long long)PT;
    const long long ntiles = (P + PT - 1) / PT;
    const long long jt0 = blockIdx.y * tilesPerSlab;
    const long long jt1 = min(ntiles, jt0 + tilesPerSlab);
    const float csep = (float)S[S_CSEP], cinv = (float)S[S_CINV];

    // Row tile i (zero-padded beyond P and N), positions, squared norms.
    load_pair_tile(G, X, P, N, i0, Gi, xi, si, tid);

    float acc[4][8] = {};
    float rowsum[4] = {};
    double sepAcc = 0, invAcc = 0;

    for (long long jt = jt0; jt < jt1; jt++) {
        const long long j0 = jt * PT;
        __syncthreads();  // the previous tile's readers of Gj, Ct, sj, xj are done
        load_pair_tile(G, X, P, N, j0, Gj, xj, sj, tid);
        // 1. Gram.
        float d[4][4];
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int c = 0; c < 4; c++) d[r][c] = 0.f;
#pragma unroll 1
        for (int k = 0; k < PK; k += 4) {
            float4 a[4], b[4];
#pragma unroll
            for (int r = 0; r < 4; r++) a[r] = *reinterpret_cast<const float4*>(&Gi[(4 * ty + r) * PLD + k]);
#pragma unroll
            for (int c = 0; c < 4; c++) b[c] = *reinterpret_cast<const float4*>(&Gj[(tx + 16 * c) * PLD + k]);
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    d[r][c] = fmaf(a[r].x, b[c].x, d[r][c]);
                    d[r][c] = fmaf(a[r].y, b[c].y, d[r][c]);
                    d[r][c] = fmaf(a[r].z, b[c].z, d[r][c]);
                    d[r][c] = fmaf(a[r].w, b[c].w, d[r][c]);
                }
        }
        __syncthreads();  // sj ready
        // 2. Coefficients.
        float tsep = 0, tinv = 0;
#pragma unroll
        for (int r = 0; r < 4; r++) {
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const int ii = 4 * ty + r, jj = tx + 16 * c;
                const long long i = i0 + ii, j = j0 + jj;
                float cij = 0.f;
                PAIR_COEF(xi[ii], xj[jj], si[ii], sj[jj], d[r][c]);
                Ct[jj * CLD + ii] = cij;
            }
        }
        sepAcc += tsep;
        invAcc += tinv;
        if (!doGrad) continue;
        __syncthreads();  // Ct ready
        // 3. acc += C G_j.
#pragma unroll 4
        for (int jj = 0; jj < PT; jj++) {
            const float4 c4 = *reinterpret_cast<const float4*>(&Ct[jj * CLD + 4 * ty]);
            const float4 g0 = *reinterpret_cast<const float4*>(&Gj[jj * PLD + 4 * tx]);
            const float4 g1 = *reinterpret_cast<const float4*>(&Gj[jj * PLD + 64 + 4 * tx]);
            const float c[4] = {c4.x, c4.y, c4.z, c4.w};
            const float g[8] = {g0.x, g0.y, g0.z, g0.w, g1.x, g1.y, g1.z, g1.w};
#pragma unroll
            for (int a = 0; a < 4; a++) {
                rowsum[a] += c[a];
#pragma unroll
                for (int q = 0; q < 8; q++) acc[a][q] = fmaf(c[a], g[q], acc[a][q]);
            }
        }
    }
    if (doGrad) {
        float* o = out + blockIdx.y * P * N;
#pragma unroll
        for (int a = 0; a < 4; a++) {
            const int ii = 4 * ty + a;
            const long long i = i0 + ii;
            if (i >= P) continue;
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const int k = (q < 4 ? 4 * tx + q : 64 + 4 * tx + q - 4);
                if (k < N) o[i * N + k] = rowsum[a] * Gi[ii * PLD + k] - acc[a][q];
            }
        }
    }
    const double s1 = block_sum_d(sepAcc, red);
    const double s2 = block_sum_d(invAcc, red);
    if (tid == 0) {
        const long long b = blockIdx.y * (long long)gridDim.x + blockIdx.x, nb = (long long)gridDim.x * gridDim.y;
        part[b] = s1;
        part[nb + b] = s2;
    }
}

// dG[e] = sum_s ws[s*n + e], slabs in increasing order (pair_tile's partial
// gradients).
extern "C" __global__ void pair_slab_sum(const float* ws, long long slabs, long long n, float* dG) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        float s = 0.f;
        for (long long z = 0; z < slabs; z++) s += ws[z * n + e];
        dG[e] = s;
    }
}

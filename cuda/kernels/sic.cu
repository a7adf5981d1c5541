// sic.cu: the recurrence, the four SIC losses with their gradients, the
// small MLP pieces and the optimiser, for one microbatch of P = B*T states.
//
// Layout (all row-major float32 unless said otherwise):
//   V  [P,2]  velocities, X [P,2] positions, state index i = b*T + t
//   Wf [P,N*N] the MLP output, W_i[r][c] = Wf[i][r*N + c]; on the
//             distinct-velocity path [U,N*N], state i using row idx[i]
//             (see dw_distinct)
//   G  [P,N]  g_{b,t} (t = 0..T-1 is the state after step t+1)
//   GP [P,N]  g_{b,t-1}, with g_0 = NormReLU(G0) for t = 0
//   nrm [P]   ||ReLU(y_i)||; the state was zeroed where nrm <= 1e-8
//   dG [P,N]  dL/dg_i from the losses (before backpropagation in time)
//   S  double scalars (slot layout below; cuda/slots.go has the same
//      numbers, and cuda/slots_test.go checks that they agree)
//
// Every scalar kernel parameter is 8 bytes (long long or double) because the
// Go launcher passes each argument as one 64-bit slot. Reductions never use
// atomics: each block writes a partial, and reduce_partials adds them in a
// fixed order, so results are bit-reproducible run to run.

// Dynamic shared memory, behind a macro so that cuda/emu (a CPU emulator
// that runs these kernels for tests on machines without a GPU) can supply it.
#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

// The Norm-ReLU threshold, reference.ZeroNorm rounded to float32
// (TestZeroEpsMatchesReference checks it).
#define ZERO_EPS 1e-8f

// Slots of the per-microbatch scalar block (cuda/slots.go: the same numbers).
#define S_NFAR 0
#define S_NNEAR 1
#define S_SEPSUM 2
#define S_INVSUM 3
#define S_CAPN2 4
#define S_CIK 5
#define S_CISUM 6
#define S_CISQDEV 7
#define S_ZEROS 8
#define S_CSEP 10
#define S_CINV 11
#define S_CIMEAN 12
#define S_CICOEF 13
#define S_LSEP 16
#define S_LINV 17
#define S_LCAP 18
#define S_LCI 19
#define S_LTOT 20
#define S_ZFRAC 21
// Global slots (offset passed separately).
#define G_SUMSQ 0
#define G_NORM 1
#define G_SCALE 2
#define G_OK 3

// ---------------------------------------------------------------------------
// Block reductions (deterministic: fixed tree over the block).

__device__ double block_sum_d(double v, double* sh) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffff, v, o);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    double s = 0;
    if (threadIdx.x == 0)
        for (int k = 0; k < nw; k++) s += sh[k];
    __syncthreads();
    if (threadIdx.x == 0) sh[0] = s;
    __syncthreads();
    s = sh[0];
    __syncthreads();
    return s;
}

__device__ float block_sum_f(float v, float* sh) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffff, v, o);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float s = 0;
    if (threadIdx.x == 0)
        for (int k = 0; k < nw; k++) s += sh[k];
    __syncthreads();
    if (threadIdx.x == 0) sh[0] = s;
    __syncthreads();
    s = sh[0];
    __syncthreads();
    return s;
}

__device__ float warp_sum_f(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

// dst[c] = sum_k part[c*n + k], one block per component c.
extern "C" __global__ void reduce_partials(const double* part, long long n, double* dst) {
    __shared__ double sh[32];
    const double* p = part + blockIdx.x * n;
    double s = 0;
    for (long long k = threadIdx.x; k < n; k += blockDim.x) s += p[k];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) dst[blockIdx.x] = s;
}

// ---------------------------------------------------------------------------
// MLP pieces.

// h1 = ReLU(V W0^T + b0): the first layer has K = 2, so it is elementwise.
extern "C" __global__ void mlp_in(const float* V, const float* W0, const float* b0, float* h1, long long P,
                                  long long H) {
    const long long total = P * H;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const long long i = e / H, j = e % H;
        float v = fmaf(V[2 * i + 1], W0[2 * j + 1], V[2 * i] * W0[2 * j]) + b0[j];
        h1[e] = fmaxf(v, 0.f);
    }
}

// ReLU backward: d = h > 0 ? d : 0 (h is the ReLU's output).
extern "C" __global__ void relu_mask(float* d, const float* h, long long n) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
        if (!(h[e] > 0.f)) d[e] = 0.f;
}

// Column sums of X [rows, cols] in float64: out[c] (+)= sum_r X[r][c]. A block
// covers 32 columns with 8 row phases; the phases are added in a fixed order.
// Used for bias gradients (db = sum over rows of dy) and the capacity mean.
extern "C" __global__ void colsum(const float* X, long long rows, long long cols, float* outf, double* outd,
                                  long long accumulate) {
    __shared__ double sh[8][33];
    const int cx = threadIdx.x % 32, ry = threadIdx.x / 32;
    const long long c = blockIdx.x * 32LL + cx;
    double s = 0;
    if (c < cols)
        for (long long r = ry; r < rows; r += 8) s += X[r * cols + c];
    sh[ry][cx] = s;
    __syncthreads();
    if (ry == 0 && c < cols) {
        double t = 0;
        for (int k = 0; k < 8; k++) t += sh[k][cx];
        if (outd) outd[c] = t;
        if (outf) outf[c] = accumulate ? (float)((double)outf[c] + t) : (float)t;
    }
}

// ---------------------------------------------------------------------------
// NormReLU of the raw initial state: g0 = ReLU(G0)/||ReLU(G0)||, or 0.
// n0[0] receives ||ReLU(G0)||. One block.
extern "C" __global__ void g0_forward(const float* G0, float* g0, float* n0, long long N) {
    __shared__ float sh[32];
    float s = 0;
    for (long long k = threadIdx.x; k < N; k += blockDim.x) {
        float r = fmaxf(G0[k], 0.f);
        s += r * r;
    }
    const float n = sqrtf(block_sum_f(s, sh));
    for (long long k = threadIdx.x; k < N; k += blockDim.x) g0[k] = n > ZERO_EPS ? fmaxf(G0[k], 0.f) / n : 0.f;
    if (threadIdx.x == 0) n0[0] = n;
}

// ---------------------------------------------------------------------------
// Recurrence, forward. One block per trajectory b (trajectories are
// independent), looping over t: y = W_{b,t} g_{b,t-1}; g_{b,t} = NormReLU(y).
// Each warp takes rows r = warp, warp+nwarps, ...; its lanes read the row
// in 128-byte runs and reduce with shuffles. The block streams its T
// matrices (N*N*4 bytes each) once: the kernel is bound by reading Wf.
// State i = b*T + t uses W row i of Wf, or row idx[i] where idx is given
// (the distinct-velocity path, see dw_distinct: Wf is then [U][N*N] and
// the B trajectories read the same U matrices).
// Dynamic shared memory: 2*N floats. part[b] = number of zeroed states.
#define RNN_RB 8
extern "C" __global__ void rnn_forward(const float* Wf, const int* idx, const float* g0, float* G, float* GP,
                                       float* nrm, double* part, long long B, long long T, long long N) {
    DYNAMIC_SHARED(float, sm);
    __shared__ float red[32];
    float* g = sm;      // g_{b,t-1}
    float* y = sm + N;  // pre-activation
    const int b = blockIdx.x, lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    for (long long k = threadIdx.x; k < N; k += blockDim.x) g[k] = g0[k];
    __syncthreads();
    const int nq = (int)((N + 31) / 32);  // N <= 256
    int zeros = 0;
    for (long long t = 0; t < T; t++) {
        const long long i = b * T + t;
        const float* W = Wf + (idx ? (long long)idx[i] : i) * N * N;
        // Rows r = w + nw*a, in batches of RNN_RB whose loads are all issued
        // before the first reduction (the loop is latency-bound otherwise:
        // one row's 128-byte runs, then a shuffle reduction, then the next).
        // Same products and order as one row at a time.
        for (long long r0 = w; r0 < N; r0 += RNN_RB * nw) {
            float v[RNN_RB][8];
#pragma unroll
            for (int a = 0; a < RNN_RB; a++) {
                const long long r = r0 + a * nw;
#pragma unroll
                for (int q = 0; q < 8; q++) {
                    const long long c = lane + 32 * q;
                    v[a][q] = (r < N && q < nq && c < N) ? W[r * N + c] : 0.f;
                }
            }
#pragma unroll
            for (int a = 0; a < RNN_RB; a++) {
                const long long r = r0 + a * nw;
                float s = 0;
#pragma unroll
                for (int q = 0; q < 8; q++) {
                    const long long c = lane + 32 * q;
                    if (q < nq && c < N) s = fmaf(v[a][q], g[c], s);
                }
                s = warp_sum_f(s);
                if (lane == 0 && r < N) y[r] = s;
            }
        }
        __syncthreads();
        float q = 0;
        for (long long k = threadIdx.x; k < N; k += blockDim.x) {
            float r = fmaxf(y[k], 0.f);
            q += r * r;
        }
        const float n = sqrtf(block_sum_f(q, red));
        const bool zero = !(n > ZERO_EPS);
        zeros += zero;
        for (long long k = threadIdx.x; k < N; k += blockDim.x) {
            GP[i * N + k] = g[k];
            const float v = zero ? 0.f : fmaxf(y[k], 0.f) / n;
            G[i * N + k] = v;
        }
        __syncthreads();  // everyone has read g before it is replaced
        for (long long k = threadIdx.x; k < N; k += blockDim.x) g[k] = G[i * N + k];
        if (threadIdx.x == 0) nrm[i] = n;
        __syncthreads();
    }
    if (threadIdx.x == 0) part[b] = zeros;
}

// ---------------------------------------------------------------------------
// Recurrence, backward (BPTT). One block per trajectory, t = T-1 .. 0.
//
//   dg_t  = dG[t] + carry                      (loss gradient + from step t+1)
//   NormReLU: g = r/n, r = ReLU(y), n = ||r||:
//     dr = (dg - g (g.dg)) / n,  dy = dr * [y > 0] = dr * [g > 0]
//     (zero where the state was zeroed: NormReLU is then constant 0)
//   y = W g_prev:  dW = dy g_prev^T (rank one),  carry = W^T dy
//
// W_t is read for W^T dy and overwritten in place by dW_t = dy g_prev^T, so
// the forward's Wf buffer becomes dWf with no second P x N*N buffer. With
// idx (the distinct-velocity path) W_t is row idx[i] of Wf, shared by the
// steps that take that velocity: it is only read, and dw_distinct forms
// the gradient per distinct velocity from DY and GP afterwards. Each
// warp takes rows, its lanes columns c = lane + 32q (q < 8: N <= 256); the
// per-warp column partials are added in warp order.
// DY[i] receives dy (for the bias gradient of the last layer); dg0b[b]
// receives dL/dg_{b,0} of the shared initial state (plus dg0ci[b], the
// conformal-isometry term's direct gradient with respect to g_0).
// Dynamic shared memory: (4 + nwarps) * N floats.
#define RNN_RBB 4
extern "C" __global__ void rnn_backward(float* Wf, const int* idx, const float* G, const float* GP,
                                        const float* nrm, const float* dG, float* DY, const float* dg0ci,
                                        float* dg0b, long long B, long long T, long long N) {
    DYNAMIC_SHARED(float, sm);
    __shared__ float red[32];
    const int b = blockIdx.x, lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    float* carry = sm;
    float* dy = sm + N;
    float* gp = sm + 2 * N;
    float* colp = sm + 4 * N;  // [nw][N]
    for (long long k = threadIdx.x; k < N; k += blockDim.x) carry[k] = 0.f;
    __syncthreads();
    const int nq = (int)((N + 31) / 32);
    for (long long t = T - 1; t >= 0; t--) {
        const long long i = b * T + t;
        const float n = nrm[i];
        const bool zero = !(n > ZERO_EPS);
        float dot = 0;
        for (long long k = threadIdx.x; k < N; k += blockDim.x) dot += G[i * N + k] * (dG[i * N + k] + carry[k]);
        dot = block_sum_f(dot, red);
        for (long long k = threadIdx.x; k < N; k += blockDim.x) {
            const float gk = G[i * N + k];
            float d = 0.f;
            if (!zero && gk > 0.f) d = (dG[i * N + k] + carry[k] - gk * dot) / n;
            dy[k] = d;
            DY[i * N + k] = d;
            gp[k] = GP[i * N + k];
        }
        __syncthreads();
        float* W = Wf + (idx ? (long long)idx[i] : i) * N * N;
        const bool inPlace = idx == nullptr;
        float acc[8];
#pragma unroll
        for (int q = 0; q < 8; q++) acc[q] = 0.f;
        // Rows r = w + nw*a in batches of RNN_RBB: all loads of a batch
        // first, then the products and the in-place stores (one row at a
        // time, a row's stores would keep the next row's loads waiting).
        // Same order of accumulation as one row at a time.
        for (long long r0 = w; r0 < N; r0 += RNN_RBB * nw) {
            float v[RNN_RBB][8];
#pragma unroll
            for (int a = 0; a < RNN_RBB; a++) {
                const long long r = r0 + a * nw;
#pragma unroll
                for (int q = 0; q < 8; q++) {
                    const long long c = lane + 32 * q;
                    v[a][q] = (r < N && q < nq && c < N) ? W[r * N + c] : 0.f;
                }
            }
#pragma unroll
            for (int a = 0; a < RNN_RBB; a++) {
                const long long r = r0 + a * nw;
                if (r >= N) continue;
                float* row = W + r * N;
                const float dyr = dy[r];
#pragma unroll
                for (int q = 0; q < 8; q++) {
                    const long long c = lane + 32 * q;
                    if (q < nq && c < N) {
                        acc[q] = fmaf(v[a][q], dyr, acc[q]);
                        if (inPlace) row[c] = dyr * gp[c];
                    }
                }
            }
        }
#pragma unroll
        for (int q = 0; q < 8; q++) {
            const long long c = lane + 32 * q;
            if (q < nq && c < N) colp[w * N + c] = acc[q];
        }
        __syncthreads();
        for (long long c = threadIdx.x; c < N; c += blockDim.x) {
            float s = 0.f;
            for (int k = 0; k < nw; k++) s += colp[k * N + c];
            carry[c] = s;
        }
        __syncthreads();
    }
    for (long long k = threadIdx.x; k < N; k += blockDim.x) dg0b[b * N + k] = carry[k] + dg0ci[b * N + k];
}

// dG0 += NormReLU'(G0)^T (sum_b dg0b[b]); one block. Same NormReLU backward
// as in rnn_backward, with g0 = NormReLU(G0), n0 = ||ReLU(G0)||.
extern "C" __global__ void g0_backward(const float* dg0b, const float* g0, const float* n0, float* dG0, long long B,
                                       long long N) {
    DYNAMIC_SHARED(float, sm);  // N floats
    __shared__ float red[32];
    float dot = 0;
    for (long long k = threadIdx.x; k < N; k += blockDim.x) {
        float s = 0;
        for (long long b = 0; b < B; b++) s += dg0b[b * N + k];
        sm[k] = s;
        dot += s * g0[k];
    }
    dot = block_sum_f(dot, red);
    const float n = n0[0];
    for (long long k = threadIdx.x; k < N; k += blockDim.x) {
        float d = 0.f;
        if (n > ZERO_EPS && g0[k] > 0.f) d = (sm[k] - g0[k] * dot) / n;
        dG0[k] += d;
    }
}

// ---------------------------------------------------------------------------
// Distinct velocities: the last layer's weight gradient per velocity.
//
// With the paper's permutation augmentation every trajectory of a microbatch
// takes the same T velocities in another order, so the MLP has only U <= T
// distinct inputs among its P = B*T rows. The engine then runs the MLP and
// the last layer on U rows, W_u = W2 h2_u + b2 (Wf is [U][N*N]), and step i
// uses W_{idx[i]} (rnn_forward, rnn_backward). Backward, W_u receives the
// gradient of every step that uses it:
//
//   dL/dW_u = sum_{i: idx[i] = u} dy_i gp_i^T = DY_u^T GP_u      (N x B_u x N)
//
// (dy_i = dL/dy_i from rnn_backward, gp_i = g_{b,t-1} the state the step
// started from; DY_u, GP_u stack the B_u rows with idx[i] = u, B_u = B when
// the T velocities differ). With dW = [dL/dW_u]_u ([U][N*N]) the last
// layer's gradients are then, as on the P-row path with P replaced by U,
//
//   dL/db2 = sum_u dL/dW_u   (column sums of dW: U x N*N adds, instead of
//                             the N x P x N product DY^T GP)
//   dL/dW2 = dW^T H2         (N*N x U x H instead of N*N x P x H)
//   dL/dh2 = dW W2           (U x N*N x H instead of P x N*N x H)
//
// and the rest of the MLP backward runs on U rows. The three products that
// dominate the P-row path (2 P N^2 H FLOP each) shrink by P/U = B (130 at
// paper size); this kernel costs 2 P N^2 FLOP, what the in-place rank-one
// writes of rnn_backward did, and reads DY and GP rather than writing a
// P x N^2 buffer.
//
// This kernel: grid (U, ceil(N/8)), 256 threads. Warp w owns row
// k = 8*blockIdx.y + w of dW_u, its lanes the columns c = lane + 32q
// (q < 8: N <= 256). The rows of u, rows[start[u] .. start[u+1]) in
// increasing order, are staged in chunks of DWD_RC: their GP rows and the
// block's 8 columns of DY, in shared memory. Each output is a float32 sum in
// that order, so the result does not depend on scheduling. A velocity no
// step uses would get zeros (the engine numbers only velocities in use).
// Dynamic shared memory: DWD_RC * (N + 8) floats.
#define DWD_RC 32
extern "C" __global__ void __launch_bounds__(256) dw_distinct(const float* DY, const float* GP, const int* start,
                                                             const int* rows, float* dW, long long N) {
    DYNAMIC_SHARED(float, sm);
    float* gp = sm;               // [DWD_RC][N]
    float* dy = sm + DWD_RC * N;  // [DWD_RC][8]
    const long long u = blockIdx.x;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const long long k0 = blockIdx.y * 8LL, k = k0 + w;
    const int nq = (int)((N + 31) / 32);
    const int r0 = start[u], r1 = start[u + 1];
    float acc[8];
#pragma unroll
    for (int q = 0; q < 8; q++) acc[q] = 0.f;
    for (int c0 = r0; c0 < r1; c0 += DWD_RC) {
        const int n = min(DWD_RC, r1 - c0);
        __syncthreads();  // the previous chunk's readers are done
        for (long long e = threadIdx.x; e < n * N; e += blockDim.x) {
            const long long a = e / N, c = e % N;
            gp[a * N + c] = GP[(long long)rows[c0 + a] * N + c];
        }
        for (int e = threadIdx.x; e < n * 8; e += blockDim.x) {
            const int a = e / 8, j = e % 8;
            dy[e] = k0 + j < N ? DY[(long long)rows[c0 + a] * N + k0 + j] : 0.f;
        }
        __syncthreads();
        for (int a = 0; a < n; a++) {
            const float d = dy[a * 8 + w];
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const long long c = lane + 32 * q;
                if (q < nq && c < N) acc[q] = fmaf(d, gp[a * N + c], acc[q]);
            }
        }
    }
    if (k < N) {
#pragma unroll
        for (int q = 0; q < 8; q++) {
            const long long c = lane + 32 * q;
            if (q < nq && c < N) dW[(u * N + k) * N + c] = acc[q];
        }
    }
}

// ---------------------------------------------------------------------------
// Pairwise losses, forward and gradient fused, tiled; never a P x P buffer.
//
// Over ordered pairs i != j, with D_ij = ||g_i - g_j||^2 = s_i + s_j - 2 g_i.g_j
// (s_i = ||g_i||^2, clamped at 0) and the mask from positions (float64, as
// the CPU graph computes it): far if ||x_i-x_j||^2 > sigma_x^2, near if <.
//   L_sep = (1/M_far)  sum_far  exp(-D_ij / (2 sigma_g^2))
//   L_inv = (1/M_near) sum_near D_ij          (M = 1 for reduction "sum")
// Each unordered pair appears twice with the same value, and
// dD_ij/dg_i = 2 (g_i - g_j), so
//   dL/dg_i = sum_j c_ij (g_i - g_j),
//   c_ij = lambda_sep (2/M_far) exp(-D_ij/(2 sigma_g^2)) (-1/sigma_g^2)  (far)
//        = lambda_inv (4/M_near)                                        (near)
// csep = lambda_sep (-2/(sigma_g^2 M_far)) and cinv = lambda_inv 4/M_near come
// from S (pair_coef), computed from the pair counts beforehand.
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

    for (int e = tid; e < TI * N; e += blockDim.x) {
        const int r = e / (int)N, k = e % (int)N;
        Gi[r * ld + k] = (i0 + r < P) ? G[(i0 + r) * N + k] : 0.f;
    }
    if (tid < TI) {
        xi[tid][0] = (i0 + tid < P) ? X[2 * (i0 + tid)] : 0.f;
        xi[tid][1] = (i0 + tid < P) ? X[2 * (i0 + tid) + 1] : 0.f;
    }
    __syncthreads();
    if (tid < TI) {
        float s = 0;
        for (int k = 0; k < N; k++) s = fmaf(Gi[tid * ld + k], Gi[tid * ld + k], s);
        si[tid] = s;
    }

    // Gram mapping: rows 2*(tid/16)+{0,1}, columns tid%16 + 16*{0,1}.
    const int gr = 2 * (tid / 16), gc = tid % 16;
    // Gradient mapping: rows 4*w + {0..3}, columns lane + 32q.
    const int nq = (int)((N + 31) / 32);
    float acc[4][8];
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int q = 0; q < 8; q++) acc[a][q] = 0.f;
    float rowsum[4] = {0.f, 0.f, 0.f, 0.f};
    double sepAcc = 0, invAcc = 0;

    for (long long j0 = 0; j0 < P; j0 += TJ) {
        __syncthreads();  // previous tile's readers are done
        for (int e = tid; e < TJ * N; e += blockDim.x) {
            const int r = e / (int)N, k = e % (int)N;
            Gj[r * ld + k] = (j0 + r < P) ? G[(j0 + r) * N + k] : 0.f;
        }
        if (tid < TJ) {
            xj[tid][0] = (j0 + tid < P) ? X[2 * (j0 + tid)] : 0.f;
            xj[tid][1] = (j0 + tid < P) ? X[2 * (j0 + tid) + 1] : 0.f;
        }
        __syncthreads();
        if (tid < TJ) {
            float s = 0;
            for (int k = 0; k < N; k++) s = fmaf(Gj[tid * ld + k], Gj[tid * ld + k], s);
            sj[tid] = s;
        }
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
                if (i < P && j < P && i != j) {
                    const double dx = (double)xi[ii][0] - (double)xj[jj][0];
                    const double dy = (double)xi[ii][1] - (double)xj[jj][1];
                    const double r2 = dx * dx + dy * dy;
                    // float64 here: for near pairs D is a small difference of
                    // numbers near 2, as in the CPU graph.
                    const double D = fmax((double)si[ii] + (double)sj[jj] - 2.0 * (double)dots[a][c], 0.0);
                    if (r2 > sx2) {
                        if (doSep) {
                            const float e = expf((float)(-D * inv2sg2));
                            tsep += e;
                            cij = csep * e;
                        }
                    } else if (r2 < sx2) {
                        if (doInv) {
                            tinv += (float)D;
                            cij = cinv;
                        }
                    }
                }
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

// Gradient coefficients of the pairwise terms from the counts (see pair_loss).
extern "C" __global__ void pair_coef(double* S, double lsep, double linv, double sg2, long long mean) {
    const double mf = mean ? fmax(S[S_NFAR], 1.0) : 1.0;
    const double mn = mean ? fmax(S[S_NNEAR], 1.0) : 1.0;
    S[S_CSEP] = lsep * (-2.0 / (sg2 * mf));
    S[S_CINV] = linv * 4.0 / mn;
}

// ---------------------------------------------------------------------------
// Capacity: L_cap = -||m||^2, m = (1/P) sum_i g_i; dL/dg_i = -2 m / P.
// colsum (float64) gives P*m in cs; this one-block kernel writes the squared
// norm to S and capg[k] = lambda_cap * (-2 m_k / P).
extern "C" __global__ void cap_finalize(const double* cs, long long N, long long P, double lcap, double* S,
                                        float* capg) {
    __shared__ double red[32];
    double s = 0;
    for (long long k = threadIdx.x; k < N; k += blockDim.x) {
        const double m = cs[k] / (double)P;
        s += m * m;
        capg[k] = (float)(lcap * (-2.0 * m / (double)P));
    }
    s = block_sum_d(s, red);
    if (threadIdx.x == 0) S[S_CAPN2] = s;
}

// dG[i][k] += v[k] for every row i.
extern "C" __global__ void add_rowvec(float* dG, const float* v, long long P, long long N) {
    const long long total = P * N;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x)
        dG[e] += v[e % N];
}

// ---------------------------------------------------------------------------
// Conformal isometry. r_i = ||g_i - g_prev(i)|| / ||v_i|| over the steps with
// 0 < ||v_i|| < sigma_x (speed in float64 as the CPU graph computes it);
// L_ci = (1/K) sum (r - mean)^2 (population variance), in two passes as the
// CPU graph: ci_forward counts and sums r, ci_coef divides, ci_var sums the
// squared deviations from that mean (one pass, E[r^2] - E[r]^2, cancels
// badly when r is in the hundreds and varies little). One warp per state;
// each pass recomputes r the same way, so both see the same values.
__device__ __forceinline__ float warp_dist(const float* a, const float* b, long long N, int lane) {
    float s = 0;
    for (long long k = lane; k < N; k += 32) {
        const float d = a[k] - b[k];
        s = fmaf(d, d, s);
    }
    return sqrtf(warp_sum_f(s));
}

__device__ __forceinline__ double speed_of(const float* V, long long i) {
    const double vx = V[2 * i], vy = V[2 * i + 1];
    return sqrt(vx * vx + vy * vy);
}

// r of state i (the whole warp computes it); *counts says whether the step
// counts (its speed is above 0 and below sigma_x). A NaN r counts, so that
// it reaches the loss and the step is reported non-finite.
__device__ __forceinline__ double ci_ratio(const float* G, const float* GP, const float* V, long long i, long long N,
                                           double sx, int lane, bool* counts) {
    const double sp = speed_of(V, i);
    const float d = warp_dist(G + i * N, GP + i * N, N, lane);
    *counts = sp > 0 && sp < sx;
    return (double)d / sp;
}

// First pass. part: [2][nblocks] = count, sum r.
extern "C" __global__ void ci_forward(const float* G, const float* GP, const float* V, long long P, long long N,
                                      double sx, double* part) {
    __shared__ double red[32];
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    const long long i = blockIdx.x * (long long)nw + w;
    double cnt = 0, s1 = 0;
    if (i < P) {
        bool counts;
        const double r = ci_ratio(G, GP, V, i, N, sx, lane, &counts);
        if (lane == 0 && counts) {
            cnt = 1;
            s1 = r;
        }
    }
    cnt = block_sum_d(cnt, red);
    s1 = block_sum_d(s1, red);
    if (threadIdx.x == 0) {
        part[blockIdx.x] = cnt;
        part[gridDim.x + blockIdx.x] = s1;
    }
}

// Second pass, after ci_coef: part[nblocks] = sum of (r - S[CIMEAN])^2.
extern "C" __global__ void ci_var(const float* G, const float* GP, const float* V, long long P, long long N,
                                  double sx, const double* S, double* part) {
    __shared__ double red[32];
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    const long long i = blockIdx.x * (long long)nw + w;
    const double mean = S[S_CIMEAN];
    double s2 = 0;
    if (i < P) {
        bool counts;
        const double r = ci_ratio(G, GP, V, i, N, sx, lane, &counts);
        if (lane == 0 && counts) s2 = (r - mean) * (r - mean);
    }
    s2 = block_sum_d(s2, red);
    if (threadIdx.x == 0) part[blockIdx.x] = s2;
}

// S[CIMEAN] = mean r; S[CICOEF] = lambda_ci * 2/K (dL/dr_k = coef (r_k - mean)).
extern "C" __global__ void ci_coef(double* S, double lci) {
    const double K = S[S_CIK];
    S[S_CIMEAN] = K > 0 ? S[S_CISUM] / K : 0;
    S[S_CICOEF] = K > 0 ? lci * 2.0 / K : 0;
}

// dr_t/dg_t = -dr_t/dg_{t-1} = (g_t - g_{t-1}) / (||g_t - g_{t-1}|| ||v_t||),
// zero where the two states coincide. Warp for state (b,t) gathers both the
// term of step t and (as g_{t-1} of step t+1) that of step t+1, so each warp
// writes only its own row. For t = 0 the second role belongs to g_0: that
// term goes to dg0ci[b].
__device__ __forceinline__ float ci_factor(const float* G, const float* GP, const float* V, long long i, long long N,
                                           double sx, double mean, double coef, int lane, float* dist) {
    const double sp = speed_of(V, i);
    const float d = warp_dist(G + i * N, GP + i * N, N, lane);
    *dist = d;
    if (!(sp > 0 && sp < sx) || !(d > 0)) return 0.f;
    const double r = (double)d / sp;
    return (float)(coef * (r - mean) / ((double)d * sp));
}

extern "C" __global__ void ci_backward(const float* G, const float* GP, const float* V, long long B, long long T,
                                       long long N, double sx, const double* S, float* dG, float* dg0ci) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    const long long i = blockIdx.x * (long long)nw + w;
    if (i >= B * T) return;
    const double mean = S[S_CIMEAN], coef = S[S_CICOEF];
    const long long b = i / T, t = i % T;
    float dist;
    const float f = ci_factor(G, GP, V, i, N, sx, mean, coef, lane, &dist);
    if (f != 0.f)
        for (long long k = lane; k < N; k += 32) dG[i * N + k] += f * (G[i * N + k] - GP[i * N + k]);
    if (t + 1 < T) {
        const float f1 = ci_factor(G, GP, V, i + 1, N, sx, mean, coef, lane, &dist);
        if (f1 != 0.f)
            for (long long k = lane; k < N; k += 32) dG[i * N + k] -= f1 * (G[(i + 1) * N + k] - GP[(i + 1) * N + k]);
    }
    if (t == 0)
        for (long long k = lane; k < N; k += 32) dg0ci[b * N + k] = -f * (G[i * N + k] - GP[i * N + k]);
}

// ---------------------------------------------------------------------------
// Loss values from the reduced sums (one thread). A term whose weight is 0
// was not computed and reports 0.
extern "C" __global__ void loss_finalize(double* S, long long P, double lsep, double linv, double lcap, double lci,
                                         long long mean) {
    double sep = 0, inv = 0, cap = 0, ci = 0;
    if (lsep != 0) sep = mean ? (S[S_NFAR] > 0 ? S[S_SEPSUM] / S[S_NFAR] : 0) : S[S_SEPSUM];
    if (linv != 0) inv = mean ? (S[S_NNEAR] > 0 ? S[S_INVSUM] / S[S_NNEAR] : 0) : S[S_INVSUM];
    if (lcap != 0) cap = -S[S_CAPN2];
    if (lci != 0 && S[S_CIK] > 0) ci = S[S_CISQDEV] / S[S_CIK];
    S[S_LSEP] = sep;
    S[S_LINV] = inv;
    S[S_LCAP] = cap;
    S[S_LCI] = ci;
    S[S_LTOT] = lsep * sep + linv * inv + lcap * cap + lci * ci;
    S[S_ZFRAC] = S[S_ZEROS] / (double)P;
}

// ---------------------------------------------------------------------------
// Optimiser. The gradient buffer holds the sum over K microbatches.

// part[blk] = sum of x^2 over a grid-stride share, in float64.
extern "C" __global__ void sumsq(const float* x, long long n, double* part) {
    __shared__ double red[32];
    double s = 0;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const double v = x[e];
        s += v * v;
    }
    s = block_sum_d(s, red);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// norm of the averaged gradient g = sum/K, the clip coefficient as torch's
// clip_grad_norm_ (clip/(norm+1e-6) when below 1), and whether the step may
// proceed: all microbatch losses and the norm finite. Gs = global slots,
// Sm = the first microbatch's slots, stride apart.
extern "C" __global__ void opt_finalize(double* Gs, const double* Sm, long long stride, long long K, double clip) {
    const double norm = sqrt(Gs[G_SUMSQ]) / (double)K;
    double coef = 1.0;
    if (clip > 0) {
        const double c = clip / (norm + 1e-6);
        if (c < 1) coef = c;
    }
    bool ok = isfinite(norm);
    for (long long m = 0; m < K; m++)
        for (int s = S_LSEP; s <= S_LTOT; s++) ok = ok && isfinite(Sm[m * stride + s]);
    Gs[G_NORM] = norm;
    Gs[G_SCALE] = coef / (double)K;
    Gs[G_OK] = ok ? 1.0 : 0.0;
}

// AdamW as torch.optim.AdamW and train.AdamWTensor (float64 per element):
//   g = grad * scale; p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
//   p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
// Does nothing unless Gs[G_OK] (then parameters and moments stay unchanged).
extern "C" __global__ void adamw(float* p, const float* grad, float* m, float* v, long long n, const double* Gs,
                                 double lr, double wd, double b1, double b2, double eps, double bc1, double bc2) {
    if (Gs[G_OK] == 0.0) return;
    const double scale = Gs[G_SCALE];
    const double decay = 1.0 - lr * wd;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const double g = (double)grad[e] * scale;
        double pi = (double)p[e] * decay;
        const double mi = b1 * (double)m[e] + (1 - b1) * g;
        const double vi = b2 * (double)v[e] + (1 - b2) * g * g;
        pi -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
        p[e] = (float)pi;
        m[e] = (float)mi;
        v[e] = (float)vi;
    }
}

// ---------------------------------------------------------------------------
// Pairwise losses, register-tiled (the default; pair_loss above is the
// first, row-block version, kept for comparison: gpu.pair rowblock).
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
    for (int e = tid; e < PT * PK; e += 256) {
        const int r = e / PK, k = e % PK;
        Gi[r * PLD + k] = (i0 + r < P && k < N) ? G[(i0 + r) * N + k] : 0.f;
    }
    if (tid < PT) {
        xi[tid][0] = (i0 + tid < P) ? (double)X[2 * (i0 + tid)] : 0.0;
        xi[tid][1] = (i0 + tid < P) ? (double)X[2 * (i0 + tid) + 1] : 0.0;
    }
    __syncthreads();
    tile_sqnorms(Gi, si, tid);

    float acc[4][8];
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int q = 0; q < 8; q++) acc[a][q] = 0.f;
    float rowsum[4] = {0.f, 0.f, 0.f, 0.f};
    double sepAcc = 0, invAcc = 0;

    for (long long jt = jt0; jt < jt1; jt++) {
        const long long j0 = jt * PT;
        __syncthreads();  // the previous tile's readers of Gj, Ct, sj, xj are done
        for (int e = tid; e < PT * PK; e += 256) {
            const int r = e / PK, k = e % PK;
            Gj[r * PLD + k] = (j0 + r < P && k < N) ? G[(j0 + r) * N + k] : 0.f;
        }
        if (tid < PT) {
            xj[tid][0] = (j0 + tid < P) ? (double)X[2 * (j0 + tid)] : 0.0;
            xj[tid][1] = (j0 + tid < P) ? (double)X[2 * (j0 + tid) + 1] : 0.0;
        }
        __syncthreads();
        tile_sqnorms(Gj, sj, tid);
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
                if (i < P && j < P && i != j) {
                    const double dx = xi[ii][0] - xj[jj][0];
                    const double dy = xi[ii][1] - xj[jj][1];
                    const double r2 = dx * dx + dy * dy;
                    const double D = fmax((double)si[ii] + (double)sj[jj] - 2.0 * (double)d[r][c], 0.0);
                    if (r2 > sx2) {
                        if (doSep) {
                            const float e = expf((float)(-D * inv2sg2));
                            tsep += e;
                            cij = csep * e;
                        }
                    } else if (r2 < sx2) {
                        if (doInv) {
                            tinv += (float)D;
                            cij = cinv;
                        }
                    }
                }
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

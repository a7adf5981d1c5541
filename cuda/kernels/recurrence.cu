// recurrence.cu: the recurrence g_t = NormReLU(W_t g_{t-1}), forward and
// backward through time, and its shared initial state g_0.

#include "common.cuh"

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

// Rows r = r0 + a*nw (a < RB) of the N x N matrix W into v, lane's
// columns c = lane + 32*q (q < nq, N <= 256), zero beyond N: the batched
// loads that rnn_forward and rnn_backward issue before using a batch.
template <int RB>
__device__ __forceinline__ void load_rows(const float* W, long long r0, int nw, int lane, int nq, long long N,
                                          float (&v)[RB][8]) {
#pragma unroll
    for (int a = 0; a < RB; a++) {
        const long long r = r0 + a * nw;
#pragma unroll
        for (int q = 0; q < 8; q++) {
            const long long c = lane + 32 * q;
            v[a][q] = (r < N && q < nq && c < N) ? W[r * N + c] : 0.f;
        }
    }
}

// Warp w's rows r = w + nw*a of W (nw warps) in batches of RB: load_rows
// for the whole batch, then row(r, v) for each of its rows in order, r >= N
// included (v is then zero); v is the lane's columns c = lane + 32*q
// (q < nq) of row r. rnn_forward and rnn_backward say why they batch.
template <int RB, class Row>
__device__ __forceinline__ void row_batches(const float* W, int w, int nw, int lane, int nq, long long N, Row row) {
    for (long long r0 = w; r0 < N; r0 += RB * nw) {
        float v[RB][8];
        load_rows<RB>(W, r0, nw, lane, nq, N, v);
#pragma unroll
        for (int a = 0; a < RB; a++) row(r0 + a * nw, v[a]);
    }
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
        row_batches<RNN_RB>(W, w, nw, lane, nq, N, [&](long long r, const float(&v)[8]) {
            float s = 0;
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const long long c = lane + 32 * q;
                if (q < nq && c < N) s = fmaf(v[q], g[c], s);
            }
            s = warp_sum_f(s);
            if (lane == 0 && r < N) y[r] = s;
        });
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
        row_batches<RNN_RBB>(W, w, nw, lane, nq, N, [&](long long r, const float(&v)[8]) {
            if (r >= N) return;
            float* row = W + r * N;
            const float dyr = dy[r];
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const long long c = lane + 32 * q;
                if (q < nq && c < N) {
                    acc[q] = fmaf(v[q], dyr, acc[q]);
                    if (inPlace) row[c] = dyr * gp[c];
                }
            }
        });
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

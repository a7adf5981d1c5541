// mlp.cu: the MLP's kernels other than the matrix products (gemm.cu): the
// first layer, the ReLU backward, and the last layer's weight gradient per
// distinct velocity.

#include "common.cuh"

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

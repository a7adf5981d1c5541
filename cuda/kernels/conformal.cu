// conformal.cu: the conformal-isometry term.

#include "common.cuh"

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

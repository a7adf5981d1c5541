// capacity.cu: the capacity term.

#include "common.cuh"

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

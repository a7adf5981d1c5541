// reduce.cu: reductions in a fixed order: the per-block partials of the
// other kernels, and column sums.

#include "common.cuh"

// dst[c] = sum_k part[c*n + k], one block per component c.
extern "C" __global__ void reduce_partials(const double* part, long long n, double* dst) {
    __shared__ double sh[32];
    const double* p = part + blockIdx.x * n;
    double s = 0;
    for (long long k = threadIdx.x; k < n; k += blockDim.x) s += p[k];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) dst[blockIdx.x] = s;
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

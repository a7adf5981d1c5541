// optimiser.cu: gradient norm and clipping, AdamW.

#include "common.cuh"

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

// loss.cu: the loss terms and their weighted total.

#include "common.cuh"

// Loss values from the reduced sums (one thread). weights holds the term weights,
// NUM_TERMS doubles indexed by T_* (cudaWeights in cuda/slots.go); the total is
// sum_t w[t] v[t] in term order. A term whose weight is 0 was not computed
// and reports 0.
extern "C" __global__ void loss_finalize(double* S, long long P, const double* weights, long long mean) {
    double w[NUM_TERMS], v[NUM_TERMS];
#pragma unroll
    for (int t = 0; t < NUM_TERMS; t++) w[t] = weights[t], v[t] = 0;
    if (w[T_SEP] != 0) v[T_SEP] = mean ? (S[S_NFAR] > 0 ? S[S_SEPSUM] / S[S_NFAR] : 0) : S[S_SEPSUM];
    if (w[T_INV] != 0) v[T_INV] = mean ? (S[S_NNEAR] > 0 ? S[S_INVSUM] / S[S_NNEAR] : 0) : S[S_INVSUM];
    if (w[T_CAP] != 0) v[T_CAP] = -S[S_CAPN2];
    if (w[T_CI] != 0 && S[S_CIK] > 0) v[T_CI] = S[S_CISQDEV] / S[S_CIK];
    S[S_LSEP] = v[T_SEP];
    S[S_LINV] = v[T_INV];
    S[S_LCAP] = v[T_CAP];
    S[S_LCI] = v[T_CI];
    double tot = w[0] * v[0];
#pragma unroll
    for (int t = 1; t < NUM_TERMS; t++) tot += w[t] * v[t];
    S[S_LTOT] = tot;
    S[S_ZFRAC] = S[S_ZEROS] / (double)P;
}

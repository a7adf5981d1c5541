// loss.cu: the loss terms and their weighted total.

#include "common.cuh"

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

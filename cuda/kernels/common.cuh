// common.cuh: what the kernel files of the model, the losses and the
// optimiser (mlp.cu, recurrence.cu, pair.cu, capacity.cu, conformal.cu,
// loss.cu, optimiser.cu, reduce.cu) share: the buffer layout, the scalar
// slots and the block reductions. Each of them is compiled on its own (one
// PTX module per file, `make ptx`); the emulator (cuda/emu/emu.cc) includes
// them all in one translation unit, hence the include guard.
#ifndef GRIDGPU_COMMON_CUH
#define GRIDGPU_COMMON_CUH

// The kernels compute the recurrence, the four SIC losses with their
// gradients, the small MLP pieces and the optimiser, for one microbatch of
// P = B*T states.
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
// The indices of the loss terms the kernels compute: cuda/slots.go's
// cudaTerms, in graph.Term order (graph/terms.go), T_* = the entry's index;
// loss_finalize reads their weights w[T_*] (cuda/slots_test.go checks them
// against cudaTerms). A CPU-only term has none.
#define T_SEP 0
#define T_INV 1
#define T_CAP 2
#define T_CI 3
#define NUM_TERMS 4
// Global slots (offset passed separately).
#define G_SUMSQ 0
#define G_NORM 1
#define G_SCALE 2
#define G_OK 3

// ---------------------------------------------------------------------------
// Block reductions (deterministic: fixed tree over the block).

// The sum of v over the block, returned to every thread; sh holds at least
// one T per warp. block_sum_d and block_sum_f are its double and float
// instances.
template <typename T>
__device__ T block_sum(T v, T* sh) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffff, v, o);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    T s = 0;
    if (threadIdx.x == 0)
        for (int k = 0; k < nw; k++) s += sh[k];
    __syncthreads();
    if (threadIdx.x == 0) sh[0] = s;
    __syncthreads();
    s = sh[0];
    __syncthreads();
    return s;
}

__device__ double block_sum_d(double v, double* sh) { return block_sum(v, sh); }
__device__ float block_sum_f(float v, float* sh) { return block_sum(v, sh); }

__device__ float warp_sum_f(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

#endif  // GRIDGPU_COMMON_CUH

//go:build gridgpu_cudaemu

// CPU emulation of the CUDA kernels: see doc.go.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

struct EmuDim {
    unsigned x, y, z;
};
static EmuDim threadIdx, blockIdx, blockDim, gridDim;

struct alignas(16) float4 {
    float x, y, z, w;
};

template <class A, class B>
static inline typename std::common_type<A, B>::type min(A a, B b) {
    return a < b ? a : b;
}
template <class A, class B>
static inline typename std::common_type<A, B>::type max(A a, B b) {
    return a > b ? a : b;
}

// ---- fibers ----------------------------------------------------------------
namespace emu {
const size_t kStack = 64 * 1024;
// Fibers start on their own stack through makecontext/setcontext and then
// switch with _setjmp/_longjmp, which (unlike swapcontext) make no system
// call.
struct Fiber {
    ucontext_t ctx;
    jmp_buf jb;
    bool started = false;
    char *stack = nullptr;
    bool done = false;
    int wait = 0;  // 0 running, 1 block barrier, 2 warp barrier
    unsigned long long gen = 0;
    unsigned tid = 0;
};
static std::vector<Fiber> fibers;
static jmp_buf sched;
static int cur = -1;
static std::function<void()> body;
static int alive = 0;
static int blockCount = 0;
static unsigned long long blockGen = 0;
static int warpCount[32], warpAlive[32];
static unsigned long long warpGen[32];
static union Slot {
    double d;
    float f;
    long long l;
    int i;
    unsigned u;
} shfl[32][32];
static std::vector<char> dyn;

static void yield() {
    if (!_setjmp(fibers[cur].jb)) _longjmp(sched, 1);
}

static void entry() {
    body();
    Fiber &f = fibers[cur];
    f.done = true;
    alive--;
    warpAlive[f.tid / 32]--;
    // Exited threads count as arrived (as on the hardware).
    if (blockCount > 0 && blockCount >= alive) {
        blockCount = 0;
        blockGen++;
    }
    int w = f.tid / 32;
    if (warpCount[w] > 0 && warpCount[w] >= warpAlive[w]) {
        warpCount[w] = 0;
        warpGen[w]++;
    }
    _longjmp(sched, 1);
}

static void blockBarrier() {
    Fiber &f = fibers[cur];
    if (++blockCount >= alive) {
        blockCount = 0;
        blockGen++;
        return;
    }
    f.wait = 1;
    f.gen = blockGen;
    yield();
}

static void warpBarrier() {
    Fiber &f = fibers[cur];
    int w = f.tid / 32;
    if (++warpCount[w] >= warpAlive[w]) {
        warpCount[w] = 0;
        warpGen[w]++;
        return;
    }
    f.wait = 2;
    f.gen = warpGen[w];
    yield();
}

// Runs body once per thread of one block; returns false on deadlock.
static bool runBlock(unsigned nthreads, std::string &err) {
    if (fibers.size() < nthreads) fibers.resize(nthreads);
    alive = nthreads;
    blockCount = 0;
    for (int w = 0; w < 32; w++) {
        warpCount[w] = 0;
        warpAlive[w] = 0;
    }
    for (unsigned t = 0; t < nthreads; t++) {
        Fiber &f = fibers[t];
        if (!f.stack) f.stack = (char *)malloc(kStack);
        f.done = false;
        f.started = false;
        f.wait = 0;
        f.tid = t;
        warpAlive[t / 32]++;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, entry, 0);
    }
    // GRIDGPU_EMU_ORDER=reverse runs the threads between two barriers in the
    // opposite order, =shuffle in a random one: a result that changes with
    // the order reveals a missing barrier (a race the hardware could show).
    static int order = -1;
    if (order < 0) {
        const char *o = getenv("GRIDGPU_EMU_ORDER");
        order = !o ? 0 : !strcmp(o, "reverse") ? 1 : !strcmp(o, "shuffle") ? 2 : 0;
    }
    std::vector<unsigned> seq(nthreads);
    for (unsigned t = 0; t < nthreads; t++) seq[t] = order == 1 ? nthreads - 1 - t : t;
    static unsigned long long rng = 0x9e3779b97f4a7c15ull;
    for (;;) {
        bool progress = false, any = false;
        if (order == 2)
            for (unsigned t = nthreads - 1; t > 0; t--) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                std::swap(seq[t], seq[(rng >> 33) % (t + 1)]);
            }
        for (unsigned q = 0; q < nthreads; q++) {
            const unsigned t = seq[q];
            Fiber &f = fibers[t];
            if (f.done) continue;
            any = true;
            if (f.wait == 1 && f.gen == blockGen) continue;
            if (f.wait == 2 && f.gen == warpGen[t / 32]) continue;
            f.wait = 0;
            cur = t;
            threadIdx = {t % blockDim.x, 0, 0};
            if (!_setjmp(sched)) {
                if (f.started) _longjmp(f.jb, 1);
                f.started = true;
                setcontext(&f.ctx);
            }
            progress = true;
        }
        if (!any) return true;
        if (!progress) {
            char buf[200];
            snprintf(buf, sizeof buf, "deadlock in block (%u,%u,%u): a barrier not reached by all threads",
                     blockIdx.x, blockIdx.y, blockIdx.z);
            err = buf;
            return false;
        }
    }
}
}  // namespace emu

static inline void __syncthreads() { emu::blockBarrier(); }

template <class T>
static inline T emu_shfl(T v, int src) {
    int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    memcpy(&emu::shfl[w][lane], &v, sizeof(T));
    emu::warpBarrier();
    T r;
    memcpy(&r, &emu::shfl[w][src], sizeof(T));
    emu::warpBarrier();
    return r;
}
template <class T>
static inline T __shfl_down_sync(unsigned, T v, int o) {
    int lane = threadIdx.x % 32;
    return emu_shfl(v, lane + o < 32 ? lane + o : lane);
}
template <class T>
static inline T __shfl_xor_sync(unsigned, T v, int o) {
    return emu_shfl(v, (threadIdx.x % 32) ^ o);
}

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define DYNAMIC_SHARED(T, name) T *name = reinterpret_cast<T *>(emu::dyn.data())

// Warp-level tensor-core operations used by gemm.cu's 3xTF32 kernels, which
// the emulator cannot run as inline PTX: C++ models of cvt.rna.tf32.f32 and
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 with the PTX ISA's
// fragment layout (g = lane/4, t = lane%4):
//   A 16x8: a0 (g,t) a1 (g+8,t) a2 (g,t+4) a3 (g+8,t+4)
//   B 8x8:  b0 (t,g) b1 (t+4,g)
//   C 16x8: c0 (g,2t) c1 (g,2t+1) c2 (g+8,2t) c3 (g+8,2t+1)
// Each lane posts its fragments to a per-warp buffer; after a warp barrier
// every lane computes its four outputs from the whole warp's operands.
#define GRIDGPU_EMU 1
static inline float __uint_as_float(unsigned u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline unsigned __float_as_uint(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}
// Round to nearest (ties away from zero) keeping 10 mantissa bits.
static inline unsigned emu_tf32_round(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf, nan
    return (u + 0x1000u) & 0xffffe000u;
}
namespace emu {
// Two buffers used alternately, so one warp barrier per mma suffices: a lane
// cannot write a buffer again before every lane has passed the next barrier,
// i.e. finished reading it. mmaPhase is per thread, reset at each launch.
static unsigned mmaA[2][32][32][4], mmaB[2][32][32][2];
static unsigned char mmaPhase[1024];
}
static inline void emu_mma_tf32(float *c, const unsigned *a, const unsigned *b) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const int ph = emu::mmaPhase[threadIdx.x];
    emu::mmaPhase[threadIdx.x] ^= 1;
    for (int r = 0; r < 4; r++) emu::mmaA[ph][w][lane][r] = a[r] & 0xffffe000u;  // the unit reads 19 bits
    for (int r = 0; r < 2; r++) emu::mmaB[ph][w][lane][r] = b[r] & 0xffffe000u;
    emu::warpBarrier();
    const int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; r++) {
        const int row = g + 8 * (r / 2), col = 2 * t + (r % 2);
        float s = c[r];
        for (int k = 0; k < 8; k++) {
            const float av = __uint_as_float(emu::mmaA[ph][w][(row % 8) * 4 + k % 4][(row / 8) + 2 * (k / 4)]);
            const float bv = __uint_as_float(emu::mmaB[ph][w][col * 4 + k % 4][k / 4]);
            s = fmaf(av, bv, s);
        }
        c[r] = s;
    }
}

// Every kernels/*.cu and lab/*.cu file (one PTX module each on the GPU;
// here one translation unit). TestKernelSourcesListed checks that none is
// missing.
#include "../kernels/capacity.cu"
#include "../kernels/conformal.cu"
#include "../kernels/gemm.cu"
#include "../kernels/loss.cu"
#include "../kernels/mlp.cu"
#include "../kernels/optimiser.cu"
#include "../kernels/pair.cu"
#include "../kernels/recurrence.cu"
#include "../kernels/reduce.cu"
// The kernel lab's variants (cuda/lab), for its checks.
#include "../lab/gemm_tc.cu"

// ---- dispatch ----------------------------------------------------------------
template <class T>
static T fromSlot(unsigned long long v) {
    if constexpr (std::is_pointer<T>::value) {
        return reinterpret_cast<T>(v);
    } else if constexpr (std::is_same<T, double>::value) {
        double d;
        memcpy(&d, &v, 8);
        return d;
    } else {
        return (T)(long long)v;
    }
}

template <class... A, size_t... I>
static std::function<void()> bindArgs(void (*k)(A...), const unsigned long long *a, std::index_sequence<I...>) {
    return [=]() { k(fromSlot<A>(a[I])...); };
}

struct Entry {
    int nargs;
    std::function<std::function<void()>(const unsigned long long *)> bind;
};

template <class... A>
static Entry entryOf(void (*k)(A...)) {
    return Entry{(int)sizeof...(A), [k](const unsigned long long *a) {
                     return bindArgs(k, a, std::index_sequence_for<A...>{});
                 }};
}

#define K(name) {#name, entryOf(name)}
static std::map<std::string, Entry> table = {
    K(gemm_nt), K(gemm_nn), K(gemm_tn), K(gemm_tc_nt), K(gemm_tc_nn), K(gemm_tc_tn), K(gemm_splitk_reduce), K(set_rows), K(reduce_partials), K(mlp_in), K(relu_mask),
    K(colsum), K(g0_forward), K(rnn_forward), K(rnn_backward), K(g0_backward), K(dw_distinct), K(pair_loss), K(pair_count),
    K(pair_coef), K(pair_tile), K(pair_slab_sum), K(cap_finalize), K(add_rowvec), K(ci_forward), K(ci_coef), K(ci_var), K(ci_backward), K(loss_finalize),
    K(sumsq), K(opt_finalize), K(adamw),
};

extern "C" int emu_launch(const char *name, int gx, int gy, int gz, int bx, int shmem,
                          const unsigned long long *args, int nargs, char *err, int errn) {
    auto it = table.find(name);
    if (it == table.end()) {
        snprintf(err, errn, "emu: no kernel %s", name);
        return 1;
    }
    if (it->second.nargs != nargs) {
        snprintf(err, errn, "emu: kernel %s takes %d arguments, launched with %d", name, it->second.nargs, nargs);
        return 1;
    }
    if (bx < 1 || bx > 1024 || bx % 32 != 0 && bx > 32) {
        snprintf(err, errn, "emu: kernel %s: block of %d threads", name, bx);
        return 1;
    }
    std::vector<unsigned long long> a(args, args + nargs);
    emu::body = it->second.bind(a.data());
    emu::dyn.assign(std::max(shmem, 16), (char)0xff);  // garbage, as on the device
    memset(emu::mmaPhase, 0, sizeof emu::mmaPhase);
    blockDim = {(unsigned)bx, 1, 1};
    gridDim = {(unsigned)gx, (unsigned)gy, (unsigned)gz};
    for (int z = 0; z < gz; z++)
        for (int y = 0; y < gy; y++)
            for (int x = 0; x < gx; x++) {
                blockIdx = {(unsigned)x, (unsigned)y, (unsigned)z};
                std::string e;
                if (!emu::runBlock(bx, e)) {
                    snprintf(err, errn, "emu: kernel %s: %s", name, e.c_str());
                    return 1;
                }
            }
    return 0;
}

package train

import (
	"fmt"
	"math"

	"github.com/gridgpu/gridgpu/graph"
)

// This file is the reference definition of one optimiser update. Every
// engine (CPU here, CUDA in package cuda) must compute the same thing; the
// CUDA engine's tests compare against these functions.
//
// Given K microbatch gradients g_1..g_K (float32, parameter layout):
//
//  1. Average: g = (g_1 + ... + g_K) / K, summed in float64 and rounded once
//     to float32 (AverageGrads).
//  2. Global norm: norm = sqrt(sum over all elements of all tensors of g^2),
//     accumulated in float64 (GlobalNorm): a partial sum per chunk of
//     optChunk elements of each tensor, the partial sums added in order. This is the StepStats.GradNorm
//     that metrics report, measured before clipping.
//  3. Clip as torch.nn.utils.clip_grad_norm_(max_norm=clip): coef =
//     clip / (norm + 1e-6); if clip > 0 and coef < 1, every element is
//     multiplied by coef (in float64, not rounded back to float32).
//     PyTorch computes the norm in float32; the difference is ~1e-7 relative.
//  4. AdamW as torch.optim.AdamW (amsgrad=False, maximize=False), with
//     t = the optimiser step count after incrementing (1 on the first step),
//     per element in float64, from float32 p, m, v and results stored back
//     as float32:
//     p = p * (1 - lr*wd)
//     m = b1*m + (1-b1)*g
//     v = b2*v + (1-b2)*g*g
//     p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//     where m and v in the last line are the new (float64) values before
//     rounding.

// ClipEps is added to the norm in the clipping coefficient, as PyTorch does.
const ClipEps = 1e-6

// AverageGrads writes the element-wise mean of grads into dst (all the same
// layout). Sums are float64 so the order of microbatches does not matter to
// within rounding of the final float32.
func AverageGrads(dst *graph.Params, grads []*graph.Params) {
	ds := dst.Slices()
	if len(grads) == 1 { // the mean of one is itself, exactly
		for ti, d := range ds {
			copy(d, grads[0].Slices()[ti])
		}
		return
	}
	k := float64(len(grads))
	gs := make([][]float32, len(grads))
	for ti, d := range ds {
		for gi, g := range grads {
			gs[gi] = g.Slices()[ti]
		}
		forChunks(len(d), func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				var s float64
				for _, g := range gs {
					s += float64(g[i])
				}
				d[i] = float32(s / k)
			}
		})
	}
}

// optChunk is the number of elements of one tensor that one task of the
// optimiser handles. It is fixed, so that the norm's partial sums, and so
// every result, do not depend on the number of threads.
const optChunk = 1 << 14

// forChunks calls f on the ranges [i0, i1) of optChunk elements that cover
// [0, n), spread over the goroutines.
func forChunks(n int, f func(i0, i1 int)) {
	graph.ParallelFor((n+optChunk-1)/optChunk, func(c int) {
		f(c*optChunk, min(n, (c+1)*optChunk))
	})
}

// GlobalNorm is the Euclidean norm of all tensors together, accumulated in
// float64 over fixed chunks whose partial sums are added in order.
func GlobalNorm(g *graph.Params) float64 {
	var ss float64
	for _, s := range g.Slices() {
		parts := make([]float64, (len(s)+optChunk-1)/optChunk)
		forChunks(len(s), func(i0, i1 int) {
			var sum float64
			for _, v := range s[i0:i1] {
				sum += float64(v) * float64(v)
			}
			parts[i0/optChunk] = sum
		})
		for _, p := range parts {
			ss += p
		}
	}
	return math.Sqrt(ss)
}

// ClipCoef is the factor the gradient is multiplied by: 1 when clipping is
// off (clip <= 0) or the norm is within bounds, else clip/(norm+ClipEps).
func ClipCoef(norm, clip float64) float64 {
	if clip <= 0 {
		return 1
	}
	c := clip / (norm + ClipEps)
	if c < 1 {
		return c
	}
	return 1
}

// AdamWTensor applies one AdamW update to one tensor with the gradient
// already scaled: g[i]*gscale is the gradient element used. t is the step
// number after incrementing (>= 1).
func AdamWTensor(p, g, m, v []float32, gscale float64, t int64, lr float64, oc OptConfig) {
	b1, b2 := oc.Beta1, oc.Beta2
	bc1 := 1 - math.Pow(b1, float64(t))
	bc2 := 1 - math.Pow(b2, float64(t))
	a := adamwArgs{gscale: gscale, decay: 1 - lr*oc.WeightDecay, b1: b1, b2: b2, lr: lr, bc1: bc1, bc2: bc2, eps: oc.Eps}
	// Each element on its own: chunks change nothing but the speed.
	forChunks(len(p), func(i0, i1 int) {
		adamwChunk(p[i0:i1], g[i0:i1], m[i0:i1], v[i0:i1], &a)
	})
}

// adamwArgs are the per-step constants of AdamWTensor's update.
type adamwArgs struct {
	gscale, decay, b1, b2, lr, bc1, bc2, eps float64
}

// adamwGo is the update of one range in Go: the definition that the C
// twin (adamw_cgo.go), which vectorises it, must equal bit for bit. Every
// operation is IEEE-rounded and none is fused, so the same sequence gives
// the same bits in scalar and vector code, on any x86-64.
func adamwGo(p, g, m, v []float32, a *adamwArgs) {
	for i := range p {
		gi := float64(g[i]) * a.gscale
		pi := float64(p[i]) * a.decay
		mi := a.b1*float64(m[i]) + (1-a.b1)*gi
		vi := a.b2*float64(v[i]) + (1-a.b2)*gi*gi
		pi -= a.lr * (mi / a.bc1) / (math.Sqrt(vi/a.bc2) + a.eps)
		p[i], m[i], v[i] = float32(pi), float32(mi), float32(vi)
	}
}

// ClipAndAdamW performs steps 2-4 above on the averaged gradient g: it
// measures the global norm, clips, and updates p and st (st.Step is
// incremented). It returns the norm before clipping. g is not modified.
func ClipAndAdamW(p, g *graph.Params, st *OptState, lr float64, oc OptConfig) float64 {
	norm := GlobalNorm(g)
	clipAndAdamW(p, g, norm, st, lr, oc)
	return norm
}

// clipAndAdamW is ClipAndAdamW with the norm already measured.
func clipAndAdamW(p, g *graph.Params, norm float64, st *OptState, lr float64, oc OptConfig) {
	coef := ClipCoef(norm, oc.ClipNorm)
	st.Step++
	ps, gs, ms, vs := p.Slices(), g.Slices(), st.M.Slices(), st.V.Slices()
	for i := range ps {
		AdamWTensor(ps[i], gs[i], ms[i], vs[i], coef, st.Step, lr, oc)
	}
}

// Validate reports an optimiser setting outside the range AdamW accepts.
func (oc OptConfig) Validate() error {
	switch {
	case !(oc.Beta1 >= 0 && oc.Beta1 < 1):
		return fmt.Errorf("beta1 = %g: must be in [0, 1)", oc.Beta1)
	case !(oc.Beta2 >= 0 && oc.Beta2 < 1):
		return fmt.Errorf("beta2 = %g: must be in [0, 1)", oc.Beta2)
	case !(oc.Eps > 0):
		return fmt.Errorf("eps = %g: must be positive", oc.Eps)
	case !(oc.WeightDecay >= 0) || math.IsInf(oc.WeightDecay, 0):
		return fmt.Errorf("weight_decay = %g: must be >= 0", oc.WeightDecay)
	case !(oc.ClipNorm >= 0) || math.IsInf(oc.ClipNorm, 0):
		return fmt.Errorf("clip_norm = %g: must be >= 0 (0 disables clipping)", oc.ClipNorm)
	}
	return nil
}

// NewOptState returns zero moments for N units and hidden width H.
func NewOptState(N, H int) *OptState {
	return &OptState{M: graph.ZeroParams(N, H), V: graph.ZeroParams(N, H)}
}

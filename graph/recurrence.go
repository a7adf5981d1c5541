package graph

import (
	"math"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The velocity-gated recurrence, unrolled over T steps.
//
// Layout: w is [B*T][N*N], the MLP output for every step (row b*T+t-1 is the
// matrix W(v_{b,t}), row-major). The state tensor s is [B*(T+1)][N]: row
// b*(T+1)+t holds g_{b,t}, with t = 0 the shared start state g_0 =
// NormReLU(g0raw). Keeping g_0 as a row lets the conformal-isometry loss see
// g_{b,0} without a second gradient path.
//
// Forward, for t = 1..T:
//
//	y = W_{b,t} g_{b,t-1},  r = ReLU(y),  g_{b,t} = r / ||r||  (0 when ||r|| <= 1e-8)
//
// Backward. With u = dL/dg_{b,t} (the loss's direct gradient plus what flows
// back from step t+1) and n = ||r||:
//
//	dL/dr = (u - g (g.u)) / n           (Jacobian of r/||r|| is (I - g g^T)/n)
//	dL/dy = dL/dr * [y > 0]             (note y > 0 exactly where g > 0)
//	dL/dW_{b,t} = dL/dy  g_{b,t-1}^T    (an outer product: row k, column j)
//	dL/dg_{b,t-1} += W_{b,t}^T dL/dy
//
// A zeroed state passes no gradient (ReLU is flat there). The gradients of
// g_0 are summed over the batch and taken through g_0's own Norm-ReLU.

// normEps is the Norm-ReLU threshold of SPEC section 2.
const normEps = 1e-8

// normReLUInto writes ReLU(y)/||ReLU(y)|| into g and returns ||ReLU(y)||, or
// zero (with g zeroed) when that norm is at most normEps.
func normReLUInto[T float](y, g []T) float64 {
	var ss float64
	for _, v := range y {
		if v > 0 {
			ss += float64(v) * float64(v)
		}
	}
	n := math.Sqrt(ss)
	if n <= normEps {
		clear(g)
		return 0
	}
	inv := 1 / n
	for i, v := range y {
		if v > 0 {
			g[i] = T(float64(v) * inv)
		} else {
			g[i] = 0
		}
	}
	return n
}

// normReLUBackward maps dL/dg to dL/dy for g = NormReLU(y) with norm n.
func normReLUBackward[T float](g []T, n float64, dg []float64, dy []float64) {
	if n == 0 {
		clear(dy)
		return
	}
	var dot float64
	for k, gk := range g {
		dot += float64(gk) * dg[k]
	}
	for k, gk := range g {
		if gk > 0 {
			dy[k] = (dg[k] - float64(gk)*dot) / n
		} else {
			dy[k] = 0
		}
	}
}

// parallelFor runs f(i) for i in [0, n) on up to GOMAXPROCS goroutines. Each
// index is handled by exactly one call, so results written per index are
// deterministic whatever the scheduling.
func parallelFor(n int, f func(i int)) {
	workers := min(n, maxProcs())
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// recurForward fills s ([B*(T+1)][N]) and the norms n ([B*(T+1)]) and
// returns how many of the B*T stepped states were zeroed.
func recurForward[T float](B, steps, N int, w, g0raw, s []T, n []float64) int {
	g0 := make([]T, N)
	n0 := normReLUInto(g0raw, g0)
	zeros := make([]int, B)
	parallelFor(B, func(b int) {
		y := make([]T, N)
		base := b * (steps + 1)
		copy(s[base*N:(base+1)*N], g0)
		n[base] = n0
		for t := 1; t <= steps; t++ {
			wt := w[(b*steps+t-1)*N*N : (b*steps+t)*N*N]
			prev := s[(base+t-1)*N : (base+t)*N]
			for k := 0; k < N; k++ {
				row := wt[k*N : (k+1)*N]
				var acc T
				for j, gj := range prev {
					acc += row[j] * gj
				}
				y[k] = acc
			}
			n[base+t] = normReLUInto(y, s[(base+t)*N:(base+t+1)*N])
			if n[base+t] == 0 {
				zeros[b]++
			}
		}
	})
	total := 0
	for _, z := range zeros {
		total += z
	}
	return total
}

// recurBackward computes dw ([B*T][N*N]) and dg0raw ([N]) from ds, the
// gradient of the loss with respect to every row of s.
func recurBackward[T float](B, steps, N int, w, g0raw, s []T, n []float64, ds, dw, dg0raw []T) {
	perB := make([][]float64, B) // dL/dg_{b,0}, summed in order afterwards for determinism
	parallelFor(B, func(b int) {
		base := b * (steps + 1)
		carry := make([]float64, N)
		dg := make([]float64, N)
		dy := make([]float64, N)
		for t := steps; t >= 1; t-- {
			row := base + t
			for k := 0; k < N; k++ {
				dg[k] = float64(ds[row*N+k]) + carry[k]
			}
			normReLUBackward(s[row*N:(row+1)*N], n[row], dg, dy)
			wt := w[(b*steps+t-1)*N*N : (b*steps+t)*N*N]
			dwt := dw[(b*steps+t-1)*N*N : (b*steps+t)*N*N]
			prev := s[(row-1)*N : row*N]
			clear(carry)
			for k := 0; k < N; k++ {
				d := dy[k]
				out := dwt[k*N : (k+1)*N]
				if d == 0 {
					clear(out)
					continue
				}
				wrow := wt[k*N : (k+1)*N]
				for j := range out {
					out[j] = T(d * float64(prev[j]))
					carry[j] += float64(wrow[j]) * d
				}
			}
		}
		for k := 0; k < N; k++ {
			carry[k] += float64(ds[base*N+k])
		}
		perB[b] = carry
	})
	sum := make([]float64, N)
	for _, c := range perB {
		for k, v := range c {
			sum[k] += v
		}
	}
	g0 := make([]T, N)
	n0 := normReLUInto(g0raw, g0)
	d := make([]float64, N)
	normReLUBackward(g0, n0, sum, d)
	for k, v := range d {
		dg0raw[k] = T(v)
	}
}

// recurrence holds one graph's recurrence op and what its backward needs.
type recurrence[T float] struct {
	B, T, N int
	s       []T
	n       []float64
	zeros   int
	dw      []T
	dg0     []T
}

// newRecurrence adds the recurrence over w ([B*T, N*N]) from g0raw ([N]) to
// the graph and returns the state node ([B*(T+1), N]).
func newRecurrence[T float](B, steps, N int, w, g0raw *G.Node) (*recurrence[T], *G.Node, error) {
	r := &recurrence[T]{B: B, T: steps, N: N,
		s: make([]T, B*(steps+1)*N), n: make([]float64, B*(steps+1))}
	fwd := newOp("sicRecurrence", []int{2, 1}, 2)
	fwd.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
	fwd.do = func(in []G.Value) (G.Value, error) {
		r.zeros = recurForward(B, steps, N, sliceOf[T](in[0]), sliceOf[T](in[1]), r.s, r.n)
		return denseOf(r.s, B*(steps+1), N), nil
	}
	fwd.diffWRT = []bool{true, true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("sicRecurrenceGrad", []int{2, 1, 2}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * steps, N * N}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			if r.dw == nil {
				r.dw, r.dg0 = make([]T, B*steps*N*N), make([]T, N)
			}
			recurBackward(B, steps, N, sliceOf[T](in[0]), sliceOf[T](in[1]), r.s, r.n, sliceOf[T](in[2]), r.dw, r.dg0)
			return denseOf(r.dw, B*steps, N*N), nil
		}
		dw, err := apply(back, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		// Gorgonia ops have one output; the g0 gradient computed alongside
		// dw is handed over by an op that depends on dw, so it runs after.
		take := newOp("sicRecurrenceGradG0", []int{2}, 1)
		take.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{N}, nil }
		take.do = func([]G.Value) (G.Value, error) { return denseOf(r.dg0, N), nil }
		dg0, err := apply(take, dw)
		if err != nil {
			return nil, err
		}
		return G.Nodes{dw, dg0}, nil
	}
	out, err := apply(fwd, w, g0raw)
	return r, out, err
}

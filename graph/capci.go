package graph

import (
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Capacity: L_cap = -||m||^2 with m = (1/P) sum_i g_i over the stepped
// states, so dL/dg_i = -2 m / P.
func capLoss[T float](B, steps, N int, s []T) (float64, []float64) {
	m := make([]float64, N)
	for b := 0; b < B; b++ {
		for t := 1; t <= steps; t++ {
			row := s[(b*(steps+1)+t)*N : (b*(steps+1)+t+1)*N]
			for k, v := range row {
				m[k] += float64(v)
			}
		}
	}
	P := float64(B * steps)
	var l float64
	for k := range m {
		m[k] /= P
		l -= m[k] * m[k]
	}
	return l, m
}

// Conformal isometry: r_k = ||g_{b,t} - g_{b,t-1}|| / ||v_{b,t}|| over the K
// steps with 0 < ||v_{b,t}|| < sigma_x; L_ci = (1/K) sum_k (r_k - mean r)^2.
// dL/dr_k = (2/K)(r_k - mean r) (the mean's own dependence sums to zero), and
// dr_k/dg_{b,t} = -dr_k/dg_{b,t-1} = (g_{b,t} - g_{b,t-1}) / (||g_{b,t} -
// g_{b,t-1}|| ||v_{b,t}||), taken as zero where the two states coincide.
func ciLoss[T float](B, steps, N int, s []T, vel []float32, sigmaX float64, ds []T, up float64) float64 {
	type item struct {
		row   int // row of g_{b,t} in s
		r, sp float64
		dist  float64
	}
	var items []item
	for b := 0; b < B; b++ {
		for t := 1; t <= steps; t++ {
			vx, vy := float64(vel[(b*steps+t-1)*2]), float64(vel[(b*steps+t-1)*2+1])
			sp := math.Hypot(vx, vy)
			if !(sp > 0 && sp < sigmaX) {
				continue
			}
			row := b*(steps+1) + t
			var d2 float64
			for k := 0; k < N; k++ {
				d := float64(s[row*N+k]) - float64(s[(row-1)*N+k])
				d2 += d * d
			}
			dist := math.Sqrt(d2)
			items = append(items, item{row: row, r: dist / sp, sp: sp, dist: dist})
		}
	}
	if len(items) == 0 {
		return 0
	}
	K := float64(len(items))
	var mean float64
	for _, it := range items {
		mean += it.r
	}
	mean /= K
	var l float64
	for _, it := range items {
		l += (it.r - mean) * (it.r - mean)
	}
	l /= K
	if ds != nil {
		for _, it := range items {
			if it.dist == 0 {
				continue
			}
			f := up * 2 / K * (it.r - mean) / (it.dist * it.sp)
			for k := 0; k < N; k++ {
				d := f * (float64(s[it.row*N+k]) - float64(s[(it.row-1)*N+k]))
				ds[it.row*N+k] += T(d)
				ds[(it.row-1)*N+k] -= T(d)
			}
		}
	}
	return l
}

// scalarTerm is a graph op for a loss term of the states that is cheap
// enough to recompute in its backward pass.
type scalarTerm[T float] struct {
	value float64
	ds    []T
}

func newCapTerm[T float](mdl *model[T], B, steps, N int, s *G.Node) (*scalarTerm[T], *G.Node, error) {
	c := &scalarTerm[T]{ds: make([]T, B*(steps+1)*N)}
	fwd := newOp("sicCapacity", []int{2}, 0)
	fwd.do = func(in []G.Value) (G.Value, error) {
		defer tock(PhaseOtherLosses, tick())
		c.value, _ = capLoss(B, steps, N, sliceOf[T](in[0]))
		return scalarValue[T](c.value), nil
	}
	fwd.diffWRT = []bool{true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("sicCapacityGrad", []int{2, 0}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			defer tock(PhaseOtherLosses, tick())
			_, m := capLoss(B, steps, N, sliceOf[T](in[0]))
			f := -2 * scalarOf(in[1]) / float64(B*steps)
			clear(c.ds)
			for b := 0; b < B; b++ {
				for t := 1; t <= steps; t++ {
					row := c.ds[(b*(steps+1)+t)*N : (b*(steps+1)+t+1)*N]
					for k := range row {
						row[k] = T(f * m[k])
					}
				}
			}
			return denseOf(c.ds, B*(steps+1), N), nil
		}
		ds, err := apply(back, inputs[0], grad)
		return G.Nodes{ds}, err
	}
	out, err := apply(fwd, s)
	return c, out, err
}

// ciTerm also needs the microbatch's velocities, set before each run.
type ciTerm[T float] struct {
	scalarTerm[T]
	vel []float32
}

func newCITerm[T float](mdl *model[T], B, steps, N int, sigmaX float64, s *G.Node) (*ciTerm[T], *G.Node, error) {
	c := &ciTerm[T]{scalarTerm: scalarTerm[T]{ds: make([]T, B*(steps+1)*N)}}
	fwd := newOp("sicConformalIsometry", []int{2}, 0)
	fwd.do = func(in []G.Value) (G.Value, error) {
		defer tock(PhaseOtherLosses, tick())
		c.value = ciLoss(B, steps, N, sliceOf[T](in[0]), c.vel, sigmaX, nil, 0)
		return scalarValue[T](c.value), nil
	}
	fwd.diffWRT = []bool{true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("sicConformalIsometryGrad", []int{2, 0}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			defer tock(PhaseOtherLosses, tick())
			clear(c.ds)
			ciLoss(B, steps, N, sliceOf[T](in[0]), c.vel, sigmaX, c.ds, scalarOf(in[1]))
			return denseOf(c.ds, B*(steps+1), N), nil
		}
		ds, err := apply(back, inputs[0], grad)
		return G.Nodes{ds}, err
	}
	out, err := apply(fwd, s)
	return c, out, err
}

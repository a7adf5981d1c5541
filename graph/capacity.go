package graph

import (
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

// scalarTerm is a graph op for a loss term of the states that is cheap
// enough to recompute in its backward pass.
type scalarTerm[T float] struct {
	value float64
	ds    []T
}

// newScalarTerm builds the op of a scalar term of the states s ([B*(T+1)][N],
// the recurrence's output), named name: its forward pass sets c.value to
// value(s), its backward pass clears c.ds and has grad(s, up, c.ds) write
// up times dL/ds into it.
func newScalarTerm[T float](c *scalarTerm[T], name string, B, steps, N int, s *G.Node,
	value func(s []T) float64, grad func(s []T, up float64, ds []T)) (*G.Node, error) {
	c.ds = make([]T, B*(steps+1)*N)
	fwd := newOp(name, []int{2}, 0)
	fwd.do = func(in []G.Value) (G.Value, error) {
		defer tock(PhaseOtherLosses, tick())
		c.value = value(sliceOf[T](in[0]))
		return scalarValue[T](c.value), nil
	}
	fwd.diffWRT = []bool{true}
	fwd.symDiff = func(inputs G.Nodes, output, upNode *G.Node) (G.Nodes, error) {
		back := newOp(name+"Grad", []int{2, 0}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			defer tock(PhaseOtherLosses, tick())
			clear(c.ds)
			grad(sliceOf[T](in[0]), scalarOf(in[1]), c.ds)
			return denseOf(c.ds, B*(steps+1), N), nil
		}
		ds, err := apply(back, inputs[0], upNode)
		return G.Nodes{ds}, err
	}
	return apply(fwd, s)
}

func newCapTerm[T float](mdl *model[T], B, steps, N int, s *G.Node) (*scalarTerm[T], *G.Node, error) {
	c := &scalarTerm[T]{}
	out, err := newScalarTerm(c, "sicCapacity", B, steps, N, s,
		func(s []T) float64 {
			l, _ := capLoss(B, steps, N, s)
			return l
		},
		func(s []T, up float64, ds []T) {
			_, m := capLoss(B, steps, N, s)
			f := -2 * up / float64(B*steps)
			for b := 0; b < B; b++ {
				for t := 1; t <= steps; t++ {
					row := ds[(b*(steps+1)+t)*N : (b*(steps+1)+t+1)*N]
					for k := range row {
						row[k] = T(f * m[k])
					}
				}
			}
		})
	return c, out, err
}

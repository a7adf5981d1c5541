package graph

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// addBias adds the vector b ([m]) to every row of x ([n][m]). Gorgonia's
// BroadcastAdd would first repeat b into an n x m tensor, which at paper size
// is another 511 MB for the last layer; this op adds it in one pass.
// Gradient: dL/dx = dL/dy, dL/db = sum over rows of dL/dy.
func addBias[T float](x, b *G.Node) (*G.Node, error) {
	n, m := x.Shape()[0], x.Shape()[1]
	out := make([]T, n*m)
	fwd := newOp("addBias", []int{2, 1}, 2)
	fwd.shape = func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
	fwd.do = func(in []G.Value) (G.Value, error) {
		xs, bs := sliceOf[T](in[0]), sliceOf[T](in[1])
		parallelFor(n, func(i int) {
			row := out[i*m : (i+1)*m]
			for k, v := range xs[i*m : (i+1)*m] {
				row[k] = v + bs[k]
			}
		})
		return denseOf(out, n, m), nil
	}
	fwd.diffWRT = []bool{true, true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		db := make([]T, m)
		sum := newOp("addBiasGrad", []int{2}, 1)
		sum.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{m}, nil }
		sum.do = func(in []G.Value) (G.Value, error) {
			colSums(sliceOf[T](in[0]), n, m, db)
			return denseOf(db, m), nil
		}
		dbNode, err := apply(sum, grad)
		return G.Nodes{grad, dbNode}, err
	}
	return apply(fwd, x, b)
}

// colSums writes the column sums of x ([n][m]) into dst, accumulating in
// float64 over fixed column stripes so the result does not depend on the
// number of goroutines.
func colSums[T float](x []T, n, m int, dst []T) {
	const stripe = 256
	parallelFor((m+stripe-1)/stripe, func(s int) {
		k0, k1 := s*stripe, min(m, (s+1)*stripe)
		acc := make([]float64, k1-k0)
		for i := 0; i < n; i++ {
			for k, v := range x[i*m+k0 : i*m+k1] {
				acc[k] += float64(v)
			}
		}
		for k, v := range acc {
			dst[k0+k] = T(v)
		}
	})
}

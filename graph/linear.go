package graph

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearReLU is a fused hidden layer h = ReLU(x W^T + b) for x [n][k],
// W [m][k] (PyTorch's Linear layout), b [m]. Compared with Gorgonia's
// Transpose + Mul + a bias op + Rectify it does one GEMM into a buffer that
// lives as long as the graph, with no transposed copy of W and no
// intermediate pre-activation tensor.
//
// Backward, with upstream u = dL/dh:
//
//	dy = u * [h > 0]      (h > 0 exactly where y > 0)
//	dL/dW = dy^T x,  dL/db = column sums of dy,  dL/dx = dy W
//
// diffX says whether x needs a gradient (the velocities do not).
type linearReLU[T float] struct {
	n, m, k int
	h       []T // forward output
	dy      []T
	dW, db  []T
	dx      []T
	model   *model[T]
}

func newLinearReLU[T float](mdl *model[T], x, w, b *G.Node, diffX bool) (*G.Node, error) {
	n, k := x.Shape()[0], x.Shape()[1]
	m := w.Shape()[0]
	l := &linearReLU[T]{n: n, m: m, k: k, h: make([]T, n*m), model: mdl}
	fwd := newOp("linearReLU", []int{2, 2, 1}, 2)
	fwd.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{n, m}, nil }
	fwd.do = func(in []G.Value) (G.Value, error) {
		t0 := tick()
		xs, ws, bs := sliceOf[T](in[0]), sliceOf[T](in[1]), sliceOf[T](in[2])
		gemmPar(false, true, n, m, k, 1, xs, k, ws, k, 0, l.h, m)
		parallelFor((n+63)/64, func(blk int) {
			for i := blk * 64; i < min(n, (blk+1)*64); i++ {
				row := l.h[i*m : (i+1)*m]
				for j := range row {
					row[j] = max(row[j]+bs[j], 0)
				}
			}
		})
		tock(PhaseMLPForward, t0)
		return denseOf(l.h, n, m), nil
	}
	fwd.diffWRT = []bool{diffX, true, true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("linearReLUGrad", []int{2, 2, 2, 2}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) {
			if diffX {
				return tensor.Shape{n, k}, nil
			}
			return tensor.Shape{m, k}, nil
		}
		back.do = func(in []G.Value) (G.Value, error) {
			if l.dW == nil {
				l.dy, l.dW, l.db = make([]T, n*m), make([]T, m*k), make([]T, m)
				if diffX {
					l.dx = make([]T, n*k)
				}
			}
			if !l.model.wantGrad { // Eval: the backward half of the tape is idle
				if diffX {
					return denseOf(l.dx, n, k), nil
				}
				return denseOf(l.dW, m, k), nil
			}
			t0 := tick()
			xs, ws, hs, us := sliceOf[T](in[0]), sliceOf[T](in[1]), sliceOf[T](in[2]), sliceOf[T](in[3])
			for i, h := range hs {
				if h > 0 {
					l.dy[i] = us[i]
				} else {
					l.dy[i] = 0
				}
			}
			gemmPar(true, false, m, k, n, 1, l.dy, m, xs, k, 0, l.dW, k)
			colSums(l.dy, n, m, l.db)
			if diffX {
				gemmPar(false, false, n, k, m, 1, l.dy, m, ws, k, 0, l.dx, k)
			}
			tock(PhaseMLPBackward, t0)
			if diffX {
				return denseOf(l.dx, n, k), nil
			}
			return denseOf(l.dW, m, k), nil
		}
		first, err := apply(back, inputs[0], inputs[1], output, grad)
		if err != nil {
			return nil, err
		}
		db, err := handOver[T]("linearReLUGradB", &l.db, first, m)
		if err != nil {
			return nil, err
		}
		if !diffX {
			return G.Nodes{nil, first, db}, nil
		}
		dW, err := handOver[T]("linearReLUGradW", &l.dW, first, m, k)
		if err != nil {
			return nil, err
		}
		return G.Nodes{first, dW, db}, nil
	}
	return apply(fwd, x, w, b)
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

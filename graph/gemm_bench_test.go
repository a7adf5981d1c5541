package graph

import (
	"testing"
)

// BenchmarkGemmPar measures the last layer's three products at paper size
// (P = 7800, H = 256, N*N = 16384) through gemmPar, in GFLOP/s.
func BenchmarkGemmPar(b *testing.B) {
	const P, H, NN = 7800, 256, 16384
	x := make([]float32, P*H)
	w := make([]float32, NN*H)
	out := make([]float32, P*NN)
	for i := range x {
		x[i] = float32(i%7) * 0.1
	}
	for i := range w {
		w[i] = float32(i%5) * 0.1
	}
	cases := []struct {
		name string
		f    func()
	}{
		{"forward", func() { gemmPar(false, true, P, NN, H, 1, x, H, w, H, 0, out, NN) }},
		{"dX", func() { gemmPar(false, false, P, H, NN, 1, out, NN, w, H, 0, x, H) }},
		{"dW", func() { gemmPar(true, false, NN, H, P, 1, out, NN, x, H, 0, w, H) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.f()
			}
			b.ReportMetric(2*float64(P)*H*NN*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

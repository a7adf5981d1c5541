package graph

import (
	"fmt"
	"testing"

	"github.com/gridgpu/gridgpu/data"
)

// benchSizes are the four benchmark sizes (B, T, N, H) of the project's
// PyTorch comparison.
var benchSizes = []struct {
	name       string
	B, T, N, H int
}{
	{"tiny", 16, 20, 32, 64},
	{"small", 32, 30, 64, 128},
	{"medium", 64, 40, 128, 256},
	{"paper", 130, 60, 128, 256},
}

// BenchmarkGrad times one forward and backward pass of the whole model
// (run with -bench Grad/paper -benchtime 3x for the paper size).
func BenchmarkGrad(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p := InitParams(s.N, s.H, 1)
			smp, err := data.NewSampler(2, s.B, s.T, data.AugmentPermute, 0.15)
			if err != nil {
				b.Fatal(err)
			}
			batch := smp.Next()
			m, err := NewModel(s.B, s.T, s.N, s.H, PaperLoss())
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if _, _, err := m.Grad(p, batch); err != nil { // warm-up: first-run allocations
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := m.Grad(p, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.B*s.T), "P")
			_ = fmt.Sprint()
		})
	}
}

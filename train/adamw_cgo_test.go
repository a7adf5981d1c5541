//go:build cgo && !purego

package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gridgpu/gridgpu/internal/simd"
)

// adamwCase is one optimiser step's inputs for the twin tests: random
// parameters, gradients and moments over many magnitudes, zeros and
// subnormals, in a length that leaves tails for every vector width.
func adamwCase(seed uint64, n int) (p, g, m, v []float32, a adamwArgs) {
	r := rand.New(rand.NewPCG(seed, 1))
	val := func() float32 {
		switch r.IntN(10) {
		case 0:
			return 0
		case 1:
			return float32(r.NormFloat64()) * 1e-40 // subnormal
		}
		return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(13)-8)))
	}
	p, g, m, v = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p {
		p[i], g[i], m[i] = val(), val(), val()
		v[i] = float32(math.Abs(float64(val())))
	}
	t := float64(1 + r.IntN(5000))
	a = adamwArgs{gscale: 0.05 + r.Float64(), decay: 1 - 1e-4*r.Float64(), b1: 0.9, b2: 0.999,
		lr: 1e-3 * r.Float64(), bc1: 1 - math.Pow(0.9, t), bc2: 1 - math.Pow(0.999, t), eps: 1e-8}
	return
}

// The C twin of the optimiser equals adamwGo bit for bit on every path
// this CPU runs (scalar, AVX2, AVX-512): it is the same arithmetic, and a
// training run must not depend on which path a machine takes.
func TestAdamWTwinBitIdentical(t *testing.T) {
	for _, level := range simd.Levels {
		for seed := uint64(0); seed < 20; seed++ {
			n := 1000 + int(seed)
			p, g, m, v, a := adamwCase(seed, n)
			wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			adamwGo(wp, g, wm, wv, &a)
			adamwC(p, g, m, v, &a, level)
			for i := range p {
				for _, c := range []struct {
					name      string
					got, want float32
				}{{"p", p[i], wp[i]}, {"m", m[i], wm[i]}, {"v", v[i], wv[i]}} {
					if math.Float32bits(c.got) != math.Float32bits(c.want) {
						t.Fatalf("path %d, seed %d: %s[%d] = %g (%#x), Go gives %g (%#x)", level, seed, c.name, i,
							c.got, math.Float32bits(c.got), c.want, math.Float32bits(c.want))
					}
				}
			}
		}
	}
}

// A NaN gradient leaves NaN in the C twin too (the trainer refuses such a
// gradient before the optimiser; this only keeps the twin honest).
func TestAdamWTwinNaN(t *testing.T) {
	for _, level := range simd.Levels {
		p, g, m, v, a := adamwCase(7, 17)
		g[3] = float32(math.NaN())
		adamwC(p, g, m, v, &a, level)
		if !math.IsNaN(float64(p[3])) || !math.IsNaN(float64(m[3])) || math.IsNaN(float64(p[2])) {
			t.Errorf("path %d: p[3] %g, m[3] %g, p[2] %g", level, p[3], m[3], p[2])
		}
	}
}

// BenchmarkAdamW: one update of the small size's 0.54 M parameters on one
// goroutine, the Go definition against the C twin's widest path.
func BenchmarkAdamW(b *testing.B) {
	const n = 540000
	p, g, m, v, a := adamwCase(1, n)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"go", func() { adamwGo(p, g, m, v, &a) }},
		{"c", func() { adamwC(p, g, m, v, &a, simd.Widest) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n * 4 * 7)
			for b.Loop() {
				c.f()
			}
		})
	}
}

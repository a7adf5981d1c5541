//go:build gridgpu_cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

// Test device: GRIDGPU_TEST_DEVICE or cuda:0.
func testDevice() train.Device {
	if d := os.Getenv("GRIDGPU_TEST_DEVICE"); d != "" {
		return train.MustParseDevice(d)
	}
	return train.Device{Kind: train.DeviceCUDA}
}

// freshSeed draws a new seed for every run (llm.c habit: fresh random inputs)
// and logs it so that a failure can be replayed with GRIDGPU_TEST_SEED.
func freshSeed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("GRIDGPU_TEST_SEED"); v != "" {
		fmt.Sscan(v, &s)
	}
	t.Logf("seed %d (GRIDGPU_TEST_SEED=%d replays)", s, s)
	return s
}

type size struct{ B, T, N, H int }

func (s size) String() string { return fmt.Sprintf("B%d_T%d_N%d_H%d", s.B, s.T, s.N, s.H) }

var paperSize = size{130, 60, 128, 256}

func paperOpt() train.OptConfig {
	return train.OptConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, ClipNorm: 0.1}
}

// testGPU is the default gpu section with the GRIDGPU_GEMM and GRIDGPU_PAIR
// overrides applied: the tests' way to choose the kernels.
func testGPU(t testing.TB) train.GPUConfig {
	t.Helper()
	g := train.DefaultGPU()
	notes, err := g.ApplyEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		t.Log(n)
	}
	return g
}

func newTestEngine(t testing.TB, s size, lc graph.LossConfig, seed uint64) *Engine {
	t.Helper()
	e, err := NewEngine(train.EngineSpec{Device: testDevice(), B: s.B, T: s.T, N: s.N, H: s.H, Loss: lc,
		Opt: paperOpt(), Init: graph.InitParams(s.N, s.H, seed), GPU: testGPU(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func sampler(t testing.TB, s size, seed uint64) *data.Sampler {
	sm, err := data.NewSampler(seed, s.B, s.T, data.AugmentPermute, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// must runs f on the device's thread (e.d.run) and fails t on its error.
func (e *Engine) must(t testing.TB, f func() error) {
	t.Helper()
	if err := e.d.run(f); err != nil {
		t.Fatal(err)
	}
}

// get downloads n float32 from device address p.
func (e *Engine) get(t testing.TB, p devPtr, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	e.must(t, func() error { return e.d.download(out, p) })
	return out
}

func (e *Engine) getF64(t testing.TB, p devPtr, n int) []float64 {
	t.Helper()
	out := make([]float64, n)
	e.must(t, func() error { return e.d.downloadF64(out, p) })
	return out
}

func (e *Engine) put(t testing.TB, p devPtr, v []float32) {
	t.Helper()
	e.must(t, func() error { return e.d.upload(p, v) })
}

// nanBits is a quiet NaN: outputs are poisoned with it before a kernel runs,
// so an element the kernel fails to write cannot pass.
const nanBits = 0x7fc00000

func (e *Engine) poison(t testing.TB, p devPtr, n int) {
	t.Helper()
	e.must(t, func() error { return e.d.fill(p, nanBits, n) })
}

func (e *Engine) poisonF64(t testing.TB, p devPtr, n int) {
	t.Helper()
	e.poison(t, p, 2*n)
}

func (e *Engine) sync(t testing.TB) {
	t.Helper()
	e.must(t, func() error { return e.d.drv.synchronize() })
}

func f64s(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// naiveProduct is the float64 reference the kernel tests compare the
// products against: C = op(A) op(B), row-major, op(A) m x k and op(B) k x n,
// where op(X) is X, or with transA (transB) the transpose of X as stored
// (k x m, n x k). Every C entry sums over k in order.
func naiveProduct(transA, transB bool, a, b []float32, m, k, n int) []float64 {
	c := make([]float64, m*n)
	for j := 0; j < k; j++ {
		for i := 0; i < m; i++ {
			x := float64(a[i*k+j])
			if transA {
				x = float64(a[j*m+i])
			}
			for o := 0; o < n; o++ {
				y := b[j*n+o]
				if transB {
					y = b[o*k+j]
				}
				c[i*n+o] += x * float64(y)
			}
		}
	}
	return c
}

// colSums is the column sums of a (rows x n).
func colSums(a []float32, rows, n int) []float64 {
	s := make([]float64, n)
	for i := 0; i < rows; i++ {
		for o := 0; o < n; o++ {
			s[o] += float64(a[i*n+o])
		}
	}
	return s
}

// closeTo checks every element: |got - want| <= tol * (|want| + rms(want)),
// and no NaN or Inf (an unwritten, poisoned element fails here). It reports
// the norm-wise relative error too.
func closeTo[T float32 | float64](t testing.TB, what string, got []T, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var ss, es float64
	for _, w := range want {
		ss += w * w
	}
	rms := math.Sqrt(ss / float64(max(1, len(want))))
	bad := 0
	for i, g := range got {
		gv := float64(g)
		d := gv - want[i]
		es += d * d
		if math.IsNaN(gv) || math.IsInf(gv, 0) || math.Abs(d) > tol*(math.Abs(want[i])+rms) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g", what, i, gv, want[i])
			}
			bad++
		}
	}
	rel := math.Sqrt(es) / math.Max(math.Sqrt(ss), 1e-300)
	if bad > 0 {
		t.Errorf("%s: %d of %d elements off (norm-wise relative error %.3g, tolerance %g)", what, bad, len(got), rel, tol)
	} else {
		t.Logf("%s: %d elements, norm-wise relative error %.3g", what, len(got), rel)
	}
}

func scalarClose(t testing.TB, what string, got, want, tol float64) {
	t.Helper()
	d := math.Abs(got - want)
	if math.IsNaN(got) || d > tol*math.Max(math.Abs(want), 1e-30) && d > 1e-12 {
		t.Errorf("%s = %.9g, want %.9g (relative error %.3g > %g)", what, got, want, d/math.Abs(want), tol)
	} else {
		t.Logf("%s = %.9g, want %.9g", what, got, want)
	}
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32((2*r.Float64() - 1) * scale)
	}
	return x
}

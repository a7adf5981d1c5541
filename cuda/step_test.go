//go:build gridgpu_cuda

package cuda

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

// testTol is the whole-step tolerance: 1e-4 (FP32), or GRIDGPU_TEST_TOL for
// a trial with a less accurate kernel.
func testTol(t testing.TB) float64 {
	tol := 1e-4
	if v := os.Getenv("GRIDGPU_TEST_TOL"); v != "" {
		if _, err := fmt.Sscan(v, &tol); err != nil {
			t.Fatalf("GRIDGPU_TEST_TOL=%q: %v", v, err)
		}
		t.Logf("tolerance %g (GRIDGPU_TEST_TOL)", tol)
	}
	return tol
}

type adamRef struct {
	p, m, v *graph.Params
	norm    float64
}

// trainRef applies train.ClipAndAdamW (the reference optimiser update) to
// copies of p and the moments, from step t-1 to t, with learning rate lr.
func trainRef(p, g, m, v *graph.Params, t int64, clip, lr float64) adamRef {
	oc := paperOpt()
	oc.ClipNorm = clip
	st := &train.OptState{M: m.Clone(), V: v.Clone(), Step: t - 1}
	q := p.Clone()
	norm := train.ClipAndAdamW(q, g, st, lr, oc)
	return adamRef{p: q, m: st.M, v: st.V, norm: norm}
}

// relErr is ||got - want|| / ||want|| in float64.
func relErr(got, want []float32) float64 {
	var es, ws float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		es += d * d
		ws += float64(want[i]) * float64(want[i])
	}
	if ws == 0 {
		return math.Sqrt(es)
	}
	return math.Sqrt(es / ws)
}

// relErr64 is relErr against a float64 reference.
func relErr64(got []float32, want []float64) float64 {
	var es, ws float64
	for i := range got {
		d := float64(got[i]) - want[i]
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		es += d * d
		ws += want[i] * want[i]
	}
	if ws == 0 {
		return math.Sqrt(es)
	}
	return math.Sqrt(es / ws)
}

func relScalar(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// The whole step against the CPU Gorgonia graph (graph.Model.Grad) and the
// reference optimiser (train.ClipAndAdamW) on the same weights and
// microbatches: every loss term, every parameter gradient, the gradient norm
// and the updated parameters and moments, relative error < 1e-4 (FP32).
func TestStepVsGraph(t *testing.T) {
	cases := []struct {
		s     size
		micro int
		red   string
	}{
		{size{8, 20, 40, 48}, 2, graph.ReduceMean},
		{size{8, 20, 40, 48}, 1, graph.ReduceSum},
		{size{16, 30, 128, 256}, 2, graph.ReduceMean},
		{paperSize, 1, graph.ReduceMean},
	}
	for _, c := range cases {
		name := c.s.String() + "_" + c.red
		t.Run(name, func(t *testing.T) {
			if c.s == paperSize && testing.Short() {
				t.Skip("paper size skipped in -short mode")
			}
			testStepVsGraph(t, c.s, c.micro, c.red)
		})
	}
}

// gradientBound is how far two float32 implementations of avg, the
// gradient of p averaged over batches, may differ (and the float64
// gradient it is measured against): how well float32 can do
// on this case at all, from the CPU graph's own gradient error against the
// float64 graph. Where the conformal-isometry term dominates (steps with
// tiny speeds divide small state differences by smaller speeds), float32
// rounding alone moves the gradient by more than 1e-4; two float32
// implementations then differ by up to about the sum of their errors. The
// bound is max(tol, 4 x the CPU graph's float32 error), the largest over
// the tensors: the conditioning is a property of the batch, not of one
// tensor. Measured on an H200 on such a batch (CPU float32 0.4-0.9% off
// float64): GPU FP32 1.6-2.2% off float64, GPU 3xTF32 5%.
func gradientBound(t *testing.T, p *graph.Params, batches []*data.Batch, lc graph.LossConfig, avg *graph.Params, tol float64) (bound float64, avg64 [][]float64) {
	t.Helper()
	t0 := time.Now()
	avg64 = make([][]float64, len(graph.ParamNames))
	for _, b := range batches {
		_, g64, err := graph.Grad64(p, b, lc)
		if err != nil {
			t.Fatalf("float64 graph: %v", err)
		}
		for i, x := range g64 {
			if avg64[i] == nil {
				avg64[i] = make([]float64, len(x))
			}
			for k, v := range x {
				avg64[i][k] += v / float64(len(batches))
			}
		}
	}
	cpuErrMax := 0.0
	for i, name := range graph.ParamNames {
		cpuErr := relErr64(avg.Slices()[i], avg64[i])
		cpuErrMax = max(cpuErrMax, cpuErr)
		t.Logf("CPU float32 gradient %s vs float64: relative error %.3g", name, cpuErr)
	}
	bound = math.Max(tol, 4*cpuErrMax)
	t.Logf("gradient bound %.3g (float64 graph: %v)", bound, time.Since(t0))
	return bound, avg64
}

func testStepVsGraph(t *testing.T, s size, micro int, red string) {
	tol := testTol(t)
	lc := graph.PaperLoss()
	lc.Reduction = red
	model, err := graph.NewModel(s.B, s.T, s.N, s.H, lc)
	if err != nil {
		t.Fatalf("CPU graph: %v", err)
	}
	defer model.Close()
	// A term with a weight but no value would leave its gradient unchecked,
	// and small random cases can lack a term's pairs or steps (at B 8, T
	// 20 about one draw in six has no step slower than sigma_x, so no
	// conformal-isometry term): such a draw is replaced by the next seed.
	var (
		p       *graph.Params
		batches []*data.Batch
		losses  []graph.Losses
		grads   []*graph.Params
		want    graph.Losses
	)
	seed := freshSeed(t)
	for try := 0; ; try, seed = try+1, seed+1 {
		p = graph.InitParams(s.N, s.H, seed)
		sm := sampler(t, s, seed+1)
		batches = make([]*data.Batch, micro)
		for i := range batches {
			batches[i] = sm.Next()
		}
		t0 := time.Now()
		losses, grads = make([]graph.Losses, micro), make([]*graph.Params, micro)
		for i, b := range batches {
			l, g, err := model.Grad(p, b)
			if err != nil {
				t.Fatalf("CPU graph: %v", err)
			}
			grads[i], losses[i] = g.Clone(), l
		}
		want = graph.MeanLosses(losses)
		t.Logf("CPU graph: %d microbatch(es) in %v", micro, time.Since(t0))
		missing := ""
		for term, w := range lc.Weights() {
			if v := want.Term[term]; w != 0 && (v == 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
				missing = fmt.Sprintf("the %s term is %g", graph.TermSpecs[term].Name, v)
			}
		}
		if missing == "" {
			break
		}
		if try == 20 {
			t.Fatalf("%s on 21 draws in a row: the comparison would not check its gradient", missing)
		}
		t.Logf("seed %d: %s on these microbatches; trying seed %d", seed, missing, seed+1)
	}
	avg := graph.ZeroParams(s.N, s.H)
	train.AverageGrads(avg, grads)
	gradTol, avg64 := gradientBound(t, p, batches, lc, avg, tol)
	// The paper's learning rate: AdamW's first step moves every element by
	// about lr*sign(g), so elements whose gradient is ~0 may move either way
	// in two FP32 implementations; with lr = 2e-5 that stays far below the
	// tolerance while the moments are compared exactly.
	const lr = 2e-5
	ref := trainRef(p, avg, graph.ZeroParams(s.N, s.H), graph.ZeroParams(s.N, s.H), 1, 0.1, lr)

	e := newTestEngine(t, s, lc, seed)
	e.spec.Opt.ClipNorm = 0.1
	t0 := time.Now()
	st, err := e.Step(batches, lr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GPU step: %v", time.Since(t0))

	type scalar struct {
		name      string
		got, want float64
	}
	scalars := []scalar{{"loss", st.Losses.Total, want.Total}}
	for t, spec := range graph.TermSpecs {
		scalars = append(scalars, scalar{spec.Key, st.Losses.Term[t], want.Term[t]})
	}
	for _, c := range append(scalars, scalar{"grad_norm", st.GradNorm, ref.norm}) {
		r := relScalar(c.got, c.want)
		bound := tol
		if c.name == "grad_norm" {
			bound = gradTol
		}
		if !(r < bound) {
			t.Errorf("%s: GPU %.9g, CPU %.9g, relative error %.3g (bound %.3g)", c.name, c.got, c.want, r, bound)
		} else {
			t.Logf("%s: GPU %.9g, CPU %.9g, relative error %.3g", c.name, c.got, c.want, r)
		}
	}
	if math.Abs(st.Losses.ZeroFrac-want.ZeroFrac) > 1.5/float64(s.B*s.T) {
		t.Errorf("zero fraction: GPU %g, CPU %g", st.Losses.ZeroFrac, want.ZeroFrac)
	}
	gsum := graph.ZeroParams(s.N, s.H)
	e.must(t, func() error { return e.downloadParams(gsum, e.grad) })
	for _, x := range gsum.Slices() {
		for k := range x {
			x[k] /= float32(micro)
		}
	}
	for i, name := range graph.ParamNames {
		t.Logf("GPU gradient %s vs float64: relative error %.3g", name, relErr64(gsum.Slices()[i], avg64[i]))
	}
	gotP, err := e.Params()
	if err != nil {
		t.Fatal(err)
	}
	gotS, err := e.OptState()
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range graph.ParamNames {
		for _, c := range []struct {
			what      string
			got, want []float32
		}{{"gradient", gsum.Slices()[i], avg.Slices()[i]}, {"updated", gotP.Slices()[i], ref.p.Slices()[i]},
			{"adam m", gotS.M.Slices()[i], ref.m.Slices()[i]}, {"adam v", gotS.V.Slices()[i], ref.v.Slices()[i]}} {
			r := relErr(c.got, c.want)
			bound := tol
			switch c.what {
			case "updated":
				// AdamW moves each element by about lr: elements whose
				// gradient is ill-determined may move either way.
				bound = math.Max(tol, 0.01*gradTol)
			case "gradient", "adam m": // the first moment follows the gradient
				bound = gradTol
			case "adam v": // the second moment is quadratic in it
				bound = 2 * gradTol
			}
			if !(r < bound) {
				t.Errorf("%s %s: relative error %.3g (bound %.3g)", c.what, name, r, bound)
			} else {
				t.Logf("%s %s: relative error %.3g", c.what, name, r)
			}
		}
	}
	if gotS.Step != 1 {
		t.Errorf("optimiser step %d after one step, want 1", gotS.Step)
	}

	// Eval: forward only, same losses as the CPU graph (small sizes: the CPU
	// graph is slow at paper size).
	if s == paperSize {
		return
	}
	lw, err := model.Eval(gotP, batches[0])
	if err != nil {
		t.Fatal(err)
	}
	lg, err := e.Eval(batches[0])
	if err != nil {
		t.Fatal(err)
	}
	if r := relScalar(lg.Total, lw.Total); !(r < tol) {
		t.Errorf("Eval total: GPU %.9g, CPU %.9g (relative error %.3g)", lg.Total, lw.Total, r)
	}
}

// Terms with weight zero are skipped and report 0; the others still match.
func TestAblations(t *testing.T) {
	s := size{8, 20, 40, 48}
	for _, off := range []string{"sep", "inv", "cap", "ci"} {
		t.Run(off, func(t *testing.T) {
			seed := freshSeed(t)
			lc := graph.PaperLoss()
			switch off {
			case "sep":
				lc.LambdaSep = 0
			case "inv":
				lc.LambdaInv = 0
			case "cap":
				lc.LambdaCap = 0
			case "ci":
				lc.LambdaCI = 0
			}
			p := graph.InitParams(s.N, s.H, seed)
			b := sampler(t, s, seed+1).Next()
			model, err := graph.NewModel(s.B, s.T, s.N, s.H, lc)
			if err != nil {
				t.Fatal(err)
			}
			defer model.Close()
			lw, gw, err := model.Grad(p, b)
			if err != nil {
				t.Fatal(err)
			}
			e := newTestEngine(t, s, lc, seed)
			st, err := e.Step([]*data.Batch{b}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r := relScalar(st.Losses.Total, lw.Total); !(r < 1e-4) {
				t.Errorf("total: GPU %.9g, CPU %.9g", st.Losses.Total, lw.Total)
			}
			g := graph.ZeroParams(s.N, s.H)
			e.must(t, func() error { return e.downloadParams(g, e.grad) })
			bound, _ := gradientBound(t, p, []*data.Batch{b}, lc, gw, 1e-4)
			for i, name := range graph.ParamNames {
				if r := relErr(g.Slices()[i], gw.Slices()[i]); !(r < bound) {
					t.Errorf("gradient %s: relative error %.3g", name, r)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	_, err := NewEngine(train.EngineSpec{Device: train.Device{Kind: train.DeviceCUDA, Index: 99}, B: 2, T: 3, N: 8, H: 8, Loss: graph.PaperLoss(), Opt: paperOpt(), Init: graph.InitParams(8, 8, 1)})
	if err == nil || !strings.Contains(err.Error(), "GPU") {
		t.Errorf("cuda:99: error %v, want one saying how many GPUs there are", err)
	} else {
		t.Log(err)
	}
	// 10^8 states: 4 x 51 GB of states and state gradients, more than any
	// GPU has (the MLP buffers are sized for the distinct-velocity path,
	// T rows, until a microbatch needs P).
	_, err = NewEngine(train.EngineSpec{Device: train.Device{Kind: train.DeviceCUDA}, B: 1000000, T: 100, N: 128, H: 256, Loss: graph.PaperLoss(), Opt: paperOpt(), Init: graph.InitParams(128, 256, 1)})
	if err == nil || !strings.Contains(err.Error(), "out of device memory") || !strings.Contains(err.Error(), "needs") {
		t.Errorf("huge batch: error %v, want out of device memory saying how much is needed", err)
	} else {
		t.Log(err)
	}
	// The P-row buffers are allocated when a microbatch without shared
	// velocities first needs them: 3 million states of N^2 = 16384 weights
	// each (197 GB) fit no GPU, while the engine (6.2 GB) does, and the
	// step says what failed.
	big := size{300000, 10, 128, 256}
	eb := newTestEngine(t, big, graph.PaperLoss(), 5)
	none, err := data.NewSampler(6, big.B, big.T, data.AugmentNone, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eb.Step([]*data.Batch{none.Next()}, 0.01)
	if err == nil || !strings.Contains(err.Error(), "out of device memory") || !strings.Contains(err.Error(), "augment none") {
		t.Errorf("augment none on a huge batch: error %v, want out of device memory naming the P-row path", err)
	} else {
		t.Log(err)
	}
	eb.Close()
	// A NaN parameter: the step fails naming a term, and nothing changes.
	s := size{4, 5, 16, 16}
	e := newTestEngine(t, s, graph.PaperLoss(), 3)
	p, _ := e.Params()
	p.W2[7] = float32(math.NaN())
	if err := e.SetParams(p); err != nil {
		t.Fatal(err)
	}
	_, err = e.Step([]*data.Batch{sampler(t, s, 4).Next()}, 0.01)
	var nf *train.NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("NaN weight: error %v, want a train.NonFiniteError", err)
	}
	t.Log(err)
	q, _ := e.Params()
	st, _ := e.OptState()
	if st.Step != 0 || relErr(q.W0, p.W0) != 0 || relErr(st.M.W0, make([]float32, len(p.W0))) != 0 {
		t.Errorf("a failed step changed the parameters or optimiser state")
	}
}

// benchSize is the paper size, or GRIDGPU_BENCH_SIZE="B,T,N,H" (to try the
// benchmarks quickly, e.g. on the CPU emulator).
func benchSize(b *testing.B) size {
	v := os.Getenv("GRIDGPU_BENCH_SIZE")
	if v == "" {
		return paperSize
	}
	var s size
	if _, err := fmt.Sscanf(v, "%d,%d,%d,%d", &s.B, &s.T, &s.N, &s.H); err != nil {
		b.Fatalf("GRIDGPU_BENCH_SIZE=%q: want B,T,N,H: %v", v, err)
	}
	return s
}

// BenchmarkStepPaper: median seconds per optimiser step (two microbatches,
// paper size, the paper's permutation augmentation: the distinct-velocity
// path) and device memory. With GRIDGPU_BENCH_JSON=FILE it also writes the
// numbers and a per-stage time breakdown there.
func BenchmarkStepPaper(b *testing.B) {
	benchmarkStep(b, data.AugmentPermute, "GRIDGPU_BENCH_JSON")
}

// BenchmarkStepPaperNone is BenchmarkStepPaper with augment none (every
// trajectory its own velocities: the P-row path), JSON to
// GRIDGPU_BENCH_NONE_JSON.
func BenchmarkStepPaperNone(b *testing.B) {
	benchmarkStep(b, data.AugmentNone, "GRIDGPU_BENCH_NONE_JSON")
}

func benchmarkStep(b *testing.B, augment, jsonEnv string) {
	s := benchSize(b)
	e := newTestEngine(b, s, graph.PaperLoss(), 1)
	// Device memory the engine took: free before its buffers (the context
	// and kernels already loaded) minus free after the steps.
	free0, total, _ := e.d.drv.memInfo()
	free0 += e.AllocatedBytes()
	sm, err := data.NewSampler(2, s.B, s.T, augment, 0.15)
	if err != nil {
		b.Fatal(err)
	}
	const pool = 8 // batches are drawn beforehand: the timing is the device's
	batches := make([][]*data.Batch, pool)
	for i := range batches {
		batches[i] = []*data.Batch{sm.Next(), sm.Next()}
	}
	for i := 0; i < 3; i++ { // warm-up: module JIT, first-touch
		if _, err := e.Step(batches[i%pool], 2e-5); err != nil {
			b.Fatal(err)
		}
	}
	var times []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := e.Step(batches[i%pool], 2e-5); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0).Seconds())
	}
	b.StopTimer()
	sort.Float64s(times)
	med := times[len(times)/2]
	free1, _, _ := e.d.drv.memInfo()
	b.ReportMetric(med, "s/step")
	b.ReportMetric(float64(e.AllocatedBytes())/(1<<30), "GiB-buffers")
	b.ReportMetric(float64(free0-free1)/(1<<30), "GiB-device")

	// Per-stage breakdown of one microbatch (synchronising after each stage).
	e.profile = map[string]time.Duration{}
	if err := e.d.run(func() error { return e.microbatch(batches[0][0], 0, true) }); err != nil {
		b.Fatal(err)
	}
	stages := map[string]float64{}
	for k, v := range e.profile {
		stages[k] = v.Seconds() * 1e3
	}
	e.profile = nil
	writeBenchJSON(b, jsonEnv, map[string]any{
		"device": e.Device(), "B": s.B, "T": s.T, "N": s.N, "H": s.H, "microbatches": 2,
		"augment": augment, "mlp_rows": e.lastU,
		"seconds_per_step": med, "step_times": times,
		"engine_buffer_bytes": e.AllocatedBytes(), "device_bytes_used_by_engine": free0 - free1,
		"device_total_bytes": total, "stage_ms_one_microbatch": stages,
	})
	b.Logf("augment %s (MLP on %d rows): median %.4f s/step over %d steps; buffers %.2f GiB; stages (ms, one microbatch): %v",
		augment, e.lastU, med, len(times), float64(e.AllocatedBytes())/(1<<30), stages)
}

// deviceTimes runs f on the device n times, synchronising after each, and
// returns the seconds each took, sorted.
func deviceTimes(b *testing.B, e *Engine, n int, f func() error) []float64 {
	ts := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		err := e.d.run(func() error {
			if err := f(); err != nil {
				return err
			}
			return e.d.drv.synchronize()
		})
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(t0).Seconds())
	}
	sort.Float64s(ts)
	return ts
}

// BenchmarkGEMMPaper times the three large products of a paper-size
// microbatch alone, as the engine runs them (gpu.gemm from GRIDGPU_GEMM),
// and reports each one's rate: on the P-row path (P x N^2 x H, as measured
// before the distinct-velocity path) and on the distinct-velocity path's
// U = T rows (U-*). GRIDGPU_GEMM_JSON=FILE writes the rates.
func BenchmarkGEMMPaper(b *testing.B) {
	e := gemmBenchEngine(b)
	res := benchGEMMFamily(b, e, gemmFamily{"engine", "gemm_", (*device).gemm})
	for k, v := range res {
		b.ReportMetric(v, "TFLOP/s-"+strings.Fields(k)[0])
	}
	writeBenchJSON(b, "GRIDGPU_GEMM_JSON", res)
}

// gemmBenchEngine is a paper-size engine (GRIDGPU_BENCH_SIZE) after one
// real step, so that the products run on real data (not on freshly
// allocated memory, which may be zeros), on the P-row path so that the
// buffers hold P rows.
func gemmBenchEngine(b *testing.B) *Engine {
	s := benchSize(b)
	e := newTestEngine(b, s, graph.PaperLoss(), 1)
	b.StopTimer()
	e.allRows = true
	if _, err := e.Step([]*data.Batch{sampler(b, s, 2).Next()}, 2e-5); err != nil {
		b.Fatal(err)
	}
	return e
}

// benchGEMMFamily times family f's three products at P and at U rows, the
// median of 12, and returns their rates in TFLOP/s by product name.
func benchGEMMFamily(b *testing.B, e *Engine, f gemmFamily) map[string]float64 {
	P, NN, H, U := e.P, e.NN, e.H, e.T
	type g struct {
		name, kind string
		rows       int
		run        func() error
	}
	// The three products at rows rows (P, or U on the distinct-velocity
	// path), under the names the output gives them.
	gemms := func(rows int, fwd, dW2, dh2 string) []g {
		return []g{
			{fwd, f.prefix + "nt", rows, func() error {
				return f.run(e.d, f.prefix+"nt", rows, NN, H, e.h2, H, e.tensor(tW2), H, e.Wf, NN, e.tensor(tB2), flagBias, e.ws, e.sms)
			}},
			{dW2, f.prefix + "tn", rows, func() error {
				return f.run(e.d, f.prefix+"tn", NN, H, rows, e.Wf, NN, e.h2, H, e.grad+4*ptrOff(e.off[tW2]), H, 0, flagAcc, e.ws, e.sms)
			}},
			{dh2, f.prefix + "nn", rows, func() error {
				return f.run(e.d, f.prefix+"nn", rows, H, NN, e.Wf, NN, e.tensor(tW2), H, e.dh2, H, 0, 0, e.ws, e.sms)
			}},
		}
	}
	gs := append(gemms(P, "forward W=h2 W2^T", "dW2=dWf^T h2", "dh2=dWf W2"),
		gemms(U, "U-forward W=h2 W2^T", "U-dW2=dW^T h2", "U-dh2=dW W2")...)
	res := map[string]float64{}
	for _, x := range gs {
		ts := deviceTimes(b, e, 12, x.run)
		tf := 2 * float64(x.rows) * float64(NN) * float64(H) / ts[len(ts)/2] / 1e12
		res[x.name] = tf
		b.Logf("%-8s %-20s %s: %.3f ms, %.1f TFLOP/s", f.name, x.name, x.kind, ts[len(ts)/2]*1e3, tf)
	}
	return res
}

// writeBenchJSON writes v as JSON to the file the environment variable env
// names, if any.
func writeBenchJSON(b *testing.B, env string, v any) {
	f := os.Getenv(env)
	if f == "" {
		return
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(f, js, 0o644)
	}
	if err != nil {
		b.Fatalf("%s: %v", env, err)
	}
}

// BenchmarkPairPaper times the pairwise stages of a paper-size microbatch
// (pair counts, coefficients, the Gram/coefficient/gradient pass and its
// reductions: everything named pair_*) and reports their rate over the
// 4 P^2 N FLOP of the Gram and gradient products. The path is the
// engine's: pair_tile, or pair_loss with GRIDGPU_PAIR=rowblock. With
// GRIDGPU_PAIR_JSON=FILE it writes the median and a per-stage breakdown.
func BenchmarkPairPaper(b *testing.B) {
	s := benchSize(b)
	e := newTestEngine(b, s, graph.PaperLoss(), 1)
	b.StopTimer()
	batch := sampler(b, s, 2).Next()
	// One real step first: the states G and the positions are real data.
	if _, err := e.Step([]*data.Batch{batch}, 2e-5); err != nil {
		b.Fatal(err)
	}
	var pair []stage
	for _, st := range e.stages(batch, 0, true) {
		if strings.HasPrefix(st.name, "pair") {
			pair = append(pair, st)
		}
	}
	ts := deviceTimes(b, e, 12, func() error {
		for _, st := range pair {
			if err := st.run(); err != nil {
				return err
			}
		}
		return nil
	})
	med := ts[len(ts)/2]
	// Per-stage times (synchronising after each).
	stages := map[string]float64{}
	err := e.d.run(func() error {
		for _, st := range pair {
			t0 := time.Now()
			if err := st.run(); err != nil {
				return err
			}
			if err := e.d.drv.synchronize(); err != nil {
				return err
			}
			stages[st.name] += time.Since(t0).Seconds() * 1e3
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	P, N := float64(e.P), float64(e.N)
	tf := 4 * P * P * N / med / 1e12
	b.ReportMetric(med*1e3, "ms/microbatch")
	b.ReportMetric(tf, "TFLOP/s")
	b.Logf("pairwise (%s): %.3f ms per microbatch, %.1f TFLOP/s; stages (ms): %v", e.Device(), med*1e3, tf, stages)
	writeBenchJSON(b, "GRIDGPU_PAIR_JSON", map[string]any{"device": e.Device(), "ms_per_microbatch": med * 1e3,
		"tflops": tf, "stage_ms": stages, "times_s": ts})
}

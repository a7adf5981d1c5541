package train

import (
	"math"
	"sync"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// fakeModel is a cheap deterministic stand-in for graph.Model, so the loop,
// checkpoints and resume can be tested independently of the graph. Its loss
// is s/2 * mean(p^2) summed over tensors, with s depending on the batch so
// that the sampler's state matters: a resume that restored the wrong sampler
// state would change every later loss.
type fakeModel struct {
	nanAt *int // if set, the Grad call with this index returns a NaN ci term
	// if set, the Grad call with this index returns a gradient with Inf in
	// mlp.4.weight (finite losses)
	infGradAt *int
	calls     int
	grow      bool // the gradient's sign flipped: training raises the loss
}

func batchScale(b *data.Batch) float64 {
	var s float64
	for _, v := range b.Vel {
		s += math.Abs(float64(v))
	}
	return 1 + s/float64(len(b.Vel))
}

func (f *fakeModel) Eval(p *graph.Params, b *data.Batch) (graph.Losses, error) {
	s := batchScale(b)
	var l graph.Losses
	for i, t := range p.Slices() {
		var ss float64
		for _, v := range t {
			ss += float64(v) * float64(v)
		}
		term := s / 2 * ss / float64(len(t))
		l.Term[i%int(graph.NumTerms)] += term
	}
	for _, v := range l.Term {
		l.Total += v
	}
	return l, nil
}

func (f *fakeModel) Grad(p *graph.Params, b *data.Batch) (graph.Losses, *graph.Params, error) {
	l, _ := f.Eval(p, b)
	if f.nanAt != nil && f.calls == *f.nanAt {
		l.Term[graph.CI] = math.NaN()
	}
	f.calls++
	s := batchScale(b)
	g := graph.ZeroParams(p.N, p.H)
	for i, t := range p.Slices() {
		gs := g.Slices()[i]
		for j, v := range t {
			gs[j] = float32(s * float64(v) / float64(len(t)))
			if f.grow {
				gs[j] = -gs[j]
			}
		}
	}
	if f.infGradAt != nil && f.calls-1 == *f.infGradAt {
		g.W2[5] = float32(math.Inf(-1))
	}
	return l, g, nil
}

var fakeMu sync.Mutex

// useFake makes the CPU engine use fake models for the rest of the test.
func useFake(t *testing.T, nanAt *int) {
	t.Helper()
	withFake(t, fakeModel{nanAt: nanAt})
}

// useGrowingFake is useFake with a fake whose loss grows as it trains.
func useGrowingFake(t *testing.T) {
	t.Helper()
	withFake(t, fakeModel{grow: true})
}

// withFake makes the CPU engine use a copy of f for each model it builds,
// for the rest of the test.
func withFake(t *testing.T, f fakeModel) {
	t.Helper()
	fakeMu.Lock()
	old := newGradModel
	newGradModel = func(EngineSpec) (gradModel, error) {
		m := f
		return &m, nil
	}
	t.Cleanup(func() {
		newGradModel = old
		fakeMu.Unlock()
	})
}

// requireRealModel fails the test when the graph model cannot be built: the
// tests that train the real model must not pass by skipping when it is broken.
func requireRealModel(t *testing.T) {
	t.Helper()
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("graph.NewModel: %v", err)
	}
}

// InitForTest returns seeded initial parameters.
func InitForTest(N, H int) *graph.Params { return graph.InitParams(N, H, 1) }

func testBatches(t *testing.T, n int) []*data.Batch {
	t.Helper()
	s, err := data.NewSampler(3, 3, 5, "permute", 0.15)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*data.Batch, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

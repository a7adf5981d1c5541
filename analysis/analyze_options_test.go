package analysis_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/internal/testopts"
	"github.com/gridgpu/gridgpu/graph"
)

// TestAnalyzeDeterministic checks that results do not depend on how the
// walks are split among workers, to the bit: the in-training evaluation's
// metrics must not change with the thread count.
func TestAnalyzeDeterministic(t *testing.T) {
	p := graph.InitParams(8, 16, 2)
	opt := testopts.Small()
	opt.Arenas = []float64{1}
	// Several chunks of walks, so that workers finish them out of order.
	opt.Trajectories, opt.Steps = 100, 40
	var first *analysis.Result
	for _, workers := range []int{1, 3, 2, 3} {
		opt.Workers = workers
		r, err := analysis.Analyze(context.Background(), p, opt)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = r
			continue
		}
		a, b := first.Arenas[0], r.Arenas[0]
		for i := range a.Ratemaps {
			x, y := a.Ratemaps[i], b.Ratemaps[i]
			if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
				t.Fatalf("ratemap value %d: %v with 1 worker, %v with %d", i, x, y, workers)
			}
		}
		if a.Coverage != b.Coverage {
			t.Errorf("coverage with 1 worker %+v, with %d %+v", a.Coverage, workers, b.Coverage)
		}
		for _, part := range []struct {
			name string
			a, b any
		}{{"scores", a.Scores, b.Scores}, {"Fourier lattices", a.Fourier, b.Fourier}, {"modules", a.Modules, b.Modules}} {
			if x, y := fmt.Sprintf("%+v", part.a), fmt.Sprintf("%+v", part.b); x != y {
				t.Errorf("%s with 1 worker:\n%s\nwith %d:\n%s", part.name, x, workers, y)
			}
		}
		da, db := a.Distance, b.Distance
		for i := range da.Pairs {
			if da.Pairs[i] != db.Pairs[i] {
				t.Fatalf("distance curve differs between worker counts")
			}
		}
	}
}

func TestAnalyzeRejectsBadOptions(t *testing.T) {
	p := graph.InitParams(4, 8, 1)
	for _, c := range []struct {
		mod  func(*analysis.Options)
		flag string
	}{
		{func(o *analysis.Options) { o.Arenas = nil }, "--arena"},
		{func(o *analysis.Options) { o.Arenas = []float64{0.1} }, "--arena"},
		{func(o *analysis.Options) { o.Arenas = []float64{1, 1} }, "--arena"},
		{func(o *analysis.Options) { o.BinsPerMetre = 0 }, "--bins"},
		{func(o *analysis.Options) { o.BinsPerMetre = 3 }, "--bins"},
		{func(o *analysis.Options) { o.Trajectories = 0 }, "--trajectories"},
		{func(o *analysis.Options) { o.Steps = -1 }, "--steps"},
		{func(o *analysis.Options) { o.Scorer = "sargolini" }, "--scorer"},
		{func(o *analysis.Options) { o.Walks = "long" }, "--walks"},
		{func(o *analysis.Options) { o.Walks = analysis.WalksTraining }, "--walks"}, // without SetWalks: standard dt
	} {
		o := testopts.Small()
		c.mod(&o)
		_, err := analysis.Analyze(context.Background(), p, o)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag) {
			t.Errorf("error %v, want one starting with %s", err, c.flag)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := analysis.Analyze(ctx, p, testopts.Small()); err == nil {
		t.Error("cancelled context: no error")
	}
}

package analysis_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/internal/testopts"
	"github.com/gridgpu/gridgpu/graph"
)

// TestAnalyzeDeterministic checks that results do not depend on how the
// walks are split among workers.
func TestAnalyzeDeterministic(t *testing.T) {
	p := graph.InitParams(8, 16, 2)
	opt := testopts.Small()
	opt.Arenas = []float64{1}
	opt.Workers = 1
	a, err := analysis.Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Workers = 3
	b, err := analysis.Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Arenas[0].Ratemaps {
		x, y := a.Arenas[0].Ratemaps[i], b.Arenas[0].Ratemaps[i]
		if !(x == y || math.IsNaN(x) && math.IsNaN(y)) && math.Abs(x-y) > 1e-9*math.Abs(x) {
			t.Fatalf("ratemap value %d: %g with 1 worker, %g with 3", i, x, y)
		}
	}
	da, db := a.Arenas[0].Distance, b.Arenas[0].Distance
	for i := range da.Pairs {
		if da.Pairs[i] != db.Pairs[i] {
			t.Fatalf("distance curve differs between worker counts")
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

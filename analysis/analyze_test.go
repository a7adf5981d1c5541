package analysis

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis/internal/testnet"
	"github.com/gridgpu/gridgpu/graph"
)

func smallOptions() Options {
	o := DefaultOptions()
	o.Arenas = []float64{1, 2}
	o.BinsPerMetre = 10
	o.Trajectories = 12
	o.Steps = 150
	o.DistanceSamples = 300
	return o
}

// TestAnalyzeDeterministic checks that results do not depend on how the
// walks are split among workers.
func TestAnalyzeDeterministic(t *testing.T) {
	p := graph.InitParams(8, 16, 2)
	opt := smallOptions()
	opt.Arenas = []float64{1}
	opt.Workers = 1
	a, err := Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Workers = 3
	b, err := Analyze(context.Background(), p, opt)
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
		mod  func(*Options)
		flag string
	}{
		{func(o *Options) { o.Arenas = nil }, "--arena"},
		{func(o *Options) { o.Arenas = []float64{0.1} }, "--arena"},
		{func(o *Options) { o.Arenas = []float64{1, 1} }, "--arena"},
		{func(o *Options) { o.BinsPerMetre = 0 }, "--bins"},
		{func(o *Options) { o.BinsPerMetre = 3 }, "--bins"},
		{func(o *Options) { o.Trajectories = 0 }, "--trajectories"},
		{func(o *Options) { o.Steps = -1 }, "--steps"},
		{func(o *Options) { o.Scorer = "sargolini" }, "--scorer"},
		{func(o *Options) { o.Walks = "long" }, "--walks"},
		{func(o *Options) { o.Walks = WalksTraining }, "--walks"}, // without SetWalks: standard dt
	} {
		o := smallOptions()
		c.mod(&o)
		_, err := Analyze(context.Background(), p, o)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag) {
			t.Errorf("error %v, want one starting with %s", err, c.flag)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, p, smallOptions()); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestAnalyzeFindsModules runs the whole protocol on a known answer: two
// grid modules (periods 0.3 and 0.42 m, ratio 1.4) plus untuned units, in
// every arena size.
func TestAnalyzeFindsModules(t *testing.T) {
	nGrid, grid := testnet.GridIntegrator([]float64{0.3, 0.42}, []float64{10, 25}, 8, 5)
	N := nGrid + 4
	states := func(vel []float32, B, T int) ([]float32, error) {
		g, err := grid(vel, B, T)
		if err != nil {
			return nil, err
		}
		out := make([]float32, B*T*N)
		for i := 0; i < B*T; i++ {
			copy(out[i*N:], g[i*nGrid:(i+1)*nGrid])
			for j := nGrid; j < N; j++ {
				out[i*N+j] = float32(j) // constant units: undefined scores
			}
		}
		return out, nil
	}
	opt := DefaultOptions()
	opt.Arenas = []float64{1, 2, 4}
	opt.Trajectories = 60
	opt.Steps = 500
	res, err := AnalyzeStates(context.Background(), N, states, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, ar := range res.Arenas {
		mods := ar.Modules.Modules
		if len(mods) != 2 {
			t.Errorf("arena %g m: %d modules %+v, want 2", ar.Side, len(mods), mods)
			continue
		}
		for i, want := range []float64{0.3, 0.42} {
			if math.Abs(mods[i].Period-want) > 0.05*want {
				t.Errorf("arena %g m: module %d period %.3f m, want %.3f", ar.Side, i, mods[i].Period, want)
			}
			if d := angleDist60(mods[i].Orientation, []float64{10, 25}[i]); d > 3 {
				t.Errorf("arena %g m: module %d orientation %.1f", ar.Side, i, mods[i].Orientation)
			}
			if len(mods[i].Units) != 8 {
				t.Errorf("arena %g m: module %d has %d units, want 8", ar.Side, i, len(mods[i].Units))
			}
		}
		for u := nGrid; u < N; u++ {
			if !math.IsNaN(ar.Scores[u].Score60) {
				t.Errorf("arena %g m: constant unit %d has score60 %g", ar.Side, u, ar.Scores[u].Score60)
			}
		}
		// A path integrator's neural distance grows with spatial distance
		// at first: the curve must rise over the first bins.
		d := ar.Distance
		if !(float64(d.Mean[0]) < float64(d.Mean[2])) {
			t.Errorf("arena %g m: distance curve does not rise: %v", ar.Side, d.Mean[:4])
		}
	}
}

package analysis

import (
	"context"
	"math"
	"testing"

	"github.com/gridgpu/gridgpu/analysis/internal/testnet"
)

// TestAnalyzeFindsModules runs the whole protocol on a known answer: two
// grid modules (periods 0.3 and 0.42 m, ratio 1.4) plus untuned units, in
// every arena size.
func TestAnalyzeFindsModules(t *testing.T) {
	N, states := testnet.TorusWithConstantUnits(4)
	nGrid := N - 4
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

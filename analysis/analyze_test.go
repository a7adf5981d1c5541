package analysis

import (
	"context"
	"math"
	"testing"

	"github.com/gridgpu/gridgpu/analysis/internal/testnet"
)

// knownAnswerOptions analyse a hand-made network (package testnet) in
// three arenas, with fewer walks than the default: enough for its clean
// lattices.
func knownAnswerOptions() Options {
	opt := DefaultOptions()
	opt.Arenas = []float64{1, 2, 4}
	opt.Trajectories = 60
	opt.Steps = 500
	return opt
}

// TestAnalyzeFindsModules runs the whole protocol on a known answer: two
// grid modules (periods 0.3 and 0.42 m, ratio 1.4) plus untuned units, in
// every arena size.
func TestAnalyzeFindsModules(t *testing.T) {
	N, states := testnet.TorusWithConstantUnits(4)
	nGrid := N - 4
	opt := knownAnswerOptions()
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

// TestAnalyzeFourierStateSpace runs the protocol on a hand-made path
// integrator with two modules and silent units, from uniform starts: both
// module methods find and agree on the modules, the silent units are
// counted, and each module's state space is a torus. (The report of this
// result is tested in package analysis/report.)
func TestAnalyzeFourierStateSpace(t *testing.T) {
	N, states := testnet.TorusIntegrator(3)
	opt := knownAnswerOptions()
	opt.Start = StartUniform
	res, err := AnalyzeStates(context.Background(), N, states, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, ar := range res.Arenas {
		if len(ar.Silent) != 3 || ar.Silent[0] != 16 {
			t.Errorf("arena %g m: silent units %v, want 16 17 18", ar.Side, ar.Silent)
		}
		if ar.Coverage.Samples != 60*500 {
			t.Errorf("arena %g m: %d samples binned, want %d (the burn-in is not binned)", ar.Side, ar.Coverage.Samples, 60*500)
		}
		if ar.Side == 1 {
			continue // 1 m holds only 2-3 periods: too few for the Fourier peaks to part
		}
		fm := ar.FourierModules.Modules
		if len(fm) != 2 {
			t.Errorf("arena %g m: %d Fourier modules %+v, want 2", ar.Side, len(fm), fm)
			continue
		}
		for i, want := range []float64{0.3, 0.42} {
			if math.Abs(fm[i].Period-want) > 0.05*want || len(fm[i].Units) != 8 {
				t.Errorf("arena %g m: Fourier module %d: period %.3f m, %d units; want %.2f m, 8", ar.Side, i, fm[i].Period, len(fm[i].Units), want)
			}
		}
		if !ar.Comparison.Agree {
			t.Errorf("arena %g m: methods disagree: %s", ar.Side, ar.Comparison.Note)
		}
	}
	if len(res.StateSpaces) != 2 {
		t.Fatalf("%d state spaces, want 2", len(res.StateSpaces))
	}
	for _, ss := range res.StateSpaces {
		t.Logf("state space: %s module %d, %g m arena: continuity %.3f, phase spread %.2f, PCA %.2f", ss.Method, ss.Module, ss.Arena, ss.Continuity, ss.PhaseSpread, ss.PCAVariance)
		if ss.Method != "fourier" || ss.Continuity > 0.2 {
			t.Errorf("module %d: method %s, continuity %.3f; want fourier, < 0.2", ss.Module, ss.Method, ss.Continuity)
		}
	}
}

package analysis

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// torusIntegrator is gridIntegrator's two modules (0.3 and 0.42 m, 8 units
// each) plus silent units.
func torusIntegrator(silent int) (int, StatesFunc) {
	nGrid, grid := gridIntegrator([]float64{0.3, 0.42}, []float64{10, 25}, 8, 5)
	N := nGrid + silent
	return N, func(vel []float32, B, T int) ([]float32, error) {
		g, err := grid(vel, B, T)
		if err != nil {
			return nil, err
		}
		out := make([]float32, B*T*N)
		for i := 0; i < B*T; i++ {
			copy(out[i*N:], g[i*nGrid:(i+1)*nGrid])
		}
		return out, nil
	}
}

// TestAnalyzeFourierStateSpace runs the protocol on a hand-made path
// integrator with two modules and silent units, from uniform starts: both
// module methods find and agree on the modules, the silent units are
// counted, and each module's state space is a torus. With
// GRIDGPU_TEST_REPORT=DIR the report is written to DIR for a look.
func TestAnalyzeFourierStateSpace(t *testing.T) {
	N, states := torusIntegrator(3)
	opt := DefaultOptions()
	opt.Arenas = []float64{1, 2, 4}
	opt.Trajectories = 60
	opt.Steps = 500
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
	dir := os.Getenv("GRIDGPU_TEST_REPORT")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "report")
	}
	if err := WriteReport(dir, res, ReportInfo{Checkpoint: "hand-made torus"}, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Settings struct {
			Start  string `json:"start"`
			BurnIn int    `json:"burn_in_steps"`
		} `json:"settings"`
		Arenas []struct {
			Silent  int `json:"silent"`
			Fourier []struct {
				Kind    string `json:"kind"`
				Spacing *Num   `json:"spacing"`
			} `json:"fourier"`
			Comparison ModuleComparison `json:"module_comparison"`
		} `json:"arenas"`
		StateSpaces []struct {
			Figure string `json:"figure"`
		} `json:"state_spaces"`
		Generalisation string `json:"generalisation_figure"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Settings.Start != "uniform" || sum.Settings.BurnIn != 20 || len(sum.Arenas) != 3 || sum.Arenas[1].Silent != 3 ||
		sum.Arenas[1].Fourier[16].Kind != LatticeSilent || sum.Arenas[1].Fourier[16].Spacing != nil || len(sum.StateSpaces) != 2 {
		t.Errorf("summary.json: %s", b[:min(len(b), 600)])
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	for _, f := range []string{sum.Generalisation, sum.StateSpaces[0].Figure, "fourier_2m.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil || !strings.Contains(string(html), `src="`+f+`"`) {
			t.Errorf("figure %s: %v, or not in index.html", f, err)
		}
	}
}

package report

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/internal/testnet"
	"github.com/gridgpu/gridgpu/analysis/internal/testopts"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testutil"
)

func TestAnalyzeEndToEnd(t *testing.T) {
	p := graph.InitParams(16, 32, 1)
	opt := testopts.Small()
	var events int
	opt.Progress = func(analysis.ProgressEvent) { events++ }
	res, err := analysis.Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if events == 0 {
		t.Error("no progress events")
	}
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, res, ReportInfo{Checkpoint: "init", Metadata: map[string]string{"step": "0"}}, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"summary.json", "ratemaps.npz", "index.html", "distance.png", "coverage.png"}
	for _, tag := range []string{"1m", "2m"} {
		for _, f := range []string{"ratemaps_", "sacs_", "histograms_", "modules_"} {
			want = append(want, f+tag+".png")
		}
	}
	for _, f := range want {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".png") {
			fh, _ := os.Open(filepath.Join(out, f))
			img, err := png.Decode(fh)
			fh.Close()
			if err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("%s: not a sensible PNG: %v", f, err)
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("staging directory left behind: %d entries beside the report", len(ents))
	}
	var sum analysis.Summary
	testutil.ReadJSON(t, filepath.Join(out, "summary.json"), &sum)
	if len(sum.Arenas) != 2 || len(sum.Arenas[0].Units) != 16 || sum.Arenas[1].Bins != 20 {
		t.Fatalf("summary.json: %d arenas, %d units, %d bins", len(sum.Arenas), len(sum.Arenas[0].Units), sum.Arenas[1].Bins)
	}
	for _, a := range sum.Arenas {
		if a.Coverage.OutsideSamples != 0 || a.Coverage.Samples != 12*150 {
			t.Errorf("arena %g: coverage %+v", a.Side, a.Coverage)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, f := range want {
		if strings.HasSuffix(f, ".png") && !strings.Contains(string(html), `src="`+f+`"`) {
			t.Errorf("index.html does not show %s", f)
		}
	}
	arrs, err := data.ReadNPZ(filepath.Join(out, "ratemaps.npz"))
	if err != nil {
		t.Fatal(err)
	}
	rm := arrs["ratemaps_2m"]
	if len(rm.Shape) != 3 || rm.Shape[0] != 16 || rm.Shape[1] != 20 || rm.Shape[2] != 20 {
		t.Errorf("ratemaps_2m shape %v", rm.Shape)
	}
	if bs := arrs["bin_size"]; len(bs.F64) != 1 || math.Abs(bs.F64[0]-0.1) > 1e-12 {
		t.Errorf("bin_size = %+v, want 0.1", bs)
	}

	// A second report into the same, now non-empty, directory needs
	// overwrite, and with it replaces the files.
	if err := WriteReport(out, res, ReportInfo{}, false); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("writing into a non-empty directory: %v, want an error suggesting --overwrite", err)
	}
	if err := WriteReport(out, res, ReportInfo{}, true); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("staging directory left behind after overwrite")
	}
}

// TestAnalyzeSmokeTiming runs the default protocol (four arenas) on the
// smoke-size model and reports the time; it fails above the 60 s budget.
func TestAnalyzeSmokeTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if os.Getenv("GRIDGPU_SMOKE") == "" {
		t.Skip("set GRIDGPU_SMOKE=1 to time the full default analysis")
	}
	p := graph.InitParams(32, 64, 1)
	start := time.Now()
	res, err := analysis.Analyze(context.Background(), p, analysis.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mid := time.Since(start)
	out := filepath.Join(t.TempDir(), "smoke")
	if os.Getenv("GRIDGPU_SMOKE_OUT") != "" {
		out = os.Getenv("GRIDGPU_SMOKE_OUT")
	}
	if err := WriteReport(out, res, ReportInfo{}, true); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	t.Logf("analysis %.1f s, report %.1f s, total %.1f s", mid.Seconds(), (total - mid).Seconds(), total.Seconds())
	if total > 60*time.Second {
		t.Errorf("took %v, budget 60 s", total)
	}
}

// TestReportFourierStateSpace reports TestAnalyzeFourierStateSpace's
// result (package analysis: a hand-made path integrator with two modules
// and silent units, from uniform starts): summary.json records the starts,
// the silent units and their Fourier kind, and the state spaces, and
// index.html shows the generalisation, state-space and Fourier figures.
// With GRIDGPU_TEST_REPORT=DIR the report is written to DIR for a look.
func TestReportFourierStateSpace(t *testing.T) {
	N, states := testnet.TorusIntegrator(3)
	opt := analysis.DefaultOptions()
	opt.Arenas = []float64{1, 2, 4}
	opt.Trajectories = 60
	opt.Steps = 500
	opt.Start = analysis.StartUniform
	res, err := analysis.AnalyzeStates(context.Background(), N, states, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.StateSpaces) != 2 {
		t.Fatalf("%d state spaces, want 2", len(res.StateSpaces))
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
				Kind    string        `json:"kind"`
				Spacing *analysis.Num `json:"spacing"`
			} `json:"fourier"`
			Comparison analysis.ModuleComparison `json:"module_comparison"`
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
		sum.Arenas[1].Fourier[16].Kind != analysis.LatticeSilent || sum.Arenas[1].Fourier[16].Spacing != nil || len(sum.StateSpaces) != 2 {
		t.Errorf("summary.json: %s", b[:min(len(b), 600)])
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	for _, f := range []string{sum.Generalisation, sum.StateSpaces[0].Figure, "fourier_2m.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil || !strings.Contains(string(html), `src="`+f+`"`) {
			t.Errorf("figure %s: %v, or not in index.html", f, err)
		}
	}
}

package report

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/internal/testopts"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// termShapes are synthetic loss terms at line i of a run (f: the fraction
// of the run done), shaped like the trainer's: a noisy slow fall, a decay, a
// negative one and one spanning decades with a zero at line 3 (on a log
// axis). graph.TermSpecs's terms take them in turn.
var termShapes = []func(i int, f float64) float64{
	func(i int, f float64) float64 { return 0.5 - 0.3*f + 0.02*math.Sin(float64(i)) },
	func(i int, f float64) float64 { return 0.4 * math.Exp(-4*f) },
	func(i int, f float64) float64 { return -0.9 + 0.3*f },
	func(i int, f float64) float64 {
		if i == 3 {
			return 0
		}
		return 300 * math.Exp(-8*f)
	},
}

// testWeight is term t's weight in runConfig: distinct for every term, so
// that a dropped or misordered weight shows.
func testWeight(t int) float64 {
	w := []float64{1, 0.1, 0.5, 0.01}
	return w[t%len(w)] * float64(1+t/len(w))
}

// runConfig is a run's config.yaml with the weights of the first terms of
// graph.TermSpecs (a run that predates the others lacks their keys).
func runConfig(terms int) string {
	s := "model:\n  units: 8\nloss:\n  sigma_x: 0.05\n"
	for t, spec := range graph.TermSpecs[:terms] {
		s += fmt.Sprintf("  %s: %g\n", spec.WeightKey, testWeight(t))
	}
	return s + "run:\n  steps: 100\n"
}

// testRunConfig has every weight.
var testRunConfig = runConfig(int(graph.NumTerms))

// syntheticMetrics writes n metrics.jsonl lines shaped like the trainer's:
// the first terms of graph.TermSpecs (termShapes) and their sum weighted by
// testWeight, an lr schedule, dead_units null on every seventh line, eval
// keys every evalEvery steps (0: none), and a malformed line after the
// first third when bad.
func syntheticMetrics(n, evalEvery int, bad bool, terms int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		step := 10 * i
		f := float64(i) / float64(n)
		m := map[string]any{
			"step": step, "zero_frac": 0, "lr": 0.003 / float64(1+i/(n/3+1)),
			"grad_norm": 10*math.Exp(-5*f) + 0.1, "steps_per_sec": 100, "elapsed": float64(i),
			"dead_units": i / 10,
		}
		if i%7 == 0 {
			m["dead_units"] = nil
		}
		loss := 0.0
		for t, spec := range graph.TermSpecs[:terms] {
			v := termShapes[t%len(termShapes)](i, f)
			m[spec.Key] = v
			loss += testWeight(t) * v
		}
		m["loss"] = loss
		if evalEvery > 0 && step%evalEvery == 0 {
			m["eval_grid_units"] = int(10 * f)
			m["eval_grid_frac"] = f * 10 / 32
			m["eval_square_units"] = 2
			m["eval_score60_max"] = 0.2 + 0.6*f
			m["eval_score60_p90"] = 0.1 + 0.3*f
			m["eval_grid_threshold"] = 0.3
			m["eval_dead_units"] = i / 10
			m["eval_modules"] = int(2 * f)
			m["eval_periods"] = []float64{}
			m["eval_arena"] = 2
			m["eval_walks"] = "both"
			m["eval_std_grid_units"] = int(12 * f)
			m["eval_trn_grid_units"] = int(11 * f)
			m["eval_trn_square_units"] = 1
			if i == evalEvery/10 {
				m["eval_score60_max"] = nil // an undefined score
			}
		}
		line, _ := json.Marshal(m)
		b.Write(line)
		b.WriteByte('\n')
		if bad && i == n/3 {
			b.WriteString(`{"step": 55, "loss": ` + "\n") // truncated
		}
	}
	return b.String()
}

func TestReportTrainingCurves(t *testing.T) {
	p := graph.InitParams(8, 16, 2)
	opt := testopts.Small()
	opt.Arenas, opt.Trajectories, opt.Steps, opt.DistanceSamples = []float64{1}, 4, 60, 100
	res, err := analysis.Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	all := int(graph.NumTerms)
	for _, c := range []struct {
		name      string
		metrics   *string // nil: no metrics.jsonl
		config    string  // "" : no config.yaml
		predates  bool    // the run predates the last term: no weight for it
		figures   []string
		lines     int
		malformed int
		lastStep  int64
		note      string // in index.html when there are no figures
	}{
		{name: "full", metrics: ptr(syntheticMetrics(200, 500, true, all)), config: testRunConfig,
			figures: []string{"curves_losses.png", "curves_optim.png", "curves_eval.png"}, lines: 200, malformed: 1, lastStep: 2000},
		{name: "short, no eval, no config", metrics: ptr(syntheticMetrics(12, 0, false, all)),
			figures: []string{"curves_losses.png", "curves_optim.png"}, lines: 12, lastStep: 120},
		{name: "one line", metrics: ptr(syntheticMetrics(1, 0, false, all)), config: testRunConfig,
			figures: []string{"curves_losses.png", "curves_optim.png"}, lines: 1, lastStep: 10},
		{name: "predates the last term", metrics: ptr(syntheticMetrics(12, 0, false, all-1)), config: runConfig(all - 1), predates: true,
			figures: []string{"curves_losses.png", "curves_optim.png"}, lines: 12, lastStep: 120},
		{name: "missing", note: "no metrics.jsonl in"},
		{name: "empty", metrics: ptr(""), note: "has no usable lines"},
		{name: "only malformed", metrics: ptr("not json\n{\"loss\": 1}\n[1,2]\n"), malformed: 3, note: "has no usable lines (3 malformed)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			run := filepath.Join(dir, "run")
			if err := os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755); err != nil {
				t.Fatal(err)
			}
			if c.metrics != nil {
				os.WriteFile(filepath.Join(run, rundir.MetricsFile), []byte(*c.metrics), 0o644)
			}
			if c.config != "" {
				os.WriteFile(filepath.Join(run, rundir.ConfigFile), []byte(c.config), 0o644)
			}
			ck := filepath.Join(run, "checkpoints", "step-00000100.safetensors")
			if got := rundir.Find(ck, ck); got != run {
				t.Fatalf("rundir.Find(%s) = %q, want %q", ck, got, run)
			}
			out := filepath.Join(dir, "report")
			info := ReportInfo{Checkpoint: ck, Metadata: map[string]string{"step": "100"}, Training: analysis.ReadTrainingCurves(run)}
			if err := WriteReport(out, res, info, false); err != nil {
				t.Fatal(err)
			}
			html, err := os.ReadFile(filepath.Join(out, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			page := string(html)
			var sum struct {
				Training *analysis.TrainingSummary `json:"training"`
			}
			b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
			if err := json.Unmarshal(b, &sum); err != nil || sum.Training == nil {
				t.Fatalf("summary.json: no training object (%v)", err)
			}
			ts := sum.Training
			if ts.RunDir != run || len(ts.Figures) != len(c.figures) || ts.MetricsLines != c.lines || ts.Malformed != c.malformed || ts.LastStep != c.lastStep {
				t.Errorf("summary training: %+v", ts)
			}
			for i, f := range c.figures {
				if i < len(ts.Figures) && ts.Figures[i] != f {
					t.Errorf("figure %d: %s, want %s", i, ts.Figures[i], f)
				}
				fh, err := os.Open(filepath.Join(out, f))
				if err != nil {
					t.Errorf("missing %s", f)
					continue
				}
				img, err := png.Decode(fh)
				fh.Close()
				if err != nil || img.Bounds().Dx() < 800 {
					t.Errorf("%s: not a readable PNG (%v)", f, err)
				}
				if !strings.Contains(page, `src="`+f+`"`) {
					t.Errorf("index.html does not show %s", f)
				}
			}
			arena := strings.Index(page, `<h2 id="arena-`)
			train := strings.Index(page, `<h2 id="training">`)
			if len(c.figures) > 0 {
				if train < 0 || arena < 0 || train > arena {
					t.Errorf("training section at %d, first arena section at %d", train, arena)
				}
				if (c.config != "") != (ts.Weights != nil) {
					t.Errorf("loss weights %+v with config %q", ts.Weights, c.config)
				}
				checkLossPanels(t, info.Training)
				if c.config != "" && ts.Weights != nil {
					for term, spec := range graph.TermSpecs {
						want := testWeight(term)
						if c.predates && term == all-1 {
							want = 0
						}
						if ts.Weights[term] != want {
							t.Errorf("loss weight %s = %g, want %g (weights %+v)", spec.WeightKey, ts.Weights[term], want, ts.Weights)
						}
					}
				}
				if note := "lacks loss." + graph.TermSpecs[all-1].WeightKey + ": the run predates"; c.predates != strings.Contains(ts.WeightsNote, note) || c.predates != strings.Contains(page, note) {
					t.Errorf("note %q and index.html: want %q there: %t", ts.WeightsNote, note, c.predates)
				}
			} else {
				if train >= 0 {
					t.Error("a training section without curves")
				}
				if !strings.Contains(page, c.note) || !strings.Contains(ts.Note, c.note) {
					t.Errorf("report does not say %q; note %q", c.note, ts.Note)
				}
				if m, _ := filepath.Glob(filepath.Join(out, "curves_*")); len(m) > 0 {
					t.Errorf("figures without curves: %v", m)
				}
			}
			if m, _ := filepath.Glob(filepath.Join(dir, ".report.partial-*")); len(m) > 0 {
				t.Errorf("staging directory left: %v", m)
			}
		})
	}
	// A checkpoint outside any run: no training object at all.
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, res, ReportInfo{}, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "summary.json")); strings.Contains(string(b), `"training"`) {
		t.Error("summary.json has a training object without a run")
	}
}

func ptr(s string) *string { return &s }

// checkLossPanels checks the loss figure's panels against graph.TermSpecs:
// the t-th draws term t's values (negated or not), and with weights the
// last draws every term, weighted, in order.
func checkLossPanels(t *testing.T, c *analysis.TrainingCurves) {
	t.Helper()
	panels := lossPanels(c)
	n := int(graph.NumTerms)
	if want := n + 1 + btoi(c.Weights != nil); len(panels) != want {
		t.Fatalf("%d loss panels, want %d", len(panels), want)
	}
	same := func(a, b plotter.XYs, abs bool) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			ya, yb := a[i].Y, b[i].Y
			if abs {
				ya, yb = math.Abs(ya), math.Abs(yb)
			}
			if a[i].X != b[i].X || ya != yb {
				return false
			}
		}
		return true
	}
	for term, spec := range graph.TermSpecs {
		raw := series(c, spec.Key, nil)
		if l := panels[term].lines[0]; !strings.HasPrefix(l.label, spec.Key) || !same(l.xy, raw, true) {
			t.Errorf("loss panel %d (%s): line %q (%d points) is not %s's %d values", term, panels[term].title, l.label, len(l.xy), spec.Key, len(raw))
		}
		if c.Weights != nil {
			if l := panels[n+1].lines[term]; l.label != spec.Key || !same(l.xy, scale(raw, c.Weights[term]), false) {
				t.Errorf("weighted terms: line %d %q (%d points) is not %s's %d values weighted %g", term, l.label, len(l.xy), spec.Key, len(raw), c.Weights[term])
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// series skips the points without the key and the values f drops.
func TestSeries(t *testing.T) {
	c := &analysis.TrainingCurves{Points: []map[string]float64{
		{"step": 1, "loss": 2, "lr": 0.01},
		{"step": 2, "loss": 1.5, "dead_units": 3, "lr": 0},
		{"step": 3, "loss": 1.2},
	}}
	if got := series(c, "dead_units", nil); len(got) != 1 || got[0].X != 2 || got[0].Y != 3 {
		t.Errorf("dead_units series %v", got)
	}
	if got := series(c, "lr", positive); len(got) != 1 || got[0].X != 1 || got[0].Y != 0.01 {
		t.Errorf("positive lr series %v", got)
	}
	if got := series(c, "loss", nil); len(got) != 3 || got[2].X != 3 || got[2].Y != 1.2 {
		t.Errorf("loss series %v", got)
	}
}

func TestLogTicks(t *testing.T) {
	for _, r := range [][2]float64{{1e-7, 1e-2}, {0.002, 0.004}, {0.0009, 0.0031}, {0.05, 300}, {1e-9, 1e3}} {
		labelled := 0
		for _, tk := range (logTicks{}).Ticks(r[0], r[1]) {
			if tk.Value < r[0] || tk.Value > r[1] {
				t.Errorf("%v: tick %g outside", r, tk.Value)
			}
			if tk.Label != "" {
				labelled++
			}
		}
		if labelled < 1 || labelled > 8 {
			t.Errorf("%v: %d labelled ticks", r, labelled)
		}
	}
}

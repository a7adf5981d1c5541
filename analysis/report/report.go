package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/data"
)

// arenaTag names an arena in file and array names: "2m", "1.5m".
func arenaTag(L float64) string { return strconv.FormatFloat(L, 'f', -1, 64) + "m" }

// ReportInfo is what the report records about where the model came from.
type ReportInfo struct {
	Checkpoint string
	Metadata   map[string]string
	Progress   func(string) // called before each file is made; may be nil
	// Training holds the run's metrics.jsonl (see
	// analysis.ReadTrainingCurves); nil when the checkpoint is not in a run
	// directory.
	Training *analysis.TrainingCurves
}

// WriteReport writes summary.json, ratemaps.npz, the PNG figures and
// index.html for res into dir, published whole (see publish): everything
// is written into a hidden staging directory beside dir, which then takes
// dir's place in one rename, so that a reader sees the old report or the
// new one, never a mix, and no file of the old report stays. A failure
// removes the staging directory and leaves dir as it was. An existing dir
// must be empty, or with overwrite hold a report (CheckOutDir); a dir that
// is a symbolic link is followed.
func WriteReport(dir string, res *analysis.Result, info ReportInfo, overwrite bool) (err error) {
	if err := CheckOutDir(dir, overwrite); err != nil {
		return err
	}
	target, err := reportTarget(dir)
	if err != nil {
		return err
	}
	RemoveStalePartials(dir, data.ProcessStart)
	stage, lock, err := newStage(dir, target)
	if err != nil {
		return err
	}
	defer lock.Release()
	defer func() {
		if err != nil {
			os.RemoveAll(stage)
		}
	}()
	write := func(name string, b []byte) error {
		if info.Progress != nil {
			info.Progress(name)
		}
		return writeSynced(filepath.Join(stage, name), b)
	}
	writeFig := func(name string, f func() ([]byte, error)) error {
		if info.Progress != nil {
			info.Progress(name)
		}
		b, err := f()
		if err != nil {
			return fmt.Errorf("figure %s: %w", name, err)
		}
		return writeSynced(filepath.Join(stage, name), b)
	}

	sum := buildSummary(res, info)
	if info.Progress != nil {
		info.Progress("ratemaps.npz")
	}
	if err := data.WriteNPZ(filepath.Join(stage, "ratemaps.npz"), ratemapArrays(res)); err != nil {
		return err
	}
	for _, f := range reportFigures(res, info, &sum) {
		if err := writeFig(f.file, f.draw); err != nil {
			return err
		}
	}
	html, err := indexHTML(&sum)
	if err != nil {
		return err
	}
	if err := write("index.html", html); err != nil {
		return err
	}
	js, err := json.MarshalIndent(&sum, "", "  ")
	if err != nil {
		return err
	}
	if err := write("summary.json", append(js, '\n')); err != nil {
		return err
	}
	return publish(dir, stage, target)
}

// ratemapArrays is ratemaps.npz: every arena's maps, plus the first
// arena's under the plain names the gridscore command reads by default.
func ratemapArrays(res *analysis.Result) []data.Array {
	var arrays []data.Array
	for i := range res.Arenas {
		ar := &res.Arenas[i]
		nb := ar.Bins.NB
		tag := arenaTag(ar.Side)
		rm := make([]float32, len(ar.Ratemaps))
		for k, v := range ar.Ratemaps {
			rm[k] = float32(v)
		}
		vis := make([]float64, len(ar.Visits))
		for k, v := range ar.Visits {
			vis[k] = float64(v)
		}
		if i == 0 {
			arrays = append(arrays,
				data.Array{Name: "ratemaps", Shape: []int{res.N, nb, nb}, F32: rm},
				data.Array{Name: "bin_size", Shape: []int{}, F64: []float64{ar.Bins.BinSize()}})
		}
		arrays = append(arrays,
			data.Array{Name: "ratemaps_" + tag, Shape: []int{res.N, nb, nb}, F32: rm},
			data.Array{Name: "bin_size_" + tag, Shape: []int{}, F64: []float64{ar.Bins.BinSize()}},
			data.Array{Name: "visits_" + tag, Shape: []int{nb, nb}, F64: vis})
	}
	return arrays
}

// reportFigures lists a report's figures in the order they are written:
// each arena's, generalisation across arenas, state spaces, training (which
// also fills sum.Training), distances and coverage.
func reportFigures(res *analysis.Result, info ReportInfo, sum *analysis.Summary) []figure {
	var figs []figure
	add := func(file string, draw func() ([]byte, error)) { figs = append(figs, figure{file: file, draw: draw}) }
	minScore := res.Options.Modules.MinScore
	for i := range res.Arenas {
		ar := &res.Arenas[i]
		f := sum.Arenas[i].Figures
		add(f.Ratemaps, func() ([]byte, error) { return ratemapPanel(ar) })
		add(f.SACs, func() ([]byte, error) { return sacPanel(ar) })
		add(f.Histograms, func() ([]byte, error) { return histogramsPNG(ar, minScore) })
		add(f.Modules, func() ([]byte, error) { return modulesPNG(ar, minScore) })
		add(f.Fourier, func() ([]byte, error) { return fourierPNG(ar) })
	}
	add(sum.Generalisation, func() ([]byte, error) { return arenasPNG(res) })
	for i := range res.StateSpaces {
		ss := &res.StateSpaces[i]
		add(sum.StateSpaces[i].Figure, func() ([]byte, error) { return stateSpacePNG(ss) })
	}
	if info.Training != nil {
		mark := -1.0
		if st, err := strconv.ParseInt(info.Metadata["step"], 10, 64); err == nil && st >= 0 {
			mark = float64(st)
		}
		ts, training := trainingFigures(info.Training, mark, res.N)
		figs = append(figs, training...)
		sum.Training = ts
	}
	add("distance.png", func() ([]byte, error) { return distancePNG(res) })
	add("coverage.png", func() ([]byte, error) { return coveragePNG(res) })
	return figs
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func buildSummary(res *analysis.Result, info ReportInfo) analysis.Summary {
	var s analysis.Summary
	s.Model.N, s.Model.H = res.N, res.H
	s.Model.Checkpoint, s.Model.Metadata = info.Checkpoint, info.Metadata
	o := res.Options
	walks := o.Walks
	if walks == "" {
		walks = analysis.WalksStandard
	}
	scorer, _ := analysis.CheckScorer(o.Scorer)
	start, burn := o.Start, 0
	if start == "" {
		start = analysis.StartOrigin
	}
	if start == analysis.StartUniform {
		burn = o.BurnIn
	}
	s.Settings = analysis.SummarySettings{Arenas: o.Arenas, BinsPerMetre: o.BinsPerMetre, Trajectories: o.Trajectories, Steps: o.Steps,
		Seed: o.Seed, Walks: walks, Motion: o.Motion, Start: start, BurnIn: burn, Scorer: scorer, GridThreshold: o.Modules.MinScore, Modules: o.Modules,
		Fourier: o.Fourier, StateSpace: o.StateSpace,
		DistanceSamples: o.DistanceSamples, BaninoRings: analysis.BaninoRings, MaskOuterRadii: analysis.DefaultOuterRadii}
	s.Generalisation = "arenas.png"
	s.StateSpaces = []analysis.StateSpace{}
	for _, ss := range res.StateSpaces {
		ss.Figure = fmt.Sprintf("statespace_%s_%s_module%d.png", ss.Method, arenaTag(ss.Arena), ss.Module)
		s.StateSpaces = append(s.StateSpaces, ss)
	}
	s.Seconds = res.Seconds
	for i := range res.Arenas {
		ar := &res.Arenas[i]
		tag := arenaTag(ar.Side)
		a := analysis.ArenaSummary{Side: ar.Side, Bins: ar.Bins.NB, BinSize: ar.Bins.BinSize(), Coverage: ar.Coverage,
			Modules: ar.Modules, Distance: ar.Distance, Seconds: ar.Seconds,
			SilentUnits: append([]int{}, ar.Silent...), SilentCount: len(ar.Silent),
			Fourier: ar.Fourier, LatticeCounts: latticeCounts(ar.Fourier), FourierModules: ar.FourierModules, ModuleComparison: ar.Comparison,
			Figures: analysis.ArenaFigures{Ratemaps: "ratemaps_" + tag + ".png", SACs: "sacs_" + tag + ".png",
				Histograms: "histograms_" + tag + ".png", Modules: "modules_" + tag + ".png", Fourier: "fourier_" + tag + ".png"}}
		if a.Fourier == nil {
			a.Fourier = []analysis.FourierUnit{}
		}
		for u, sc := range ar.Scores {
			a.Units = append(a.Units, analysis.NewMapScore(u, sc, scorer))
		}
		s.Arenas = append(s.Arenas, a)
	}
	return s
}

var indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{
	"num": func(v any) string {
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case analysis.Num:
			f = float64(x)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "n/a"
		}
		return strconv.FormatFloat(f, 'g', 4, 64)
	},
	"pct":   func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"units": func(u []int) string { return joinInts(u, 40) },
	"pcs": func(v []float64) string {
		var p []string
		for _, x := range v {
			p = append(p, strconv.FormatFloat(x, 'f', 2, 64))
		}
		return strings.Join(p, ", ")
	},
	"ratios": func(r []float64) string {
		var p []string
		for _, v := range r {
			p = append(p, strconv.FormatFloat(v, 'f', 3, 64))
		}
		if len(p) == 0 {
			return "n/a"
		}
		return strings.Join(p, ", ")
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gridgpu analysis</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f0f0f0}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.note{color:#555;font-size:90%}
</style></head><body>
<h1>Grid-cell analysis</h1>
<p>Model: N = {{.Model.N}} units, H = {{.Model.H}}{{if .Model.Checkpoint}}, checkpoint <code>{{.Model.Checkpoint}}</code>{{end}}.
{{with .Model.Metadata}}{{with index . "step"}}Step {{.}}.{{end}}{{end}}
Walks ({{.Settings.Walks}}): {{.Settings.Trajectories}} per arena of {{.Settings.Steps}} steps (dt {{.Settings.Motion.Dt}} s), seed {{.Settings.Seed}},
{{if eq .Settings.Start "uniform"}}starting at uniformly random positions after {{.Settings.BurnIn}} unbinned burn-in steps from the origin{{else}}all starting at the origin{{end}};
{{.Settings.BinsPerMetre}} bins per metre. Grid scorer: {{.Settings.Scorer}}; grid units: score60 &gt; {{.Settings.GridThreshold}}. Analysis took {{num .Seconds}} s.</p>
<p class="note">Files: <a href="summary.json">summary.json</a> (all numbers), <a href="ratemaps.npz">ratemaps.npz</a> (ratemaps per arena, NaN = unvisited).</p>
<h2>Summary</h2>
<table><tr><th rowspan="2">arena</th><th rowspan="2">bins</th><th rowspan="2">visited</th><th rowspan="2">median visits/bin</th><th rowspan="2">silent units</th>
<th colspan="4">SAC-scale method</th><th colspan="6">Fourier method</th><th rowspan="2">methods</th></tr>
<tr><th>grid units</th><th>modules</th><th>periods (m)</th><th>period ratios</th><th>hexagonal</th><th>sheared</th><th>square</th><th>modules</th><th>periods (m)</th><th>period ratios</th></tr>
{{range .Arenas}}<tr><td>{{.Side}} m</td><td>{{.Bins}}x{{.Bins}}</td><td>{{pct .Coverage.VisitedFraction}}</td><td>{{num .Coverage.MedianVisits}}</td><td>{{.SilentCount}} / {{len .Units}}</td>
<td>{{len .Modules.GridUnits}} / {{len .Units}}</td><td>{{len .Modules.Modules}}</td>
<td>{{range $i, $m := .Modules.Modules}}{{if $i}}, {{end}}{{num $m.Period}}{{else}}n/a{{end}}</td><td>{{ratios .Modules.Ratios}}</td>
<td>{{index .LatticeCounts "hexagonal"}}</td><td>{{index .LatticeCounts "sheared"}}</td><td>{{index .LatticeCounts "square"}}</td><td>{{len .FourierModules.Modules}}</td>
<td>{{range $i, $m := .FourierModules.Modules}}{{if $i}}, {{end}}{{num $m.Period}}{{else}}n/a{{end}}</td><td>{{ratios .FourierModules.Ratios}}</td>
<td style="text-align:left">{{if .ModuleComparison.Agree}}agree{{else}}<b>disagree</b>: {{.ModuleComparison.Note}}{{end}}</td></tr>
{{end}}</table>
<p class="note">Periods are lattice spacings (distance between neighbouring fields). SAC-scale: grid units (score60 above the threshold)
clustered by the scale of their autocorrelogram. Fourier: units whose ratemap's power spectrum has three peaks of similar
frequency 60 degrees apart (hexagonal; square: two peaks at 90 degrees) or three peaks that close as a lattice's reciprocal vectors do,
one the sum or difference of the other two (sheared: a hexagonal lattice under an affine stretch, at most {{.Settings.Fourier.MaxStretch}}),
clustered by spacing and orientation, as the paper does: hexagonal and sheared units together, a hexagonal one at spacing 2/(sqrt(3)|f|),
a sheared one at the spacing of the hexagonal lattice with the same cell area. The stretch of each hexagonal and sheared unit is in summary.json.</p>
<h2 id="generalisation">Generalisation across arenas</h2>
<img src="{{.Generalisation}}" alt="score60, module periods and unit counts against arena size">
<h2 id="state-space">Module state space</h2>
{{if .StateSpaces}}{{range .StateSpaces}}<p>{{.Method}} module {{.Module}} in the {{.Arena}} m arena: {{len .Units}} units ({{units .Units}}), {{.Points}} states embedded;
first principal components hold {{pcs .PCAVariance}} of the variance; continuity {{num .Continuity}} (lattice-phase distance to the nearest state over that of random pairs: near 0 for a torus, near 1 without one);
unit phase spread {{num .PhaseSpread}} (1: random phases, above 1: phases tile the unit cell evenly, below 1: clustered).</p>
<img src="{{.Figure}}" alt="state space of module {{.Module}}">
{{end}}<p class="note">PCA of the module's states (sampled along the walks), then a spectral embedding (Laplacian eigenmaps on a
{{.Settings.StateSpace.Neighbours}}-nearest-neighbour graph of the first {{.Settings.StateSpace.Components}} components) to 3-D; points coloured by their position's
phase along the module's two lattice directions. For persistent homology (Betti numbers 1, 2, 1 for a torus) write the states with
<code>gridgpu states</code> and see docs/analysis.md, "States for Python: the torus".</p>
{{else}}<p>No module has {{.Settings.StateSpace.MinUnits}} or more units.</p>{{end}}
{{with .Training}}{{if .Figures}}<h2 id="training">Training</h2>
<p>Run <code>{{.RunDir}}</code>: {{.MetricsLines}} lines of metrics.jsonl, steps {{.FirstStep}} to {{.LastStep}}{{if .EvalLines}}, {{.EvalLines}} with a grid evaluation{{end}}{{if .Malformed}}; {{.Malformed}} malformed line(s) skipped{{end}}{{if .Superseded}}; {{.Superseded}} line(s) superseded by a resumed run{{end}}.
{{with .Weights}}Loss weights (config.yaml): {{.WeightText}}{{with $.Training.WeightsNote}} ({{.}}){{end}}.{{else}}No loss weights: {{.WeightsNote}}.{{end}}</p>
{{range $i, $f := .Figures}}<p class="note">{{index $.Training.Captions $i}}</p>
<img src="{{$f}}" alt="{{$f}}">
{{end}}{{else}}<p class="note">Training curves: none ({{.Note}}).</p>
{{end}}{{end}}<h2>Neural vs spatial distance</h2>
<img src="distance.png" alt="neural distance against spatial distance">
<h2>Coverage</h2>
<img src="coverage.png" alt="visits per bin in each arena">
{{range .Arenas}}
<h2 id="arena-{{.Side}}">Arena {{.Side}} m</h2>
<p>{{.Coverage.Samples}} samples; {{pct .Coverage.VisitedFraction}} of {{.Coverage.Bins}} bins visited, {{pct .Coverage.SparseFraction}} with fewer than 5 visits;
mean speed {{num .Coverage.MeanSpeed}} m/s; {{.Coverage.OutsideSamples}} samples outside the arena; {{.Coverage.ZeroStates}} all-zero states.</p>
{{if .Modules.Modules}}<table><tr><th>module</th><th>period (m)</th><th>orientation (deg)</th><th>sd ln(scale)</th><th>orientation sd (deg)</th><th>units</th></tr>
{{range .Modules.Modules}}<tr><td>{{.ID}}</td><td>{{num .Period}}</td><td>{{num .Orientation}}</td><td>{{num .LogSpread}}</td><td>{{num .OriSpread}}</td><td style="text-align:left">{{units .Units}}</td></tr>
{{end}}</table>{{else}}<p>No modules found.</p>{{end}}
{{if .Modules.Unassigned}}<p class="note">Grid units in no module: {{units .Modules.Unassigned}}</p>{{end}}
{{if .SilentUnits}}<p class="note">Silent units (zero everywhere): {{units .SilentUnits}}</p>{{end}}
<h3>Fourier modules</h3>
<p>{{if .ModuleComparison.Agree}}The Fourier and SAC-scale methods agree: {{.ModuleComparison.Note}}.{{else}}<b>The Fourier and SAC-scale methods disagree</b>: {{.ModuleComparison.Note}}.{{end}}</p>
{{if .FourierModules.Modules}}<table><tr><th>Fourier module</th><th>spacing (m)</th><th>orientation (deg)</th><th>sd ln(spacing)</th><th>orientation sd (deg)</th><th>units</th></tr>
{{range .FourierModules.Modules}}<tr><td>{{.ID}}</td><td>{{num .Period}}</td><td>{{num .Orientation}}</td><td>{{num .LogSpread}}</td><td>{{num .OriSpread}}</td><td style="text-align:left">{{units .Units}}</td></tr>
{{end}}</table>{{else}}<p>No Fourier modules.</p>{{end}}
<img src="{{.Figures.Fourier}}" alt="Fourier spacing and orientation histograms by module">
<img src="{{.Figures.Histograms}}" alt="histograms of grid score and scale">
<img src="{{.Figures.Modules}}" alt="scale against orientation by module">
<h3>Ratemaps</h3>
<img src="{{.Figures.Ratemaps}}" alt="ratemaps sorted by grid score">
<h3>Spatial autocorrelograms</h3>
<img src="{{.Figures.SACs}}" alt="autocorrelograms sorted by grid score">
{{end}}
</body></html>
`))

func joinInts(u []int, limit int) string {
	var p []string
	for i, v := range u {
		if i == limit {
			p = append(p, fmt.Sprintf("... (%d in all)", len(u)))
			break
		}
		p = append(p, strconv.Itoa(v))
	}
	return strings.Join(p, " ")
}

func indexHTML(s *analysis.Summary) ([]byte, error) {
	var b strings.Builder
	if err := indexTmpl.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("index.html: %w", err)
	}
	return []byte(b.String()), nil
}

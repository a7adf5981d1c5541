package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/report"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/statusline"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/internal/workpool"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

func analyzeCommand() *cli.Command {
	d := analysis.DefaultOptions()
	return newCommand("analyze", "measure grid cells: ratemaps, grid scores, modules, figures",
		"gridgpu analyze --checkpoint F --out DIR [--arena 1,2,3,4] [--bins N] [--walks standard|training] [--start origin|uniform] [--trajectories N] [--steps N] [--seed S] [--scorer banino|rings]",
		runAnalyze,
		slices.Concat([]cli.Flag{
			checkpointFlag(runCheckpointUsage),
			outFlag("(required) report directory `DIR`"),
			&cli.StringFlag{Name: "arena", Value: "1,2,3,4", Usage: "arena sides in metres, comma-separated (`L1,L2,...`)"},
			intFlag(cli.IntFlag{Name: "bins", Value: d.BinsPerMetre, Usage: "spatial bins per metre of arena side (`N`); bins are 1/N m in every arena, so a 2 m arena gets 2N x 2N"}),
		}, walkFlagDefs(d), []cli.Flag{
			seedFlag(d.Seed, "seed of the walks (`S`)"),
			&cli.StringFlag{Name: "scorer", Value: analysis.DefaultScorer, Usage: "grid `SCORER`: banino (the published method) or rings (this project's variant)"},
			&cli.Float64Flag{Name: "min-score", DefaultText: scoreThresholdText, Usage: "grid score60 a unit needs to count as a grid cell (module detection, histograms)"},
			intFlag(cli.IntFlag{Name: "min-module-size", Value: d.Modules.MinSize, Usage: "fewest grid units that make a module"}),
			intFlag(cli.IntFlag{Name: "distance-samples", Value: d.DistanceSamples, Usage: "states sampled per arena for the neural-vs-spatial distance curve"}),
			workersFlagDef(),
			overwriteFlag("replace the report in --out (a directory that holds a report)"),
		})...,
	)
}

// walkFlagDefs are the flags of the walks that analyze and states share
// (walkFlags reads them), in the same place in both commands' help.
func walkFlagDefs(d analysis.Options) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "walks", Value: analysis.WalksStandard, Usage: "`KIND` of walks: standard (Sorscher et al.'s motion model) or training (training-like 0.1 m steps, 30 per walk)"},
		&cli.StringFlag{Name: "start", Value: analysis.StartOrigin, Usage: "`WHERE` walks start: origin, or uniform (random positions, after --burn-in unbinned steps from the origin)"},
		intFlag(cli.IntFlag{Name: "burn-in", Value: d.BurnIn, Usage: "unbinned steps from the origin to each walk's start with --start uniform (`N`)"}),
		intFlag(cli.IntFlag{Name: "trajectories", Value: d.Trajectories, DefaultText: "200; 4000 with --walks training", Usage: "walks per arena (`N`)"}),
		intFlag(cli.IntFlag{Name: "steps", Value: d.Steps, DefaultText: fmt.Sprintf("500 of %g s; 30 of %g s with --walks training", d.Motion.Dt, analysis.TrainingMotion.Dt), Usage: "steps per walk (`N`)"}),
	}
}

// workersFlagDef is --workers of analyze and states (workersFlag reads it).
func workersFlagDef() cli.Flag {
	return intFlag(cli.IntFlag{Name: "workers", Value: 0, Usage: "parallel workers (0: one per CPU)"})
}

// scoreThresholdText describes the --min-score default.
var scoreThresholdText = fmt.Sprintf("the scorer's threshold: %g for banino, %g for rings", analysis.GridThreshold(analysis.ScorerBanino), analysis.GridThreshold(analysis.ScorerRings))

// scorerOptions reads --scorer and --min-score: the scorer's name and the
// grid threshold (the scorer's GridThreshold unless --min-score is given).
func scorerOptions(c *cli.Context) (string, float64, error) {
	scorer, err := analysis.CheckScorer(c.String("scorer"))
	if err != nil {
		return "", 0, usagef("%v", err)
	}
	thr := analysis.GridThreshold(scorer)
	if c.IsSet("min-score") {
		// score60 = min(r60, r120) - max(r30, r90, r150) of correlations,
		// so it lies in [-2, 2]; a threshold outside says nothing.
		thr = c.Float64("min-score")
		if !(thr >= -2 && thr <= 2) {
			return "", 0, usagef("--min-score %g: must be a number from -2 to 2 (the range of score60)", thr)
		}
	}
	return scorer, thr, nil
}

// parseArenas reads the --arena list.
func parseArenas(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "m"))
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, usagef("--arena: %q is not a number; give sides in metres separated by commas, e.g. --arena 1,2,3,4", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, usagef("--arena: give at least one side in metres, e.g. --arena 1,2,3,4")
	}
	return out, nil
}

// walkFlags sets opt's bins and walks from the flags that analyze and
// states share: --bins, --walks (which sets the defaults of the next
// three), --trajectories, --steps, --burn-in, --start and --seed.
func walkFlags(c *cli.Context, opt *analysis.Options) error {
	opt.BinsPerMetre = c.Int("bins")
	if err := opt.SetWalks(c.String("walks")); err != nil {
		return usagef("%v", err)
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"trajectories", &opt.Trajectories}, {"steps", &opt.Steps}, {"burn-in", &opt.BurnIn}} {
		if c.IsSet(f.name) {
			*f.dst = c.Int(f.name)
		}
	}
	opt.Start = c.String("start")
	opt.Seed = c.Uint64("seed")
	return nil
}

// workersFlag reads --workers of analyze and states.
func workersFlag(c *cli.Context) (int, error) {
	w := c.Int("workers")
	if w < 0 {
		return 0, usagef("--workers: %d, must be 0 (one per CPU) or more", w)
	}
	return w, nil
}

// analyzeOptions reads analyze's flags into the analysis options.
func analyzeOptions(c *cli.Context) (opt analysis.Options, err error) {
	opt = analysis.DefaultOptions()
	if opt.Arenas, err = parseArenas(c.String("arena")); err != nil {
		return opt, err
	}
	if err := walkFlags(c, &opt); err != nil {
		return opt, err
	}
	if opt.Scorer, opt.Modules.MinScore, err = scorerOptions(c); err != nil {
		return opt, err
	}
	opt.Modules.MinSize = c.Int("min-module-size")
	opt.DistanceSamples = c.Int("distance-samples")
	if opt.Workers, err = workersFlag(c); err != nil {
		return opt, err
	}
	if err := opt.Validate(); err != nil {
		return opt, usagef("%v", err)
	}
	return opt, nil
}

func runAnalyze(c *cli.Context) (err error) {
	if err := checkpointArgs(c, "out"); err != nil {
		return err
	}
	opt, err := analyzeOptions(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	// Missing parents of --out are made, as mkdir -p would (the first
	// minute writes runs/NAME/report into a fresh clone), and removed
	// again when the analysis fails.
	removeParents, err := makeParents(out)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeParents()
		}
	}()
	if err := report.CheckOutDir(out, c.Bool("overwrite")); err != nil {
		return usagef("%v", err)
	}
	// Staging directories of an analysis killed while writing this report
	// are garbage; an unwritable --out is found now, not after the work.
	report.RemoveStalePartials(out, data.ProcessStart)
	if err := report.ProbeOutDir(out); err != nil {
		return err
	}
	ckpt := c.String("checkpoint")
	p, meta, err := train.LoadParams(ckpt)
	if err != nil {
		return err
	}
	if err := checkAnalysisResources(p.N, p.H, opt, "--distance-samples"); err != nil {
		return err
	}
	// A checkpoint in a run directory: the report shows its training curves.
	var curves *analysis.TrainingCurves
	if resolved, err := rundir.ResolveCheckpoint(ckpt); err == nil {
		if run := rundir.Find(ckpt, resolved); run != "" {
			curves = analysis.ReadTrainingCurves(run)
		}
	}

	// Ctrl-C, SIGTERM or SIGHUP stops the analysis (exit status 130, 143
	// or 129, as train); nothing is written then. Once the report is being
	// written it is finished unless a second signal aborts at once (its
	// staging directory is removed by the next analysis into the same
	// --out); a repeat within a second of the first is the same stop
	// delivered twice and does not abort (internal/stopsig).
	stderr := c.App.ErrWriter
	ctx, stopWatching := stopContext(stderr, nil, "\ngridgpu: second %s: aborting; no report written\n")
	defer stopWatching()

	pr := newProgress(stderr)
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	starts := "from the origin"
	if opt.Start == analysis.StartUniform {
		starts = fmt.Sprintf("from uniform starts after %d burn-in steps", opt.BurnIn)
	}
	pr.linef("analyze: %s (N=%d, H=%d): %d arena(s) %v m, %d %s walks x %d steps of %g s each %s, %d bins/m, %s scorer, %d workers",
		ckpt, p.N, p.H, len(opt.Arenas), opt.Arenas, opt.Trajectories, opt.Walks, opt.Steps, opt.Motion.Dt, starts, opt.BinsPerMetre, opt.Scorer, workers)
	opt.Progress = pr.event
	start := time.Now()
	res, err := analysis.Analyze(ctx, p, opt)
	if err != nil {
		pr.finish()
		if s, ok := stopSignal(ctx); ok {
			return stoppedBy(s, fmt.Sprintf("analyze: %s: interrupted; no report written", stopsig.Name(s)))
		}
		return err
	}
	logAnalysis(pr, res, curves, p.N, opt.Modules.MinScore)
	var files int
	err = report.WriteReport(out, res, report.ReportInfo{
		Checkpoint: ckpt, Metadata: meta, Training: curves,
		Progress: func(name string) {
			files++
			pr.update(fmt.Sprintf("writing %s", name))
		},
	}, c.Bool("overwrite"))
	pr.finish()
	if err != nil {
		return err
	}
	pr.linef("wrote %s: summary.json, ratemaps.npz, %d figures and %s, in %.1f s",
		out, files-3, reportPath(out), time.Since(start).Seconds())
	return nil
}

// logAnalysis prints a line for the training curves found, each arena's
// counts and each state space, as the report will hold them.
func logAnalysis(pr *progress, res *analysis.Result, curves *analysis.TrainingCurves, units int, minScore float64) {
	if curves != nil {
		if curves.Note != "" {
			pr.linef("training curves: none (%s)", curves.Note)
		} else {
			skipped := ""
			if curves.Malformed > 0 {
				skipped = fmt.Sprintf(" (%d malformed, skipped)", curves.Malformed)
			}
			pr.linef("training curves: %d lines of %s%s", len(curves.Points), rundir.MetricsPath(curves.RunDir), skipped)
		}
	}
	for _, ar := range res.Arenas {
		agree := "methods agree"
		if !ar.Comparison.Agree {
			agree = "methods disagree: " + ar.Comparison.Note
		}
		pr.linef("arena %g m: %d of %d units with score60 > %g, %d SAC-scale module(s); %d hexagonal and %d sheared Fourier lattices, %d Fourier module(s) (%s); %d silent; %.1f%% of bins visited (%.1f s)",
			ar.Side, len(ar.Modules.GridUnits), units, minScore, len(ar.Modules.Modules), countKind(ar.Fourier, analysis.LatticeHexagonal), countKind(ar.Fourier, analysis.LatticeSheared),
			len(ar.FourierModules.Modules), agree, len(ar.Silent), 100*ar.Coverage.VisitedFraction, ar.Seconds)
	}
	for _, ss := range res.StateSpaces {
		pr.linef("state space of %s module %d (%g m arena, %d units): continuity %.2f (0: a torus, 1: none), unit phase spread %.2f (1: random)",
			ss.Method, ss.Module, ss.Arena, len(ss.Units), ss.Continuity, ss.PhaseSpread)
	}
}

// machineMemory is what the memory checks of analyze and states compare
// with (train.MachineMemory, the one train uses); tests replace it.
var machineMemory = train.MachineMemory

// checkAnalysisResources refuses, before any work, an analysis of a network
// of N units and hidden width H with opt that the machine cannot hold in
// memory or that cannot end within a week (analysis.CheckResources);
// samples names the flag of opt.DistanceSamples.
func checkAnalysisResources(N, H int, opt analysis.Options, samples string) error {
	have, kind := machineMemory()
	return analysis.CheckResources(N, H, opt, have, kind, analysis.ResourceFlags{Samples: samples})
}

// progress prints what analyze (and states) is doing to stderr on a status
// line: redrawn in place on a terminal, plain lines at stage changes and
// quarter marks otherwise (so logs stay readable).
type progress struct {
	line *statusline.Line

	mu      sync.Mutex // guards the fields below (events come from several workers)
	stage   string
	lastPct int
	lastTTY time.Time
}

func newProgress(w io.Writer) *progress {
	return &progress{line: statusline.New(w, statusline.IsTerminal(w))}
}

// linef prints a permanent line.
func (p *progress) linef(format string, a ...any) { p.line.Printf(format, a...) }

// update shows msg as the status.
func (p *progress) update(msg string) { p.line.Update(msg) }

func (p *progress) event(e analysis.ProgressEvent) {
	if e.Stage == "state space" {
		p.update("state space of the modules")
		return
	}
	pct := 100
	if e.Total > 0 {
		pct = 100 * e.Done / e.Total
	}
	unit := "walks"
	if e.Stage == "scoring" {
		unit = "units"
	}
	msg := fmt.Sprintf("arena %g m (%d/%d): %s %d/%d %s (%d%%)", e.Arena, e.ArenaIndex+1, e.Arenas, e.Stage, e.Done, e.Total, unit, pct)
	p.mu.Lock()
	key := fmt.Sprint(e.ArenaIndex, e.Stage)
	newStage := key != p.stage
	if newStage {
		p.stage, p.lastPct = key, -1
	}
	show := false
	if p.line.TTY() {
		show = newStage || e.Done == e.Total || time.Since(p.lastTTY) > 100*time.Millisecond
		if show {
			p.lastTTY = time.Now()
		}
	} else if e.Stage == "scoring" {
		// Scoring is quick next to walking: its start and end will do.
		show = newStage || e.Done == e.Total
	} else {
		show = newStage || pct/25 > max(p.lastPct, 0)/25
	}
	if show {
		p.lastPct = pct
	}
	p.mu.Unlock()
	if show {
		p.update(msg)
	}
}

// finish erases the status: what follows is a result line.
func (p *progress) finish() { p.line.Clear() }

func gridscoreCommand() *cli.Command {
	return newCommand("gridscore", "grid scores, scales and orientations of ratemaps in .npz",
		"gridgpu gridscore --ratemaps F.npz [--name ratemaps] [--bin-size M] [--scorer banino|rings]",
		runGridscore,
		&cli.StringFlag{Name: "ratemaps", Usage: "(required) NumPy `F.npz` holding the ratemaps"},
		&cli.StringFlag{Name: "name", Value: "ratemaps", Usage: "`NAME` of the array to score"},
		&cli.Float64Flag{Name: "bin-size", Usage: "bin side in metres (`M`); overrides the file's bin_size"},
		&cli.StringFlag{Name: "scorer", Value: analysis.DefaultScorer, Usage: "grid `SCORER`: banino (the published method) or rings (this project's variant)"},
		&cli.Float64Flag{Name: "min-score", DefaultText: scoreThresholdText, Usage: "score60 a map needs to count in module detection"},
	)
}

// gridscoreMap is one map in gridscore's output.
type gridscoreMap struct {
	Map         int          `json:"map"`
	Score60     analysis.Num `json:"score60"`
	Score90     analysis.Num `json:"score90"`
	Scale       analysis.Num `json:"scale"`
	Orientation analysis.Num `json:"orientation"`
	Visited     float64      `json:"visited_fraction"`
	analysis.OtherScores
}

func runGridscore(c *cli.Context) error {
	if err := requireFlags(c, "ratemaps"); err != nil {
		return err
	}
	path, name := c.String("ratemaps"), c.String("name")
	scorer, thr, err := scorerOptions(c)
	if err != nil {
		return err
	}
	if c.IsSet("bin-size") {
		if bs := c.Float64("bin-size"); !(bs > 0) || math.IsInf(bs, 0) {
			return usagef("--bin-size: %g, must be a positive number of metres", bs)
		}
	}
	arrays, err := data.ReadNPZ(path)
	if err != nil {
		return err
	}
	a, ok := arrays[name]
	if !ok {
		var names []string
		for n := range arrays {
			names = append(names, n)
		}
		sort.Strings(names)
		return usagef("--ratemaps %s: no array %q (it holds: %s); choose one with --name", path, name, strings.Join(names, ", "))
	}
	var K, nx, ny int
	switch len(a.Shape) {
	case 2:
		K, nx, ny = 1, a.Shape[0], a.Shape[1]
	case 3:
		K, nx, ny = a.Shape[0], a.Shape[1], a.Shape[2]
	default:
		return fmt.Errorf("%s: array %q has shape %v; want [K,nx,ny] (or [nx,ny] for one map)", path, name, a.Shape)
	}
	if nx < 1 || ny < 1 {
		return fmt.Errorf("%s: array %q has shape %v; maps need at least one bin", path, name, a.Shape)
	}
	binSize, unit := 1.0, "bins"
	bsName := "bin_size" + strings.TrimPrefix(name, "ratemaps")
	if c.IsSet("bin-size") {
		binSize, unit = c.Float64("bin-size"), "m"
	} else if b, ok := arrays[bsName]; ok {
		v := b.Float64s()
		if len(v) != 1 || !(v[0] > 0) || math.IsInf(v[0], 0) {
			return fmt.Errorf("%s: %q must be one positive number of metres, got shape %v values %v", path, bsName, b.Shape, v)
		}
		binSize, unit = v[0], "m"
	}
	vals := a.Float64s()
	nb := nx * ny
	scores := make([]analysis.Score, K)
	sc := &analysis.Scorer{BinSize: binSize, Method: scorer}
	workpool.Each(runtime.GOMAXPROCS(0), K, nil, func(_, k int) {
		scores[k], _ = sc.Score(vals[k*nb:(k+1)*nb], nx, ny)
	})
	out := struct {
		File          string                `json:"file"`
		Array         string                `json:"array"`
		Shape         []int                 `json:"shape"`
		BinSize       float64               `json:"bin_size"`
		ScaleUnit     string                `json:"scale_unit"`
		Scorer        string                `json:"scorer"`
		GridThreshold float64               `json:"grid_threshold"`
		Maps          []gridscoreMap        `json:"maps"`
		Modules       analysis.ModuleReport `json:"modules"`
	}{File: path, Array: name, Shape: a.Shape, BinSize: binSize, ScaleUnit: unit, Scorer: scorer, GridThreshold: thr, Maps: []gridscoreMap{}}
	for k, s := range scores {
		visited := 0
		for _, v := range vals[k*nb : (k+1)*nb] {
			if !math.IsNaN(v) {
				visited++
			}
		}
		out.Maps = append(out.Maps, gridscoreMap{Map: k, Score60: analysis.Num(s.Score60), Score90: analysis.Num(s.Score90),
			Scale: analysis.Num(s.Scale), Orientation: analysis.Num(s.Orientation), Visited: float64(visited) / float64(nb),
			OtherScores: analysis.NewOtherScores(s, scorer)})
	}
	mopt := analysis.DefaultModuleOptions
	mopt.MinScore = thr
	out.Modules = analysis.DetectModules(scores, mopt)
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s\n", b)
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// countKind counts the units whose Fourier lattice is of the given kind.
func countKind(f []analysis.FourierUnit, kind string) int {
	n := 0
	for _, u := range f {
		if u.Kind == kind {
			n++
		}
	}
	return n
}

// reportPath is where analyze's index.html ends up, for messages.
func reportPath(dir string) string { return filepath.Join(dir, "index.html") }

// makeParents makes the missing parent directories of dir (not dir
// itself); remove removes those it made, deepest first, as long as they are
// empty.
func makeParents(dir string) (remove func(), err error) {
	var missing []string
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	remove = func() {
		for _, p := range missing {
			os.Remove(p)
		}
	}
	if len(missing) == 0 {
		return remove, nil
	}
	if err := os.MkdirAll(missing[0], 0o755); err != nil {
		remove()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return func() {}, fmt.Errorf("--out %s: cannot create %s: %v", dir, missing[len(missing)-1], err)
	}
	return remove, nil
}

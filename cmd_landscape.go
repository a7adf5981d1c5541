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
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/report"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/statusline"
	"github.com/gridgpu/gridgpu/train"
)

// The landscape command's defaults.
const (
	landscapePeriods    = "0.3:1.5:13"
	landscapeRatios     = "1.4,1.6,2.0"
	landscapeThresholds = "-0.5,0,0.25,0.5"
	landscapeSweepX     = "loss.sigma_g=0.2,0.25,0.3,0.4"
	landscapeSweepY     = "loss.lambda_cap=0,0.25,0.5,1"
	// maxListValues bounds each list flag: the work grows with the product
	// of the lists.
	maxListValues = 1000
)

func landscapeCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML config file `FILE` applied over the preset (its data, loss, model.units and run.seed count)"},
		&cli.StringFlag{Name: "preset", Aliases: []string{"p"}, Value: defaultPreset, Usage: "starting configuration: " + strings.Join(train.PresetNames, ", ")},
		&cli.StringFlag{Name: "families", Value: strings.Join(analysis.CodeFamilies, ","), Usage: "code families to score, comma-separated (`F1,F2`)"},
		&cli.StringFlag{Name: "periods", Value: landscapePeriods, Usage: "lattice periods in metres (of the first module): `P1,P2,...`, or LO:HI:N for N values evenly spaced from LO to HI"},
		&cli.StringFlag{Name: "ratios", Value: landscapeRatios, Usage: "period ratios between consecutive modules (modules-2, modules-3): `R1,R2,...` or LO:HI:N"},
		&cli.StringFlag{Name: "thresholds", Value: landscapeThresholds, Usage: "thresholds subtracted from the field (in [-1, 1]) before Norm-ReLU: `T1,T2,...` or LO:HI:N"},
		intFlag(cli.IntFlag{Name: "batches", Value: 8, Usage: "microbatches to average over (`M`): the first M of the config's data sampler and seed"}),
		checkpointFlag("also score the states of the network in checkpoint `F` (or a run directory: its newest) on the same microbatches"),
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object (as DIR/landscape.json) instead of the table"},
		outFlag("directory `DIR` for the phase diagram over --sweep-x and --sweep-y: landscape.png and landscape.json (created if missing; files in it are replaced)"),
		&cli.StringFlag{Name: "sweep-x", Value: landscapeSweepX, Usage: "phase diagram's columns: a loss setting and its values, `KEY=V1,V2,...` (or KEY=LO:HI:N); swept with --out or when given"},
		&cli.StringFlag{Name: "sweep-y", Value: landscapeSweepY, Usage: "phase diagram's rows, as --sweep-x (`KEY=V1,V2,...`)"},
	}
	flags = append(flags, configFlags(presetDefaults(defaultPreset, train.PresetNames), "data.", "loss.", "model.units", "run.seed")...)
	return newCommand("landscape", "score idealised grid codes by the training loss",
		"gridgpu landscape [--preset P] [--config F] [loss and data flags] [--families F1,F2] [--periods LO:HI:N] [--ratios R1,R2] [--thresholds T1,T2] [--batches M] [--checkpoint F] [--json]\n   gridgpu landscape --out DIR [--sweep-x KEY=V1,V2,...] [--sweep-y KEY=V1,V2,...] [the same flags]",
		landscapeAction, flags...)
}

// sweepAxis is one swept loss setting of the phase diagram.
type sweepAxis struct {
	Key    string    `json:"key"`
	Values []float64 `json:"values"`
	field  train.Field
}

// landscapeJob is a landscape command line, checked: the idealised codes,
// the loss settings to score them under (the effective one first, then the
// phase diagram's cells row by row), and where the results go.
type landscapeJob struct {
	cfg      train.Config
	families []string
	codes    []analysis.CodeSpec
	lcs      []graph.LossConfig
	M        int  // microbatches
	phase    bool // a phase diagram over xs and ys
	xs, ys   sweepAxis
	out      string
}

func landscapeAction(c *cli.Context) error {
	job, err := parseLandscape(c)
	if err != nil {
		return err
	}
	N, net, err := landscapeNetwork(c, &job.cfg)
	if err != nil {
		return err
	}
	for _, f := range job.families {
		if m := analysis.FamilyModuleCount(f); N < m {
			return usagef("--families %s needs at least %d units; the model has N=%d", f, m, N)
		}
	}
	batches, err := job.batches()
	if err != nil {
		return err
	}
	scores, err := scoreLandscape(c.App.ErrWriter, job, N, batches)
	if err != nil {
		return err
	}
	var netScores []graph.Losses
	if net != nil {
		states := make([][]float32, len(batches))
		for i, b := range batches {
			if states[i], err = analysis.NetworkStates(net, b); err != nil {
				return err
			}
		}
		if netScores, err = analysis.ScoreStates(states, N, batches, job.lcs); err != nil {
			return err
		}
	}
	res, pd := job.result(c, N, scores, netScores)
	// Marshal first, so that a value JSON cannot hold is an error rather
	// than half an output.
	js, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return fmt.Errorf("landscape: a result is not finite (%v)", err)
	}
	js = append(js, '\n')
	if job.out != "" {
		if err := writeLandscape(job.out, js, pd, phaseHeading(res, job.xs, job.ys)); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		_, err = c.App.Writer.Write(js)
	} else {
		err = printLandscape(c.App.Writer, res, &job.cfg, len(job.codes))
	}
	if err == nil && job.out != "" {
		fmt.Fprintf(c.App.ErrWriter, "gridgpu: wrote %s and %s\n", filepath.Join(job.out, "landscape.png"), filepath.Join(job.out, "landscape.json"))
	}
	return err
}

// parseLandscape reads and checks the command line: every value that is
// wrong is an error here, before anything is scored.
func parseLandscape(c *cli.Context) (*landscapeJob, error) {
	cfg, err := train.LoadConfig(c.String("preset"), c.String("config"))
	if err != nil {
		return nil, err
	}
	applyConfigFlags(c, &cfg, "data.", "loss.", "model.units", "run.seed")
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	job := &landscapeJob{cfg: cfg, M: c.Int("batches"), out: c.String("out")}
	if job.families, err = parseFamilies(c.String("families")); err != nil {
		return nil, err
	}
	positive := func(v float64) bool { return v > 0 }
	periods, err := parseValues("--periods", c.String("periods"), positive, "must be positive (metres)")
	if err != nil {
		return nil, err
	}
	ratios, err := parseValues("--ratios", c.String("ratios"), positive, "must be positive")
	if err != nil {
		return nil, err
	}
	// f lies in [-1, 1]: from 1 up every state is zero.
	thresholds, err := parseValues("--thresholds", c.String("thresholds"), func(v float64) bool { return v < 1 }, "must be below 1 (the field's peak): from 1 up every state is zero")
	if err != nil {
		return nil, err
	}
	if job.M < 1 || job.M > 10000 {
		return nil, usagef("--batches %d: must be from 1 to 10000", job.M)
	}
	job.phase = c.IsSet("out") || c.IsSet("sweep-x") || c.IsSet("sweep-y")
	if job.phase {
		if job.xs, err = parseSweep("--sweep-x", c.String("sweep-x")); err != nil {
			return nil, err
		}
		if job.ys, err = parseSweep("--sweep-y", c.String("sweep-y")); err != nil {
			return nil, err
		}
		if job.xs.Key == job.ys.Key {
			return nil, usagef("--sweep-x and --sweep-y both sweep %s; choose two different loss settings", job.xs.Key)
		}
	}
	if c.IsSet("out") {
		if job.out == "" {
			return nil, usagef("--out: give the directory to write landscape.png and landscape.json to")
		}
		if st, err := os.Stat(job.out); err == nil && !st.IsDir() {
			return nil, usagef("--out %s exists and is not a directory; choose a directory path", job.out)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--out %s: %w", job.out, err)
		}
	}
	// The cells, each validated as a whole config so that a bad value
	// names its key.
	job.lcs = []graph.LossConfig{cfg.Loss}
	if job.phase {
		for _, y := range job.ys.Values {
			for _, x := range job.xs.Values {
				cell := cfg
				setSwept(&cell, job.xs.field, x)
				setSwept(&cell, job.ys.field, y)
				if err := cell.Validate(); err != nil {
					return nil, usagef("phase diagram cell %s=%g, %s=%g: %v", job.xs.Key, x, job.ys.Key, y, err)
				}
				job.lcs = append(job.lcs, cell.Loss)
			}
		}
	}
	if job.codes, err = analysis.LandscapeCodes(job.families, periods, ratios, thresholds); err != nil {
		return nil, usagef("%v", err)
	}
	return job, nil
}

// landscapeNetwork is the model size the codes are made for and, with
// --checkpoint, the trained network scored beside them. A checkpoint
// trained under another loss setting is scored all the same, with a note.
func landscapeNetwork(c *cli.Context, cfg *train.Config) (int, *graph.Params, error) {
	ck := c.String("checkpoint")
	if ck == "" {
		return cfg.Model.Units, nil, nil
	}
	p, md, err := train.LoadParams(ck)
	if err != nil {
		return 0, nil, err
	}
	if c.IsSet("units") && cfg.Model.Units != p.N {
		return 0, nil, usagef("--units %d, but checkpoint %s has N=%d units; leave --units out to score codes of the network's size", cfg.Model.Units, ck, p.N)
	}
	if text, ok := md["config"]; ok && md["format"] == train.CheckpointFormat {
		rec, _ := train.Preset("paper")
		if err := train.ApplyYAML(&rec, []byte(text), "checkpoint "+ck+" config"); err == nil && rec.Loss != cfg.Loss {
			fmt.Fprintf(c.App.ErrWriter, "gridgpu: note: %s was trained under another loss setting than the one scored here (its config: sigma_g %g, lambda_cap %g, lambda_ci %g)\n", ck, rec.Loss.SigmaG, rec.Loss.LambdaCap, rec.Loss.LambdaCI)
		}
	}
	return p.N, p, nil
}

// batches are the job's microbatches, drawn from its data settings and seed.
func (job *landscapeJob) batches() ([]*data.Batch, error) {
	sampler, err := job.cfg.Data.NewSampler(job.cfg.Run.Seed)
	if err != nil {
		return nil, err
	}
	batches := make([]*data.Batch, job.M)
	for i := range batches {
		batches[i] = sampler.Next()
	}
	return batches, nil
}

// scoreLandscape scores every code on every microbatch under every loss
// setting, with a progress line on a terminal.
func scoreLandscape(stderr io.Writer, job *landscapeJob, N int, batches []*data.Batch) ([][]graph.Losses, error) {
	line := statusline.New(stderr, statusline.IsTerminal(stderr))
	if line.TTY() {
		line.Printf("landscape: %d codes x %d microbatches (B=%d, T=%d, N=%d) x %d loss setting(s)", len(job.codes), job.M, job.cfg.Data.BatchSize, job.cfg.Data.SeqLen, N, len(job.lcs))
	}
	start, last := time.Now(), time.Time{}
	scores, err := analysis.ScoreCodes(job.codes, N, batches, job.lcs, func(done, total int) {
		if line.TTY() && (done == total || time.Since(last) > 200*time.Millisecond) {
			last = time.Now()
			line.Update(fmt.Sprintf("landscape: %d/%d codes (%.0f s)", done, total, time.Since(start).Seconds()))
		}
	})
	line.Clear()
	return scores, err
}

// result is the command's output: the ranking and every code under the
// effective setting, then (for a phase diagram) each cell's winner, and
// the diagram to draw. scores[i][j] is code i under job.lcs[j]; netScores
// (nil without --checkpoint) the network's, by loss setting.
func (job *landscapeJob) result(c *cli.Context, N int, scores [][]graph.Losses, netScores []graph.Losses) (*landscapeOutput, *analysis.PhaseDiagram) {
	cfg := &job.cfg
	res := &landscapeOutput{
		Preset: c.String("preset"), Config: c.String("config"), Checkpoint: c.String("checkpoint"),
		B: cfg.Data.BatchSize, T: cfg.Data.SeqLen, N: N, Batches: job.M, Seed: cfg.Run.Seed, Augment: cfg.Data.Augment, MaxSpeed: cfg.Data.MaxSpeed,
		MinSpeedFactor: cfg.Data.MinSpeedFactor, VelocitySets: cfg.Data.VelocitySets, LossConfig: cfg.Loss, Orientations: analysis.LandscapeOrientations,
	}
	column := func(j int) []graph.Losses {
		ls := make([]graph.Losses, len(job.codes))
		for i := range job.codes {
			ls[i] = scores[i][j]
		}
		return ls
	}
	base := column(0)
	var netBase *graph.Losses
	if netScores != nil {
		netBase = &netScores[0]
	}
	res.Ranking = rankRows(analysis.BestPerFamily(job.codes, base), netBase)
	for i, code := range job.codes {
		res.Codes = append(res.Codes, codeRow(analysis.CodeScore{Code: code, Losses: base[i]}))
	}
	if !job.phase {
		return res, nil
	}
	xs, ys := job.xs, job.ys
	pd := &analysis.PhaseDiagram{XKey: xs.Key, YKey: ys.Key, XValues: xs.Values, YValues: ys.Values}
	res.Phase = &phaseOutput{X: xs, Y: ys}
	j := 1
	for _, y := range ys.Values {
		var row []analysis.PhaseCell
		for _, x := range xs.Values {
			cell := analysis.PhaseCell{X: x, Y: y, Best: analysis.BestPerFamily(job.codes, column(j))}
			row = append(row, cell)
			pc := phaseCellOutput{X: x, Y: y, Winner: cell.Winner(), Margin: finitePtr(cell.Margin())}
			for _, s := range cell.Best {
				pc.Best = append(pc.Best, codeRow(s))
			}
			if netScores != nil {
				pc.Network = finitePtr(netScores[j].Total)
			}
			res.Phase.Cells = append(res.Phase.Cells, pc)
			j++
		}
		pd.Cells = append(pd.Cells, row)
	}
	return res, pd
}

// writeLandscape writes the phase diagram's figure and the JSON output
// into directory out (created if missing), each file atomically.
func writeLandscape(out string, js []byte, pd *analysis.PhaseDiagram, heading string) error {
	png, err := report.PhaseDiagramPNG(pd, heading)
	if err != nil {
		return fmt.Errorf("drawing the phase diagram: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"landscape.png", png}, {"landscape.json", js}} {
		if err := data.WriteFileAtomic(filepath.Join(out, f.name), f.b); err != nil {
			return err
		}
	}
	return nil
}

func setSwept(cfg *train.Config, f train.Field, v float64) {
	if f.Kind == reflect.Int {
		f.Set(cfg, int(v))
	} else {
		f.Set(cfg, v)
	}
}

// finitePtr is &v, or nil for NaN and infinities (JSON null).
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// parseFamilies reads --families.
func parseFamilies(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !analysis.IsCodeFamily(f) {
			return nil, usagef("--families: unknown family %q; choose from %s", f, strings.Join(analysis.CodeFamilies, ", "))
		}
		if seen[f] {
			return nil, usagef("--families: %s is listed twice", f)
		}
		seen[f] = true
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, usagef("--families: give at least one of %s", strings.Join(analysis.CodeFamilies, ", "))
	}
	return out, nil
}

// parseValues reads a list flag: comma-separated numbers, or LO:HI:N for
// N numbers evenly spaced from LO to HI (both included, as numpy's
// linspace). Every value must be finite and pass ok (rule says why not).
func parseValues(flag, s string, ok func(float64) bool, rule string) ([]float64, error) {
	num := func(f string) (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, usagef("%s: %q is not a number; give values separated by commas (0.3,0.5) or LO:HI:N (0.3:1.5:13)", flag, strings.TrimSpace(f))
		}
		return v, nil
	}
	var out []float64
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) != 3 {
			return nil, usagef("%s: %q: a range is LO:HI:N, such as 0.3:1.5:13", flag, s)
		}
		lo, err := num(parts[0])
		if err != nil {
			return nil, err
		}
		hi, err := num(parts[1])
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err != nil || n < 1 || n > maxListValues {
			return nil, usagef("%s: %q: the N of LO:HI:N must be a whole number from 1 to %d", flag, s, maxListValues)
		}
		for i := 0; i < n; i++ {
			v := lo
			if n > 1 {
				v = lo + (hi-lo)*float64(i)/float64(n-1)
			}
			// Round off the division's last bits (0.30000000000000004),
			// which would otherwise show in every table.
			v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
			out = append(out, v)
		}
	} else {
		for _, f := range strings.Split(s, ",") {
			if strings.TrimSpace(f) == "" {
				continue
			}
			v, err := num(f)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, usagef("%s: give at least one value", flag)
	}
	if len(out) > maxListValues {
		return nil, usagef("%s: %d values; at most %d", flag, len(out), maxListValues)
	}
	for _, v := range out {
		if !ok(v) {
			return nil, usagef("%s: %g %s", flag, v, rule)
		}
	}
	return out, nil
}

// sweepKeys are the loss settings a phase diagram may sweep: the numeric
// fields of the loss section.
func sweepKeys() []train.Field {
	var out []train.Field
	for _, f := range train.Fields() {
		if strings.HasPrefix(f.Path, "loss.") && (f.Kind == reflect.Float64 || f.Kind == reflect.Int) {
			out = append(out, f)
		}
	}
	return out
}

// parseSweep reads --sweep-x or --sweep-y: KEY=V1,V2,... with KEY a loss
// setting's config path (loss.sigma_g; the bare sigma_g is taken as it).
func parseSweep(flag, s string) (sweepAxis, error) {
	key, vals, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	var names []string
	for _, f := range sweepKeys() {
		names = append(names, f.Path)
	}
	if !ok || key == "" {
		return sweepAxis{}, usagef("%s %q: give KEY=V1,V2,..., such as %s", flag, s, landscapeSweepX)
	}
	if !strings.Contains(key, ".") {
		key = "loss." + key
	}
	var field train.Field
	found := false
	for _, f := range sweepKeys() {
		if f.Path == key {
			field, found = f, true
		}
	}
	if !found {
		return sweepAxis{}, usagef("%s: %s is not a loss setting that can be swept; choose one of %s", flag, key, strings.Join(names, ", "))
	}
	vs, err := parseValues(flag, vals, func(v float64) bool { return field.Kind != reflect.Int || v == math.Trunc(v) }, "must be a whole number for "+key)
	if err != nil {
		return sweepAxis{}, err
	}
	return sweepAxis{Key: key, Values: vs, field: field}, nil
}

// landscapeOutput is the JSON of the landscape command and of
// DIR/landscape.json.
type landscapeOutput struct {
	Preset         string           `json:"preset"`
	Config         string           `json:"config,omitempty"`
	Checkpoint     string           `json:"checkpoint,omitempty"`
	B              int              `json:"B"`
	T              int              `json:"T"`
	N              int              `json:"N"`
	Batches        int              `json:"batches"`
	Seed           uint64           `json:"seed"`
	Augment        string           `json:"augment"`
	MaxSpeed       float64          `json:"max_speed"`
	MinSpeedFactor float64          `json:"min_speed_factor"`
	VelocitySets   int              `json:"velocity_sets"`
	LossConfig     graph.LossConfig `json:"loss_config"`
	Orientations   []float64        `json:"orientations"`
	// Ranking is each family's best code (and the network), lowest total
	// first.
	Ranking []landscapeRow `json:"ranking"`
	// Codes is every code scored, under loss_config.
	Codes []landscapeRow `json:"codes"`
	Phase *phaseOutput   `json:"phase,omitempty"`
}

// phaseOutput is the phase diagram: its cells row by row (y outer).
type phaseOutput struct {
	X     sweepAxis         `json:"x"`
	Y     sweepAxis         `json:"y"`
	Cells []phaseCellOutput `json:"cells"`
}

type phaseCellOutput struct {
	X      float64  `json:"x"`
	Y      float64  `json:"y"`
	Winner string   `json:"winner"`
	Margin *float64 `json:"margin"` // the runner-up's total less the winner's
	// Network is the trained network's total (with --checkpoint); it does
	// not take part in choosing the winner.
	Network *float64       `json:"network,omitempty"`
	Best    []landscapeRow `json:"best"`
}

// landscapeRow is one code (or the network) and its losses.
type landscapeRow struct {
	Rank        int                     `json:"rank,omitempty"`
	Family      string                  `json:"family"`
	Period      *float64                `json:"period"`
	Ratio       *float64                `json:"ratio"`
	Threshold   *float64                `json:"threshold"`
	Orientation *float64                `json:"orientation"`
	Loss        float64                 `json:"loss"`
	Terms       [graph.NumTerms]float64 `json:"-"`
	ZeroFrac    float64                 `json:"zero_frac"`
	// Margin is the next row's total less this one's (ranking only;
	// absent on the last row).
	Margin *float64 `json:"margin,omitempty"`
}

// landscapeFields is landscapeRow without its JSON method.
type landscapeFields landscapeRow

// MarshalJSON writes the terms by key after "loss".
func (r landscapeRow) MarshalJSON() ([]byte, error) {
	return graph.MarshalTermsJSON(landscapeFields(r), "zero_frac", func(t graph.Term) any { return r.Terms[t] })
}

// codeRow is the row of one scored code.
func codeRow(s analysis.CodeScore) landscapeRow {
	c := s.Code
	r := landscapeRow{Family: c.Family, Period: &c.Period, Threshold: &c.Threshold, Orientation: &c.Orientation,
		Loss: s.Losses.Total, Terms: s.Losses.Term, ZeroFrac: s.Losses.ZeroFrac}
	if c.Ratio != 0 {
		r.Ratio = &c.Ratio
	}
	return r
}

// rankRows ranks the families' best codes and the network (when net is
// not nil) by total loss, with the margin of each to the next.
func rankRows(best []analysis.CodeScore, net *graph.Losses) []landscapeRow {
	var rows []landscapeRow
	for _, s := range best {
		rows = append(rows, codeRow(s))
	}
	if net != nil {
		r := landscapeRow{Family: "network", Loss: net.Total, Terms: net.Term, ZeroFrac: net.ZeroFrac}
		at := len(rows)
		for i, x := range rows {
			if net.Total < x.Loss {
				at = i
				break
			}
		}
		rows = append(rows[:at], append([]landscapeRow{r}, rows[at:]...)...)
	}
	for i := range rows {
		rows[i].Rank = i + 1
		if i+1 < len(rows) {
			rows[i].Margin = finitePtr(rows[i+1].Loss - rows[i].Loss)
		}
	}
	return rows
}

// printLandscape writes the table (and the phase diagram's grid).
func printLandscape(w io.Writer, res *landscapeOutput, cfg *train.Config, nCodes int) error {
	src := "preset " + res.Preset
	if res.Config != "" {
		src += " + " + res.Config
	}
	fmt.Fprintf(w, "gridgpu landscape: %s, B=%d T=%d N=%d, %d microbatches from seed %d; %d codes\n", src, res.B, res.T, res.N, res.Batches, res.Seed, nCodes)
	var loss []string
	for _, f := range train.Fields() {
		if strings.HasPrefix(f.Path, "loss.") {
			loss = append(loss, fmt.Sprintf("%s %v", strings.TrimPrefix(f.Path, "loss."), f.Get(cfg)))
		}
	}
	fmt.Fprintf(w, "loss: %s\n\n", strings.Join(loss, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"rank", "family", "period", "ratio", "threshold", "orient", "loss"}
	for _, s := range graph.TermSpecs {
		head = append(head, s.Key)
	}
	head = append(head, "zero_frac", "margin")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'g', 4, 64)
	}
	for _, r := range res.Ranking {
		cols := []string{strconv.Itoa(r.Rank), r.Family, opt(r.Period), opt(r.Ratio), opt(r.Threshold), opt(r.Orientation), fmt.Sprintf("%.6g", r.Loss)}
		for _, v := range r.Terms {
			cols = append(cols, fmt.Sprintf("%.5g", v))
		}
		cols = append(cols, fmt.Sprintf("%.3g", r.ZeroFrac), opt(r.Margin))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Phase == nil {
		return nil
	}
	ph := res.Phase
	fmt.Fprintf(w, "\nphase diagram: winner, its period and its margin to the runner-up; columns %s, rows %s\n", ph.X.Key, ph.Y.Key)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head = []string{strings.TrimPrefix(ph.Y.Key, "loss.") + " \\ " + strings.TrimPrefix(ph.X.Key, "loss.")}
	for _, x := range ph.X.Values {
		head = append(head, strconv.FormatFloat(x, 'g', 4, 64))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	k := 0
	for _, y := range ph.Y.Values {
		cols := []string{strconv.FormatFloat(y, 'g', 4, 64)}
		for range ph.X.Values {
			cell := ph.Cells[k]
			k++
			if cell.Winner == "" {
				cols = append(cols, "-")
				continue
			}
			cols = append(cols, fmt.Sprintf("%s %s m %s", cell.Winner, opt(cell.Best[0].Period), opt(cell.Margin)))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

// phaseHeading is the phase diagram's title.
func phaseHeading(res *landscapeOutput, xs, ys sweepAxis) string {
	return fmt.Sprintf("Best idealised grid code by %s and %s\n(B=%d T=%d N=%d, %d microbatches, seed %d; cell: winner, its period, total-loss margin to the runner-up)",
		strings.TrimPrefix(xs.Key, "loss."), strings.TrimPrefix(ys.Key, "loss."), res.B, res.T, res.N, res.Batches, res.Seed)
}

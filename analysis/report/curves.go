package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// series returns (step, f(value of key)) for the points of c that have
// key; f may drop a value by returning false.
func series(c *analysis.TrainingCurves, key string, f func(float64) (float64, bool)) plotter.XYs {
	var xy plotter.XYs
	for _, p := range c.Points {
		v, ok := p[key]
		if !ok {
			continue
		}
		if f != nil {
			if v, ok = f(v); !ok {
				continue
			}
		}
		xy = append(xy, plotter.XY{X: p["step"], Y: v})
	}
	return xy
}

// figure is one PNG of a report, drawn when it is written: its file name,
// its caption (in the training section) and its drawing.
type figure struct {
	file, caption string
	draw          func() ([]byte, error)
}

// trainingFigures returns the summary and the figures to draw for c;
// markStep (the analysed checkpoint's step, or -1) is marked on every
// panel; N is the number of units.
func trainingFigures(c *analysis.TrainingCurves, markStep float64, N int) (*analysis.TrainingSummary, []figure) {
	s := &analysis.TrainingSummary{RunDir: c.RunDir, Malformed: c.Malformed, Superseded: c.Superseded, Weights: c.Weights,
		WeightsNote: c.WeightsNote, Note: c.Note, Figures: []string{}}
	if len(c.Points) == 0 {
		if s.Note == "" {
			s.Note = "no usable lines in " + rundir.MetricsFile
		}
		return s, nil
	}
	s.MetricsLines = len(c.Points)
	s.FirstStep, s.LastStep = int64(c.Points[0]["step"]), int64(c.Points[len(c.Points)-1]["step"])
	s.EvalLines = c.EvalLines()
	s.Last = c.Points[len(c.Points)-1]
	mark := ""
	if markStep >= 0 {
		mark = fmt.Sprintf(" Grey dashed line: the analysed checkpoint (step %.0f).", markStep)
	}
	weighted := "unweighted (solid) and weighted by config.yaml's lambdas (dashed)"
	if c.Weights == nil {
		weighted = "unweighted only (" + c.WeightsNote + ")"
	}
	figs := []figure{
		{"curves_losses.png", "Loss terms against step, " + weighted + ", and the total loss; log axes where a term spans decades (zeros are then not shown)." + mark,
			func() ([]byte, error) { return lossCurvesPNG(c, markStep) }},
		{"curves_optim.png", "Learning rate, gradient norm (before clipping) and dead units (zero in every state of the step's batch) against step." + mark,
			func() ([]byte, error) { return optimCurvesPNG(c, markStep, N) }},
	}
	if s.EvalLines > 0 {
		figs = append(figs, figure{"curves_eval.png", fmt.Sprintf("In-training grid evaluation (%d evaluations): grid, square and dead units, score60 and modules against step.", s.EvalLines) + mark,
			func() ([]byte, error) { return evalCurvesPNG(c, markStep, N) }})
	}
	for _, f := range figs {
		s.Figures = append(s.Figures, f.file)
		s.Captions = append(s.Captions, f.caption)
	}
	return s, figs
}

// curveLine is one series of a panel.
type curveLine struct {
	label  string
	xy     plotter.XYs
	col    color.RGBA
	dashed bool
}

// curvePanel is one plot of a curves figure.
type curvePanel struct {
	title, ylabel string
	lines         []curveLine
	// logY: "auto" (log when positive and spanning 1.5 decades), "log" or
	// "" (linear).
	logY string
	// hline draws a dashed horizontal reference (NaN: none).
	hline      float64
	hlineLabel string
	points     bool // draw markers (few points)
	counts     bool // whole numbers: the axis starts at 0, integer ticks
}

var (
	colBlue   = color.RGBA{31, 119, 180, 255}
	colOrange = color.RGBA{230, 120, 20, 255}
	colGreen  = color.RGBA{44, 160, 44, 255}
	colRed    = color.RGBA{214, 39, 40, 255}
	colPurple = color.RGBA{148, 103, 189, 255}
	colGrey   = color.RGBA{120, 120, 120, 255}
)

func positive(v float64) (float64, bool) { return v, v > 0 }

// lossCurvesPNG draws lossPanels.
func lossCurvesPNG(c *analysis.TrainingCurves, mark float64) ([]byte, error) {
	return curvesPNG(lossPanels(c), 3, mark, "Training losses against step")
}

// lossPanels: one panel per loss term (unweighted and weighted) in
// graph.TermSpecs order, one for the total loss and, with weights, one of
// the weighted terms side by side.
func lossPanels(c *analysis.TrainingCurves) []curvePanel {
	w := c.Weights
	var panels []curvePanel
	for ti, t := range graph.TermSpecs {
		raw := series(c, t.Key, nil)
		sign, title := 1.0, t.Name+" ("+t.Key+")"
		// A negative term (cap) spanning decades is shown as -term on a
		// log axis; otherwise linearly.
		if allNeg(raw) && wantLog(negate(raw)) {
			sign, title = -1, "-"+t.Key+": "+t.Name+" negated"
		}
		p := curvePanel{title: title, ylabel: t.Key, logY: "auto", hline: math.NaN()}
		if sign < 0 {
			p.ylabel, p.logY = "-"+t.Key, "log"
			raw = negate(raw)
		} else if allNeg(raw) {
			p.title += " (negative; linear axis)"
			p.logY = ""
		}
		p.lines = append(p.lines, curveLine{label: t.Key, xy: raw, col: colBlue})
		if w != nil {
			l := w[ti]
			if l != 1 {
				p.lines = append(p.lines, curveLine{label: fmt.Sprintf("%g x %s (%s)", l, t.Key, t.WeightKey), xy: scale(raw, l), col: colOrange, dashed: true})
			} else {
				p.lines[0].label = t.Key + " (" + t.WeightKey + " = 1)"
			}
		}
		panels = append(panels, p)
	}
	panels = append(panels, curvePanel{title: "total loss (weighted sum)", ylabel: "loss", hline: math.NaN(),
		lines: []curveLine{{label: "loss", xy: series(c, "loss", nil), col: colPurple}}})
	if w != nil {
		// The weighted terms side by side: which one drives the loss.
		p := curvePanel{title: "weighted terms (lambda x term)", ylabel: "contribution to loss", hline: math.NaN()}
		cols := []color.RGBA{colBlue, colOrange, colGreen, colRed, colPurple, colGrey}
		for i, t := range graph.TermSpecs {
			p.lines = append(p.lines, curveLine{label: t.Key, xy: scale(series(c, t.Key, nil), w[i]), col: cols[i%len(cols)]})
		}
		panels = append(panels, p)
	}
	return panels
}

func optimCurvesPNG(c *analysis.TrainingCurves, mark float64, N int) ([]byte, error) {
	panels := []curvePanel{
		{title: "learning rate", ylabel: "lr", logY: "log", hline: math.NaN(),
			lines: []curveLine{{label: "lr", xy: series(c, "lr", positive), col: colBlue}}},
		{title: "gradient norm", ylabel: "grad_norm", logY: "auto", hline: math.NaN(),
			lines: []curveLine{{label: "grad_norm", xy: series(c, "grad_norm", nil), col: colOrange}}},
		{title: fmt.Sprintf("dead units (of %d)", N), ylabel: "units", hline: math.NaN(), counts: true,
			lines: []curveLine{{label: "dead_units", xy: series(c, "dead_units", nil), col: colRed}}},
	}
	return curvesPNG(panels, 3, mark, "Optimisation against step")
}

func evalCurvesPNG(c *analysis.TrainingCurves, mark float64, N int) ([]byte, error) {
	thr := math.NaN()
	for _, p := range c.Points {
		if v, ok := p["eval_grid_threshold"]; ok {
			thr = v
		}
	}
	arena := ""
	for _, p := range c.Points {
		if v, ok := p["eval_arena"]; ok {
			arena = fmt.Sprintf(", %g m arena", v)
		}
	}

	gridLabel, squareLabel := "grid (score60 > threshold)", "square (score90 > threshold)"
	if !math.IsNaN(thr) {
		gridLabel, squareLabel = fmt.Sprintf("grid (score60 > %g)", thr), fmt.Sprintf("square (score90 > %g)", thr)
	}
	if c.EvalWalks != "" {
		arena += ", " + c.EvalWalks + " walks"
	}
	scoreTitle := "grid score60"
	if c.EvalWalks == "both" {
		// The headline grid count needs both walks; the other numbers are
		// the standard walks'.
		gridLabel = strings.Replace(gridLabel, "grid", "grid under both walks", 1)
		squareLabel = strings.Replace(squareLabel, "square", "square, standard walks", 1)
		scoreTitle += " (standard walks)"
	}
	panels := []curvePanel{
		{title: fmt.Sprintf("units (of %d)%s", N, arena), ylabel: "units", hline: math.NaN(), points: true, counts: true,
			lines: []curveLine{
				{label: gridLabel, xy: series(c, "eval_grid_units", nil), col: colBlue},
				{label: squareLabel, xy: series(c, "eval_square_units", nil), col: colOrange},
				{label: "dead", xy: series(c, "eval_dead_units", nil), col: colRed, dashed: true},
				// With eval_walks = both: each kind of walks' own counts.
				{label: "grid, standard walks", xy: series(c, "eval_std_grid_units", nil), col: colGreen, dashed: true},
				{label: "grid, training walks", xy: series(c, "eval_trn_grid_units", nil), col: colPurple, dashed: true},
				{label: "square, training walks", xy: series(c, "eval_trn_square_units", nil), col: colGrey, dashed: true},
			}},
		{title: scoreTitle, ylabel: "score60", hline: thr, hlineLabel: "grid threshold", points: true,
			lines: []curveLine{
				{label: "max", xy: series(c, "eval_score60_max", nil), col: colBlue},
				{label: "90th percentile", xy: series(c, "eval_score60_p90", nil), col: colGreen},
			}},
		{title: "grid modules found", ylabel: "modules", hline: math.NaN(), points: true, counts: true,
			lines: []curveLine{{label: "modules", xy: series(c, "eval_modules", nil), col: colPurple}}},
	}
	return curvesPNG(panels, 3, mark, "In-training grid evaluation against step")
}

func allNeg(xy plotter.XYs) bool {
	for _, p := range xy {
		if p.Y >= 0 {
			return false
		}
	}
	return len(xy) > 0
}

func negate(xy plotter.XYs) plotter.XYs { return scale(xy, -1) }

func scale(xy plotter.XYs, f float64) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, p := range xy {
		out[i] = plotter.XY{X: p.X, Y: f * p.Y}
	}
	return out
}

// wantLog: positive values (zeros aside) spanning at least 1.5 decades.
func wantLog(xy plotter.XYs) bool {
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, p := range xy {
		if p.Y < 0 {
			return false
		}
		if p.Y > 0 {
			lo, hi, n = min(lo, p.Y), max(hi, p.Y), n+1
		}
	}
	return n >= 2 && hi/lo >= math.Pow(10, 1.5)
}

// smoothWindow is the running-median window for n points (1: none).
func smoothWindow(n int) int {
	if n < 60 {
		return 1
	}
	return n/30 | 1
}

// runningMedian of xy's Y over a centred window of k points.
func runningMedian(xy plotter.XYs, k int) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	buf := make([]float64, 0, k)
	for i := range xy {
		lo, hi := max(0, i-k/2), min(len(xy), i+k/2+1)
		buf = buf[:0]
		for _, p := range xy[lo:hi] {
			buf = append(buf, p.Y)
		}
		sort.Float64s(buf)
		out[i] = plotter.XY{X: xy[i].X, Y: buf[len(buf)/2]}
	}
	return out
}

func faint(c color.RGBA) color.RGBA {
	return color.RGBA{uint8(155 + int(c.R)*100/255), uint8(155 + int(c.G)*100/255), uint8(155 + int(c.B)*100/255), 255}
}

// curvesPNG draws the panels in a grid of cols columns under heading.
func curvesPNG(panels []curvePanel, cols int, mark float64, heading string) ([]byte, error) {
	rows := (len(panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	smoothed := false
	for i, cp := range panels {
		p, sm, err := curvePlot(cp, mark)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cp.title, err)
		}
		smoothed = smoothed || sm
		plots[i/cols][i%cols] = p
	}
	if smoothed {
		heading += " (faint: logged values; bold: running median)"
	}
	headH := vg.Length(26)
	W, H := 4.3*vg.Inch*vg.Length(cols), 3.3*vg.Inch*vg.Length(rows)+headH
	cv := canvas(W, H)
	return drawHeaded(cv, plots, draw.Tiles{Rows: rows, Cols: cols, PadX: 18, PadY: 14, PadLeft: 6, PadRight: 12, PadTop: 4, PadBottom: 6}, heading, headH, 13)
}

// curvePlot builds one panel; it reports whether a line was smoothed.
func curvePlot(cp curvePanel, mark float64) (*plot.Plot, bool, error) {
	p := newAxes(cp.title, "step", cp.ylabel, 11)
	p.X.Tick.Marker = stepTicks{}
	logY := cp.logY == "log"
	if cp.logY == "auto" {
		var all plotter.XYs
		for _, l := range cp.lines {
			all = append(all, l.xy...)
		}
		logY = wantLog(all)
	}
	// Values and x range.
	var ys []float64
	xlo, xhi := math.Inf(1), math.Inf(-1)
	lines := cp.lines
	for i := range lines {
		var keep plotter.XYs
		for _, q := range lines[i].xy {
			if logY && !(q.Y > 0) {
				continue
			}
			keep = append(keep, q)
			ys = append(ys, q.Y)
			xlo, xhi = min(xlo, q.X), max(xhi, q.X)
		}
		lines[i].xy = keep
	}
	if len(ys) == 0 {
		p.Title.Text += ":\nnot recorded in " + rundir.MetricsFile
		p.HideAxes()
		p.X.Label.Text, p.Y.Label.Text = "", ""
		return p, false, nil
	}
	if logY {
		p.Title.Text += " (log axis)"
	}
	if !math.IsNaN(cp.hline) && (!logY || cp.hline > 0) {
		ys = append(ys, cp.hline)
	}
	ylo, yhi := rangeOf(ys)
	if !logY {
		// Spikes: clip to the 1st-99th percentile when they would squash
		// the rest of the curve.
		q1, q99 := quantileOf(ys, 0.01), quantileOf(ys, 0.99)
		if len(ys) >= 100 && q99 > q1 && yhi-ylo > 4*(q99-q1) {
			ylo, yhi = q1, q99
			p.Title.Text += " (y clipped to 1-99%)"
		}
	}
	smoothed := false
	nLeg := 0
	for _, l := range lines {
		if len(l.xy) == 0 {
			continue
		}
		sm, err := addCurve(p, l, cp.points)
		if err != nil {
			return nil, false, err
		}
		smoothed = smoothed || sm
		nLeg++
	}
	if !math.IsNaN(cp.hline) && (!logY || cp.hline > 0) {
		hl, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: cp.hline}, {X: xhi, Y: cp.hline}})
		if err != nil {
			return nil, false, err
		}
		hl.Color, hl.Dashes = colGrey, []vg.Length{2, 2}
		p.Add(hl)
		p.Legend.Add(fmt.Sprintf("%s %g", cp.hlineLabel, cp.hline), hl)
		nLeg++
	}
	curveYAxis(p, cp, logY, ylo, yhi, nLeg)
	if xlo == xhi {
		xlo, xhi = xlo-1, xhi+1
	}
	p.X.Min, p.X.Max = xlo, xhi
	if mark >= 0 && mark >= xlo && mark <= xhi*1.001 {
		ml, err := plotter.NewLine(plotter.XYs{{X: mark, Y: p.Y.Min}, {X: mark, Y: p.Y.Max}})
		if err != nil {
			return nil, false, err
		}
		ml.Color, ml.Dashes, ml.Width = colGrey, []vg.Length{4, 3}, 1
		p.Add(ml)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = 9
	p.Legend.Padding = 1
	return p, smoothed, nil
}

// addCurve draws one line of a panel: with many points its raw values
// faint under their running median (reported true), with few (or points)
// as line and dots, else as a line.
func addCurve(p *plot.Plot, l curveLine, points bool) (bool, error) {
	style := func(ls *draw.LineStyle, col color.RGBA, w vg.Length) {
		ls.Color, ls.Width = col, w
		if l.dashed {
			ls.Dashes = []vg.Length{5, 3}
		}
	}
	k := smoothWindow(len(l.xy))
	smoothed := k > 1
	shown, width := l.xy, vg.Length(1.5)
	if smoothed {
		raw, err := plotter.NewLine(l.xy)
		if err != nil {
			return false, err
		}
		style(&raw.LineStyle, faint(l.col), 0.8)
		raw.LineStyle.Dashes = nil
		p.Add(raw)
		shown, width = runningMedian(l.xy, k), 1.8
	}
	ln, err := plotter.NewLine(shown)
	if err != nil {
		return false, err
	}
	style(&ln.LineStyle, l.col, width)
	p.Add(ln)
	if smoothed || !(points || len(l.xy) < 15) {
		p.Legend.Add(l.label, ln)
		return smoothed, nil
	}
	pts, err := plotter.NewScatter(l.xy)
	if err != nil {
		return false, err
	}
	pts.GlyphStyle.Color, pts.GlyphStyle.Radius, pts.GlyphStyle.Shape = l.col, 2.5, draw.CircleGlyph{}
	p.Add(pts)
	p.Legend.Add(l.label, ln, pts)
	return false, nil
}

// curveYAxis sets a panel's y range from its values' [ylo, yhi] (log or
// linear, counts from 0), with room above the data for nLeg legend
// entries.
func curveYAxis(p *plot.Plot, cp curvePanel, logY bool, ylo, yhi float64, nLeg int) {
	frac := 0.08 + 0.1*float64(nLeg)
	if logY {
		if ylo == yhi {
			p.Title.Text += fmt.Sprintf(": %.4g throughout", ylo)
		}
		if yhi/ylo < 2 { // (nearly) constant: a decade around it
			ylo, yhi = ylo/3, yhi*3
		}
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
		p.Y.Min, p.Y.Max = ylo/math.Pow(yhi/ylo, 0.04), yhi*math.Pow(yhi/ylo, frac)
	} else {
		if cp.counts {
			ylo, yhi = min(0, ylo), max(yhi, 1)
			p.Y.Tick.Marker = intTicks{}
		}
		span := yhi - ylo
		if span == 0 {
			span = math.Max(math.Abs(yhi), 1) * 0.2
			ylo -= span / 2
		}
		p.Y.Min, p.Y.Max = ylo-0.05*span, yhi+frac*span
		if cp.counts && ylo == 0 {
			p.Y.Min = 0
		}
	}
}

func rangeOf(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func quantileOf(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

// logTicks labels the decades in range, or 1-2-5 steps when the range
// spans less than two decades.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	d0, d1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	labelled := 0
	for d := d0; d <= d1; d++ {
		if v := math.Pow10(d); v >= lo && v <= hi {
			labelled++
		}
	}
	step := max(1, (d1-d0+5)/6) // at most ~6 labelled decades
	label := func(d, m int) bool {
		switch {
		case labelled >= 2:
			return m == 1 && (d-d0)%step == 0
		case hi/lo >= 5:
			return m == 1 || m == 2 || m == 5
		}
		return true // less than a factor 5: label every tick
	}
	for d := d0; d <= d1; d++ {
		base := math.Pow10(d)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < lo || v > hi {
				continue
			}
			lab := ""
			if label(d, m) {
				lab = logLabel(m, d)
			}
			t = append(t, plot.Tick{Value: v, Label: lab})
		}
	}
	return t
}

// logLabel writes m x 10^d: plainly between 0.001 and 1000, else as 2e-05.
func logLabel(m, d int) string {
	if d >= -3 && d <= 3 {
		return strconv.FormatFloat(float64(m)*math.Pow10(d), 'f', -1, 64)
	}
	return fmt.Sprintf("%de%d", m, d)
}

// stepTicks are the default ticks with steps written in full, or all in
// thousands (k) or millions (M), never in exponent notation.
type stepTicks struct{}

func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	t := plot.DefaultTicks{}.Ticks(lo, hi)
	top := 0.0
	for _, tk := range t {
		if tk.Label != "" {
			top = max(top, math.Abs(tk.Value))
		}
	}
	unit, suffix := 1.0, ""
	switch {
	case top >= 1e6:
		unit, suffix = 1e6, "M"
	case top >= 1e4:
		unit, suffix = 1e3, "k"
	}
	for i := range t {
		if t[i].Label == "" {
			continue
		}
		v := math.Round(t[i].Value/unit*1e6) / 1e6
		t[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		if v != 0 {
			t[i].Label += suffix
		}
	}
	return t
}

// intTicks are the default ticks less those between whole numbers.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for _, tk := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if tk.Value == math.Trunc(tk.Value) {
			if tk.Label != "" {
				tk.Label = strconv.FormatFloat(tk.Value, 'f', 0, 64)
			}
			t = append(t, tk)
		}
	}
	return t
}

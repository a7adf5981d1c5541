package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gridgpu/gridgpu/analysis"
)

// viridis anchors (matplotlib's viridis at 0, 1/8, ..., 1); colours in
// between are interpolated linearly, which is indistinguishable at tile size.
var viridis = [...][3]float64{
	{68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
	{39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37},
}

// newAxes is a plot with a title and axis labels; titleSize > 0 sets the
// title's font size (0 keeps gonum's).
func newAxes(title, xlabel, ylabel string, titleSize vg.Length) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	if titleSize > 0 {
		p.Title.TextStyle.Font.Size = titleSize
	}
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	return p
}

// missingColour marks unvisited bins and undefined SAC lags.
var missingColour = color.RGBA{225, 225, 225, 255}

func colourAt(t float64) color.RGBA {
	t = max(0, min(1, t)) * float64(len(viridis)-1)
	i := min(int(t), len(viridis)-2)
	f := t - float64(i)
	a, b := viridis[i], viridis[i+1]
	return color.RGBA{uint8(a[0] + f*(b[0]-a[0]) + 0.5), uint8(a[1] + f*(b[1]-a[1]) + 0.5), uint8(a[2] + f*(b[2]-a[2]) + 0.5), 255}
}

// finiteRange returns the smallest and largest finite values of m (NaN, NaN
// if there are none).
func finiteRange(m []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo > hi {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// mapImage renders an nx by ny map (m[ix*ny+iy]) with x to the right and y
// up, scaled from lo (dark) to hi (bright).
func mapImage(m []float64, nx, ny int, lo, hi float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, nx, ny))
	span := hi - lo
	for ix := 0; ix < nx; ix++ {
		for iy := 0; iy < ny; iy++ {
			v := m[ix*ny+iy]
			c := missingColour
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				t := 0.5
				if span > 0 {
					t = (v - lo) / span
				}
				c = colourAt(t)
			}
			img.SetRGBA(ix, ny-1-iy, c)
		}
	}
	return img
}

// tile is one small titled map in a panel, with a colour bar from lo to
// hi unless noBar.
type tile struct {
	title  string
	m      []float64
	nx, ny int
	lo, hi float64
	noBar  bool
}

// barRoom is the width of a tile with its colour bar over the map's width.
const barRoom = 1.5

// colourBar is a vertical bar of the colour map, 1 by 64 pixels.
var colourBar = func() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 1, 64))
	for y := 0; y < 64; y++ {
		img.SetRGBA(0, 63-y, colourAt(float64(y)/63))
	}
	return img
}()

// fmtBar formats a colour bar's end label.
func fmtBar(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// newTitlePlot returns a plot with a small title and no axes.
func newTitlePlot(title string, size vg.Length) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = size
	p.Title.Padding = 2
	p.HideAxes()
	return p
}

// panelPNG draws tiles in a grid, tileW wide each, and returns the PNG.
func panelPNG(tiles []tile, tileW vg.Length, heading string) ([]byte, error) {
	if len(tiles) == 0 {
		return emptyPNG(heading + ": nothing to show")
	}
	cols := int(math.Ceil(math.Sqrt(float64(len(tiles)))))
	rows := (len(tiles) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	for i, t := range tiles {
		p := newTitlePlot(t.title, 7)
		// Equal data ranges on both axes keep bins square; the colour bar
		// and its labels take the room to the right of the map.
		nx, ny := float64(t.nx), float64(t.ny)
		p.Add(plotter.NewImage(mapImage(t.m, t.nx, t.ny, t.lo, t.hi), 0, 0, nx, ny))
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, barRoom*nx, 0, ny
		if !t.noBar && !math.IsNaN(t.lo) {
			p.Add(plotter.NewImage(colourBar, 1.05*nx, 0, 1.13*nx, ny))
			lab, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    []plotter.XY{{X: 1.16 * nx, Y: 0}, {X: 1.16 * nx, Y: ny * 0.93}},
				Labels: []string{fmtBar(t.lo), fmtBar(t.hi)},
			})
			if err == nil {
				for k := range lab.TextStyle {
					lab.TextStyle[k].Font.Size = 6
				}
				p.Add(lab)
			}
		}
		plots[i/cols][i%cols] = p
	}
	headH := vg.Length(28)
	W := tileW * barRoom * vg.Length(cols)
	H := (tileW+vg.Length(16))*vg.Length(rows) + headH
	c := canvas(W, H)
	return drawHeaded(c, plots, draw.Tiles{Rows: rows, Cols: cols, PadX: 2, PadY: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}, heading, headH, 12)
}

// canvas is a figure's page: white, at 96 dots per inch, the resolution
// every figure of a report (and a sweep's thumbnails) is drawn at.
func canvas(w, h vg.Length) *vgimg.Canvas {
	return vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
}

func encodePNG(c *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PlotPNG draws one plot on a w by h canvas and returns it as PNG.
func PlotPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := canvas(w, h)
	p.Draw(draw.New(c))
	return encodePNG(c)
}

func emptyPNG(msg string) ([]byte, error) {
	p := newTitlePlot(msg, 11)
	return PlotPNG(p, 5*vg.Inch, 1*vg.Inch)
}

// scoreOrder returns unit indices sorted by decreasing score60, undefined
// scores last.
func scoreOrder(scores []analysis.Score) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	key := func(u int) float64 {
		if math.IsNaN(scores[u].Score60) {
			return math.Inf(-1)
		}
		return scores[u].Score60
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(idx[a]) > key(idx[b]) })
	return idx
}

func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// ratemapPanel draws every unit's ratemap, sorted by grid score, each
// titled with the unit, its score and the map's range.
func ratemapPanel(ar *analysis.ArenaResult) ([]byte, error) {
	nb := ar.Bins.NB
	silent := silentSet(ar)
	var tiles []tile
	for _, u := range unitOrder(ar) {
		m := ar.Ratemaps[u*nb*nb : (u+1)*nb*nb]
		if silent[u] {
			tiles = append(tiles, silentTile(u, nb, nb))
			continue
		}
		lo, hi := finiteRange(m)
		tiles = append(tiles, tile{
			title: fmt.Sprintf("unit %d  g60 %s\n%s", u, fmtScore(ar.Scores[u].Score60), fourierTitle(ar.Fourier, u)),
			m:     m, nx: nb, ny: nb, lo: lo, hi: hi,
		})
	}
	return panelPNG(tiles, 1.3*vg.Inch, fmt.Sprintf("Ratemaps, %g m arena (%dx%d bins of %.3g m; grey = unvisited; %d silent), sorted by grid score", ar.Side, nb, nb, ar.Bins.BinSize(), len(ar.Silent)))
}

// EvalPicturePNG is the small ratemap picture of an in-training
// evaluation: every unit's map, sorted by grid score, in tiles of half the
// report's size with no colour bars, so that a run can keep one per
// evaluation (a third of a report's ratemap figure, 0.2-0.4 MB at N = 64).
func EvalPicturePNG(ar *analysis.ArenaResult, heading string) ([]byte, error) {
	nb := ar.Bins.NB
	silent := silentSet(ar)
	var tiles []tile
	for _, u := range unitOrder(ar) {
		if silent[u] {
			t := silentTile(u, nb, nb)
			t.title, t.noBar = fmt.Sprintf("%d  silent", u), true
			tiles = append(tiles, t)
			continue
		}
		m := ar.Ratemaps[u*nb*nb : (u+1)*nb*nb]
		lo, hi := finiteRange(m)
		tiles = append(tiles, tile{
			title: fmt.Sprintf("%d  %s", u, fmtScore(ar.Scores[u].Score60)),
			m:     m, nx: nb, ny: nb, lo: lo, hi: hi, noBar: true,
		})
	}
	return panelPNG(tiles, 0.65*vg.Inch, heading)
}

// silentSet is the set of the arena's silent units.
func silentSet(ar *analysis.ArenaResult) map[int]bool {
	s := map[int]bool{}
	for _, u := range ar.Silent {
		s[u] = true
	}
	return s
}

// unitOrder is scoreOrder with the silent units last.
func unitOrder(ar *analysis.ArenaResult) []int {
	silent := silentSet(ar)
	var live, dead []int
	for _, u := range scoreOrder(ar.Scores) {
		if silent[u] {
			dead = append(dead, u)
		} else {
			live = append(live, u)
		}
	}
	return append(live, dead...)
}

// silentTile is the tile of a unit that never fires: blank, no colour bar.
func silentTile(u, nx, ny int) tile {
	m := make([]float64, nx*ny)
	for i := range m {
		m[i] = math.NaN()
	}
	return tile{title: fmt.Sprintf("unit %d\nSILENT (zero everywhere)", u), m: m, nx: nx, ny: ny, lo: math.NaN(), hi: math.NaN(), noBar: true}
}

// fourierTitle is the Fourier lattice of unit u in a few words.
func fourierTitle(f []analysis.FourierUnit, u int) string {
	if u >= len(f) {
		return ""
	}
	switch f[u].Kind {
	case analysis.LatticeHexagonal:
		return fmt.Sprintf("hex %.3g m %.0f deg", f[u].Spacing, f[u].Orientation)
	case analysis.LatticeSheared:
		return fmt.Sprintf("sheared %.3g m %.0f deg x%.2f", f[u].Spacing, f[u].Orientation, f[u].Stretch)
	case analysis.LatticeSquare:
		return fmt.Sprintf("square %.3g m %.0f deg", f[u].Spacing, f[u].Orientation)
	}
	return "no lattice"
}

// sacPanel draws the SACs in the same order as ratemapPanel.
func sacPanel(ar *analysis.ArenaResult) ([]byte, error) {
	nb := ar.Bins.NB
	silent := silentSet(ar)
	var tiles []tile
	for _, u := range unitOrder(ar) {
		if silent[u] {
			tiles = append(tiles, silentTile(u, 2*nb-1, 2*nb-1))
			continue
		}
		s := ar.Scores[u]
		scale := "n/a"
		if !math.IsNaN(s.Scale) {
			scale = fmt.Sprintf("%.3g m", s.Scale)
		}
		lo, hi := finiteRange(ar.SACs[u])
		tiles = append(tiles, tile{
			title: fmt.Sprintf("unit %d  g60 %s\nscale %s  g90 %s", u, fmtScore(s.Score60), scale, fmtScore(s.Score90)),
			m:     ar.SACs[u], nx: 2*nb - 1, ny: 2*nb - 1, lo: lo, hi: hi,
		})
	}
	return panelPNG(tiles, 1.3*vg.Inch, fmt.Sprintf("Spatial autocorrelograms, %g m arena (lags up to %.3g m; grey = undefined), same order", ar.Side, float64(nb-1)*ar.Bins.BinSize()))
}

// histogramsPNG draws histograms of score60 (all units) and of scale (all
// units with a defined scale in grey, grid units in blue on the same bins).
func histogramsPNG(ar *analysis.ArenaResult, minScore float64) ([]byte, error) {
	var g60, sc, scGrid plotter.Values
	for _, s := range ar.Scores {
		if !math.IsNaN(s.Score60) {
			g60 = append(g60, s.Score60)
		}
		if !math.IsNaN(s.Scale) {
			sc = append(sc, s.Scale)
			if s.Score60 > minScore {
				scGrid = append(scGrid, s.Scale)
			}
		}
	}
	blue := color.RGBA{59, 81, 139, 255}
	mk := func(vals, sub plotter.Values, withSub bool, title, xlabel string, mark float64) (*plot.Plot, error) {
		p := newAxes(title, xlabel, "units", 0)
		p.Y.Tick.Marker = intTicks{}
		if len(vals) == 0 {
			p.Title.Text += " (none defined)"
			return p, nil
		}
		h, err := plotter.NewHist(vals, max(5, min(30, len(vals)/2)))
		if err != nil {
			return nil, err
		}
		h.FillColor = blue
		top := maxBar(h)
		if withSub {
			h.FillColor = color.RGBA{200, 200, 200, 255}
			p.Add(h)
			// The same bin edges, counting only sub.
			hs := &plotter.Histogram{Width: h.Width, FillColor: blue, LineStyle: h.LineStyle}
			for _, b := range h.Bins {
				nb := plotter.HistogramBin{Min: b.Min, Max: b.Max}
				for _, v := range sub {
					if v >= b.Min && (v < b.Max || (b.Max == h.Bins[len(h.Bins)-1].Max && v == b.Max)) {
						nb.Weight++
					}
				}
				hs.Bins = append(hs.Bins, nb)
			}
			p.Add(hs)
			p.Legend.Add("all units", h)
			p.Legend.Add(fmt.Sprintf("grid units (score60 > %.2g)", minScore), hs)
			p.Legend.Top = true
		} else {
			p.Add(h)
		}
		if !math.IsNaN(mark) {
			l, err := plotter.NewLine(plotter.XYs{{X: mark, Y: 0}, {X: mark, Y: top}})
			if err != nil {
				return nil, err
			}
			l.Color = color.RGBA{200, 30, 30, 255}
			l.Dashes = []vg.Length{4, 3}
			p.Add(l)
		}
		return p, nil
	}
	p1, err := mk(g60, nil, false, fmt.Sprintf("Grid score 60, %g m arena (%d units; dashed: threshold %.2g)", ar.Side, len(g60), minScore), "score60", minScore)
	if err != nil {
		return nil, err
	}
	p2, err := mk(sc, scGrid, true, fmt.Sprintf("Grid scale, %g m arena (%d units with a scale)", ar.Side, len(sc)), "scale (m)", math.NaN())
	if err != nil {
		return nil, err
	}
	c := canvas(11*vg.Inch, 4*vg.Inch)
	dc := draw.New(c)
	canv := plot.Align([][]*plot.Plot{{p1, p2}}, draw.Tiles{Rows: 1, Cols: 2, PadX: 20, PadLeft: 5, PadRight: 10, PadTop: 5, PadBottom: 5}, dc)
	p1.Draw(canv[0][0])
	p2.Draw(canv[0][1])
	return encodePNG(c)
}

func maxBar(h *plotter.Histogram) float64 {
	m := 1.0
	for _, b := range h.Bins {
		m = max(m, b.Weight)
	}
	return m
}

// moduleColours distinguish modules in scatter plots.
var moduleColours = []color.RGBA{
	{228, 26, 28, 255}, {55, 126, 184, 255}, {77, 175, 74, 255}, {152, 78, 163, 255},
	{255, 127, 0, 255}, {166, 86, 40, 255}, {247, 129, 191, 255}, {0, 160, 160, 255},
}

// modulesPNG plots scale against orientation, one colour per module.
func modulesPNG(ar *analysis.ArenaResult, minScore float64) ([]byte, error) {
	p := newAxes(fmt.Sprintf("Scale vs orientation, %g m arena: %d modules among %d grid units", ar.Side, len(ar.Modules.Modules), len(ar.Modules.GridUnits)), "orientation (degrees, mod 60)", "scale (m)", 0)
	p.X.Min, p.X.Max = 0, 60
	p.Legend.Top = true
	inModule := map[int]bool{}
	for _, m := range ar.Modules.Modules {
		for _, u := range m.Units {
			inModule[u] = true
		}
	}
	grid := map[int]bool{}
	for _, u := range ar.Modules.GridUnits {
		grid[u] = true
	}
	add := func(units []int, name string, col color.RGBA, shape draw.GlyphDrawer, r vg.Length) error {
		var xy plotter.XYs
		for _, u := range units {
			s := ar.Scores[u]
			if !math.IsNaN(s.Scale) && !math.IsNaN(s.Orientation) {
				xy = append(xy, plotter.XY{X: s.Orientation, Y: s.Scale})
			}
		}
		if len(xy) == 0 {
			return nil
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = col
		sc.GlyphStyle.Shape = shape
		sc.GlyphStyle.Radius = r
		p.Add(sc)
		p.Legend.Add(name, sc)
		return nil
	}
	var other, unassigned []int
	for u := range ar.Scores {
		switch {
		case !grid[u]:
			other = append(other, u)
		case !inModule[u]:
			unassigned = append(unassigned, u)
		}
	}
	if err := add(other, fmt.Sprintf("score60 <= %.2g", minScore), color.RGBA{190, 190, 190, 255}, draw.RingGlyph{}, 2); err != nil {
		return nil, err
	}
	if err := add(unassigned, "grid, no module", color.RGBA{60, 60, 60, 255}, draw.CrossGlyph{}, 3); err != nil {
		return nil, err
	}
	for i, m := range ar.Modules.Modules {
		name := fmt.Sprintf("module %d: %.3g m, %.1f deg, %d units", m.ID, m.Period, m.Orientation, len(m.Units))
		if err := add(m.Units, name, moduleColours[i%len(moduleColours)], draw.CircleGlyph{}, 3.5); err != nil {
			return nil, err
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, sc := range ar.Scores {
		if !math.IsNaN(sc.Scale) && !math.IsNaN(sc.Orientation) {
			lo, hi = min(lo, sc.Scale), max(hi, sc.Scale)
		}
	}
	padTop(p, lo, hi, 0.1+0.07*float64(len(ar.Modules.Modules)+2))
	return PlotPNG(p, 7*vg.Inch, 5*vg.Inch)
}

// minCurvePairs is the fewest pairs a distance bin needs to be plotted;
// the last bins, near the arena diagonal, hold only a handful.
const minCurvePairs = 50

// distancePNG plots the neural distance curve of each arena in a panel of
// its own: the mean as a line and +-1 standard deviation as a band.
func distancePNG(res *analysis.Result) ([]byte, error) {
	var plots []*plot.Plot
	for i := range res.Arenas {
		ar := &res.Arenas[i]
		col := moduleColours[1]
		p := newAxes(fmt.Sprintf("%g m arena", ar.Side), "spatial distance ||x_i - x_j|| (m)", "neural distance ||g_i - g_j||", 0)
		var mean, band, upper plotter.XYs
		ymax := 0.0
		for b, x := range ar.Distance.Spatial {
			m, s := float64(ar.Distance.Mean[b]), float64(ar.Distance.Std[b])
			if math.IsNaN(m) || ar.Distance.Pairs[b] < minCurvePairs {
				continue
			}
			mean = append(mean, plotter.XY{X: x, Y: m})
			band = append(band, plotter.XY{X: x, Y: max(0, m-s)})
			upper = append(upper, plotter.XY{X: x, Y: m + s})
			ymax = max(ymax, m+s)
		}
		plots = append(plots, p)
		if len(mean) < 2 {
			p.Title.Text += " (too few pairs)"
			continue
		}
		for k := len(upper) - 1; k >= 0; k-- {
			band = append(band, upper[k])
		}
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return nil, err
		}
		poly.Color = color.NRGBA{col.R, col.G, col.B, 60}
		poly.LineStyle.Width = 0
		p.Add(poly)
		l, err := plotter.NewLine(mean)
		if err != nil {
			return nil, err
		}
		l.Color = col
		l.Width = 2
		p.Add(l)
		p.Y.Min, p.Y.Max = 0, ymax*1.05
	}
	return gridOfPlots(plots, 4.2*vg.Inch, 3.2*vg.Inch, "Neural distance vs spatial distance (line: mean; band: +-1 sd)")
}

// gridOfPlots draws plots in rows of up to four cells of w by h under a
// heading.
func gridOfPlots(plots []*plot.Plot, w, h vg.Length, heading string) ([]byte, error) {
	if len(plots) == 0 {
		return emptyPNG(heading + ": nothing to show")
	}
	cols := min(len(plots), 4)
	if len(plots) == 4 {
		cols = 2
	}
	return gridOfPlotsCols(plots, cols, w, h, heading)
}

// gridOfPlotsCols draws plots in rows of cols cells of w by h.
func gridOfPlotsCols(plots []*plot.Plot, cols int, w, h vg.Length, heading string) ([]byte, error) {
	if len(plots) == 0 {
		return emptyPNG(heading + ": nothing to show")
	}
	rows := (len(plots) + cols - 1) / cols
	headH := vg.Length(26)
	c := canvas(w*vg.Length(cols), h*vg.Length(rows)+headH)
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	for i, p := range plots {
		grid[i/cols][i%cols] = p
	}
	return drawHeaded(c, grid, draw.Tiles{Rows: rows, Cols: cols, PadX: 18, PadY: 14, PadLeft: 6, PadRight: 10, PadTop: 4, PadBottom: 6}, heading, headH, 12)
}

// coveragePNG shows the visit counts of each arena.
func coveragePNG(res *analysis.Result) ([]byte, error) {
	var tiles []tile
	for i := range res.Arenas {
		ar := &res.Arenas[i]
		v := make([]float64, len(ar.Visits))
		for k, n := range ar.Visits {
			v[k] = math.NaN()
			if n > 0 {
				v[k] = math.Log10(float64(n))
			}
		}
		lo, hi := finiteRange(v)
		tiles = append(tiles, tile{
			title: fmt.Sprintf("%g m: %.1f%% of bins visited\nvisits per bin: median %.0f, max %d", ar.Side, 100*ar.Coverage.VisitedFraction, ar.Coverage.MedianVisits, ar.Coverage.MaxVisits),
			m:     v, nx: ar.Bins.NB, ny: ar.Bins.NB, lo: lo, hi: hi,
		})
	}
	return panelPNG(tiles, 2.6*vg.Inch, "Coverage: log10 visits per bin (grey = unvisited)")
}

// padTop sets the y range to the data range [lo, hi] plus frac of its span
// above, so the legend in the top corner does not cover data, and a little
// below (never below zero for data that are not negative).
func padTop(p *plot.Plot, lo, hi, frac float64) {
	if !(lo <= hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi), 1) * 0.1
	}
	p.Y.Min = lo - 0.05*span
	if lo >= 0 {
		p.Y.Min = max(0, p.Y.Min)
	}
	p.Y.Max = hi + frac*span
}

// drawHeaded draws heading (font size in points) centred in a band headH
// tall across the top of canvas c and the plots of grid (nil cells left
// blank) in tiles below it, and encodes the PNG.
func drawHeaded(c *vgimg.Canvas, grid [][]*plot.Plot, tiles draw.Tiles, heading string, headH, fontSize vg.Length) ([]byte, error) {
	dc := draw.New(c)
	hc := dc
	hc.Min.Y = dc.Max.Y - headH
	sty := plot.New().Title.TextStyle
	sty.Font.Size = fontSize
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	hc.FillText(sty, vg.Point{X: (hc.Min.X + hc.Max.X) / 2, Y: (hc.Min.Y + hc.Max.Y) / 2}, heading)
	body := dc
	body.Max.Y -= headH
	canv := plot.Align(grid, tiles, body)
	for r := range grid {
		for k, p := range grid[r] {
			if p != nil {
				p.Draw(canv[r][k])
			}
		}
	}
	return encodePNG(c)
}

package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gridgpu/gridgpu/analysis"
)

var (
	unassignedColour = color.RGBA{90, 90, 90, 255}
	dashRed          = color.RGBA{200, 30, 30, 255}
	dashBlack        = color.RGBA{0, 0, 0, 255}
)

// stackedHist adds to p a histogram of groups stacked on common bins over
// [lo, hi]; group g is drawn in cols[g] and named names[g] in the legend
// (empty groups are left out of it).
func stackedHist(p *plot.Plot, groups [][]float64, cols []color.RGBA, names []string, lo, hi float64, nbins int) error {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1 // no finite value to place: an empty histogram
	}
	if !(hi > lo) {
		lo, hi = lo-0.5, hi+0.5
	}
	w := (hi - lo) / float64(nbins)
	base := make([]float64, nbins)
	top := 1.0
	for g, vals := range groups {
		cnt := make([]float64, nbins)
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue // a polygon at NaN or Inf makes the rasteriser crawl
			}
			b := int((v - lo) / w)
			b = max(0, min(nbins-1, b))
			cnt[b]++
		}
		var first *plotter.Polygon
		for b, c := range cnt {
			if c == 0 {
				continue
			}
			x0, x1 := lo+float64(b)*w, lo+float64(b+1)*w
			y0, y1 := base[b], base[b]+c
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			if err != nil {
				return err
			}
			poly.Color = cols[g]
			poly.LineStyle.Color = color.White
			poly.LineStyle.Width = 0.5
			p.Add(poly)
			if first == nil {
				first = poly
			}
			base[b] = y1
			top = max(top, y1)
		}
		if first != nil {
			p.Legend.Add(names[g], first)
		}
	}
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min, p.Y.Max = 0, top*1.35+0.5
	p.Y.Tick.Marker = intTicks{}
	p.Y.Label.Text = "units"
	p.Legend.Top = true
	return nil
}

// vline adds a dashed vertical line at x from 0 to y.
func vline(p *plot.Plot, x, y float64, col color.RGBA) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: y}})
	if err != nil {
		return err
	}
	l.Color = col
	l.Dashes = []vg.Length{4, 3}
	l.Width = 1.5
	p.Add(l)
	return nil
}

// latticeCounts counts the units of each Fourier kind (every kind, zero
// counts too, so that summary.json shows them all).
func latticeCounts(f []analysis.FourierUnit) map[string]int {
	c := map[string]int{}
	for _, k := range []string{analysis.LatticeHexagonal, analysis.LatticeSheared, analysis.LatticeSquare, analysis.LatticeNone, analysis.LatticeSilent, analysis.LatticeFlat} {
		c[k] = 0
	}
	for _, u := range f {
		c[u.Kind]++
	}
	return c
}

// fourierPNG draws the histograms of the Fourier spacings and orientations
// of the hexagonal and sheared units (those that analysis.FourierModules
// groups), stacked by Fourier module, with the SAC-scale modules' periods
// as dashed lines.
func fourierPNG(ar *analysis.ArenaResult) ([]byte, error) {
	rep := ar.FourierModules
	inMod := map[int]int{}
	for i, m := range rep.Modules {
		for _, u := range m.Units {
			inMod[u] = i
		}
	}
	ng := len(rep.Modules) + 1
	spac := make([][]float64, ng)
	ori := make([][]float64, ng)
	lo, hi := math.Inf(1), math.Inf(-1)
	for u, f := range ar.Fourier {
		if f.Kind != analysis.LatticeHexagonal && f.Kind != analysis.LatticeSheared {
			continue
		}
		g, ok := inMod[u]
		if !ok {
			g = ng - 1
		}
		if !finitePositive(f.Spacing) {
			continue
		}
		spac[g] = append(spac[g], f.Spacing)
		ori[g] = append(ori[g], f.Orientation)
		lo, hi = min(lo, f.Spacing), max(hi, f.Spacing)
	}
	for _, m := range ar.Modules.Modules {
		if finitePositive(m.Period) {
			lo, hi = min(lo, m.Period), max(hi, m.Period)
		}
	}
	cols := make([]color.RGBA, ng)
	names := make([]string, ng)
	for i, m := range rep.Modules {
		cols[i] = moduleColours[i%len(moduleColours)]
		names[i] = fmt.Sprintf("module %d: %.3g m, %.1f deg, %d units", m.ID, m.Period, m.Orientation, len(m.Units))
	}
	cols[ng-1], names[ng-1] = unassignedColour, "hexagonal or sheared, no module"
	kinds := latticeCounts(ar.Fourier)

	p1 := newAxes(fmt.Sprintf("Fourier lattice spacing, %g m arena (%d hexagonal, %d sheared units)", ar.Side, kinds[analysis.LatticeHexagonal], kinds[analysis.LatticeSheared]),
		"spacing 2/(sqrt(3)|f|); sheared: of the hexagonal lattice of equal cell area (m)", "", 0)
	p2 := newAxes(fmt.Sprintf("Fourier orientation, %g m arena", ar.Side), "orientation of the lattice (degrees, mod 60)", "", 0)
	if math.IsInf(lo, 1) {
		p1.Title.Text += ": none"
		p2.Title.Text += ": none"
		lo, hi = 0, 1
	} else {
		pad := 0.1 * max(hi-lo, 0.1*hi)
		lo, hi = max(0, lo-pad), hi+pad
	}
	if err := stackedHist(p1, spac, cols, names, lo, hi, 30); err != nil {
		return nil, err
	}
	for i, m := range ar.Modules.Modules {
		if err := vline(p1, m.Period, p1.Y.Max*0.7, dashBlack); err != nil {
			return nil, err
		}
		if i == 0 {
			l, _ := plotter.NewLine(plotter.XYs{{X: m.Period, Y: 0}, {X: m.Period, Y: 0}})
			l.Color, l.Dashes, l.Width = dashBlack, []vg.Length{4, 3}, 1.5
			p1.Legend.Add("SAC-scale module periods", l)
		}
	}
	if err := stackedHist(p2, ori, cols, names, 0, 60, 30); err != nil {
		return nil, err
	}
	// The lattice counts and the comparison of the two module methods are
	// in the figure's heading, not in a panel of text labels: gonum's label
	// layout on an axis-less panel could take minutes to draw.
	heading := fmt.Sprintf("Fourier modules, %g m arena: %d hexagonal, %d sheared, %d square, %d no lattice, %d silent; Fourier modules %s; SAC-scale modules %s",
		ar.Side, kinds[analysis.LatticeHexagonal], kinds[analysis.LatticeSheared], kinds[analysis.LatticeSquare], kinds[analysis.LatticeNone]+kinds[analysis.LatticeFlat], kinds[analysis.LatticeSilent], periodList(rep), periodList(ar.Modules))
	return gridOfPlots([]*plot.Plot{p1, p2}, 5.2*vg.Inch, 4.2*vg.Inch, heading)
}

// periodList is "0.52, 0.73 m (ratio 1.4)" or "none".
func periodList(r analysis.ModuleReport) string {
	if len(r.Modules) == 0 {
		return "none"
	}
	var p []string
	for _, m := range r.Modules {
		p = append(p, fmt.Sprintf("%.3g", m.Period))
	}
	s := strings.Join(p, ", ") + " m"
	if len(r.Ratios) > 0 {
		var q []string
		for _, v := range r.Ratios {
			q = append(q, fmt.Sprintf("%.2f", v))
		}
		s += " (ratios " + strings.Join(q, ", ") + ")"
	}
	return s
}

func agreementLine(c analysis.ModuleComparison) string {
	if c.Agree {
		return "The two methods agree: " + c.Note + "."
	}
	return "THE METHODS DISAGREE: " + c.Note + "."
}

// arenasPNG shows the generalisation claim at a glance: score60 of every
// unit against arena side (faint lines; median and 90th percentile bold),
// module periods of both methods against arena side, and the numbers of
// grid and hexagonal units.
func arenasPNG(res *analysis.Result) ([]byte, error) {
	sides := make([]float64, len(res.Arenas))
	for i := range res.Arenas {
		sides[i] = res.Arenas[i].Side
	}
	var plots []*plot.Plot
	for _, panel := range []func(*analysis.Result, []float64) (*plot.Plot, error){scoresByArena, periodsByArena, unitsByArena} {
		p, err := panel(res, sides)
		if err != nil {
			return nil, err
		}
		plots = append(plots, p)
	}
	return gridOfPlots(plots, 4.6*vg.Inch, 3.8*vg.Inch, fmt.Sprintf("Generalisation across arenas (N = %d units)", res.N))
}

// scoresByArena: every unit's score60 against the arena side, with the
// median, the 90th percentile and the grid threshold.
func scoresByArena(res *analysis.Result, sides []float64) (*plot.Plot, error) {
	thr := res.Options.Modules.MinScore
	p1 := newAxes("Grid score60 against arena size", "arena side (m)", "score60", 0)
	faintGrey := color.RGBA{185, 195, 215, 255}
	for u := 0; u < res.N; u++ {
		var xy plotter.XYs
		for i := range res.Arenas {
			if v := res.Arenas[i].Scores[u].Score60; !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: sides[i], Y: v})
			}
		}
		if len(xy) >= 2 {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = faintGrey, 0.6
			p1.Add(l)
		}
	}
	for qi, q := range []float64{0.5, 0.9} {
		var xy plotter.XYs
		for i := range res.Arenas {
			var v []float64
			for _, s := range res.Arenas[i].Scores {
				if !math.IsNaN(s.Score60) {
					v = append(v, s.Score60)
				}
			}
			if len(v) > 0 {
				sort.Float64s(v)
				xy = append(xy, plotter.XY{X: sides[i], Y: quantileOf(v, q)})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = moduleColours[qi+1], 2.5
		pts.Color, pts.Shape = moduleColours[qi+1], draw.CircleGlyph{}
		p1.Add(l, pts)
		p1.Legend.Add([]string{"median", "90th percentile"}[qi], l, pts)
	}
	if l, err := plotter.NewLine(plotter.XYs{{X: sides[0], Y: thr}, {X: sides[len(sides)-1], Y: thr}}); err == nil {
		l.Color, l.Dashes = dashRed, []vg.Length{4, 3}
		p1.Add(l)
		p1.Legend.Add(fmt.Sprintf("grid threshold %.2g", thr), l)
	}
	p1.Legend.Top = true
	p1.X.Tick.Marker = sideTicks(sides)
	return p1, nil
}

// periodsByArena: the modules' periods (SAC scale and Fourier) in each
// arena.
func periodsByArena(res *analysis.Result, sides []float64) (*plot.Plot, error) {
	p2 := newAxes("Module periods against arena size", "arena side (m)", "period (m)", 0)
	var sacXY, fXY plotter.XYs
	for i := range res.Arenas {
		for _, m := range res.Arenas[i].Modules.Modules {
			sacXY = append(sacXY, plotter.XY{X: sides[i] - 0.04, Y: m.Period})
		}
		for _, m := range res.Arenas[i].FourierModules.Modules {
			fXY = append(fXY, plotter.XY{X: sides[i] + 0.04, Y: m.Period})
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, set := range []struct {
		xy   plotter.XYs
		name string
		col  color.RGBA
		g    draw.GlyphDrawer
	}{{sacXY, "SAC-scale modules", moduleColours[0], draw.CircleGlyph{}}, {fXY, "Fourier modules", moduleColours[1], draw.TriangleGlyph{}}} {
		if len(set.xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(set.xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = set.col, set.g, 4
		p2.Add(sc)
		p2.Legend.Add(set.name, sc)
		for _, v := range set.xy {
			lo, hi = min(lo, v.Y), max(hi, v.Y)
		}
	}
	if math.IsInf(lo, 1) {
		p2.Title.Text += ": no modules"
		p2.Y.Min, p2.Y.Max = 0, 1
	} else {
		padTop(p2, lo, hi, 0.35)
		p2.Y.Min = 0
	}
	p2.Legend.Top = false // periods are well above 0
	p2.X.Min, p2.X.Max = sides[0]-0.3, sides[len(sides)-1]+0.3
	p2.X.Tick.Marker = sideTicks(sides)
	return p2, nil
}

// unitsByArena: how many units are grid units, of each Fourier lattice and
// silent, in each arena.
func unitsByArena(res *analysis.Result, sides []float64) (*plot.Plot, error) {
	thr := res.Options.Modules.MinScore
	p3 := newAxes("Grid and lattice units against arena size", "arena side (m)", "units", 0)
	top := 1.0
	for k, f := range []struct {
		name  string
		count func(ar *analysis.ArenaResult) int
	}{
		{fmt.Sprintf("grid units (score60 > %.2g)", thr), func(ar *analysis.ArenaResult) int { return len(ar.Modules.GridUnits) }},
		{"hexagonal Fourier lattice", func(ar *analysis.ArenaResult) int { return latticeCounts(ar.Fourier)[analysis.LatticeHexagonal] }},
		{"sheared Fourier lattice", func(ar *analysis.ArenaResult) int { return latticeCounts(ar.Fourier)[analysis.LatticeSheared] }},
		{"square Fourier lattice", func(ar *analysis.ArenaResult) int { return latticeCounts(ar.Fourier)[analysis.LatticeSquare] }},
		{"silent", func(ar *analysis.ArenaResult) int { return len(ar.Silent) }},
	} {
		var xy plotter.XYs
		for i := range res.Arenas {
			n := float64(f.count(&res.Arenas[i]))
			xy = append(xy, plotter.XY{X: sides[i], Y: n})
			top = max(top, n)
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = moduleColours[k], vg.Length(5-k)
		pts.Color, pts.Shape = moduleColours[k], draw.CircleGlyph{}
		p3.Add(l, pts)
		p3.Legend.Add(f.name, l, pts)
	}
	p3.Y.Min, p3.Y.Max = 0, top*1.45
	p3.Y.Tick.Marker = intTicks{}
	p3.Legend.Top = true
	p3.X.Tick.Marker = sideTicks(sides)
	return p3, nil
}

// sideTicks labels the arena sides.
type sideTicks []float64

func (s sideTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for _, v := range s {
		t = append(t, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
	}
	return t
}

// hue is a cyclic colour map for phases in [0, 2 pi).
func hue(ph float64) color.RGBA {
	h := math.Mod(ph/(2*math.Pi), 1)
	if h < 0 {
		h++
	}
	h *= 6
	i := int(h)
	f := h - float64(i)
	v, s := 0.92, 0.85
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var r, g, b float64
	switch i % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(255 * r), uint8(255 * g), uint8(255 * b), 255}
}

// stateSpacePNG draws one module's state space: three projections of the
// spectral embedding coloured by the lattice phase along k_a (top row) and
// k_b (bottom row), the units' phases, and the PCA spectrum.
func stateSpacePNG(ss *analysis.StateSpace) ([]byte, error) {
	var plots []*plot.Plot
	proj := [][2]int{{0, 1}, {0, 2}, {1, 2}}
	for row := 0; row < 2; row++ {
		for _, pr := range proj {
			p := newAxes(fmt.Sprintf("embedding %d vs %d, colour: phase along k_%c", pr[1]+1, pr[0]+1, "ab"[row]), fmt.Sprintf("e%d", pr[0]+1), fmt.Sprintf("e%d", pr[1]+1), 10)
			p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = 7, 7
			var xy plotter.XYs
			var cols []color.RGBA
			for i, e := range ss.Embedding {
				if len(e) <= pr[1] {
					continue
				}
				xy = append(xy, plotter.XY{X: e[pr[0]], Y: e[pr[1]]})
				cols = append(cols, hue(ss.Phases[i][row]))
			}
			if len(xy) > 0 {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return nil, err
				}
				sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
					return draw.GlyphStyle{Color: cols[i], Radius: 1.6, Shape: draw.CircleGlyph{}}
				}
				p.Add(sc)
			}
			plots = append(plots, p)
		}
		if row == 0 {
			p := newAxes(fmt.Sprintf("unit phases (spread %.2f; 1 = random)", ss.PhaseSpread), "phase along k_a (rad)", "phase along k_b (rad)", 10)
			var xy plotter.XYs
			for _, ph := range ss.UnitPhases {
				if x, y := float64(ph[0]), float64(ph[1]); !math.IsNaN(x) && !math.IsNaN(y) {
					xy = append(xy, plotter.XY{X: x, Y: y})
				}
			}
			if len(xy) > 0 {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return nil, err
				}
				sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = moduleColours[ss.Module%len(moduleColours)], 3.5, draw.CircleGlyph{}
				p.Add(sc)
			}
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 2*math.Pi, 0, 2*math.Pi
			plots = append(plots, p)
		} else {
			p := newAxes(fmt.Sprintf("PCA: share of variance (continuity %.2f; 0 = torus)", ss.Continuity), "principal component", "share of variance", 10)
			var xy plotter.XYs
			for i, v := range ss.PCAVariance {
				xy = append(xy, plotter.XY{X: float64(i + 1), Y: v})
			}
			if len(xy) > 0 {
				l, pts, err := plotter.NewLinePoints(xy)
				if err != nil {
					return nil, err
				}
				p.Add(l, pts)
			}
			p.Y.Min = 0
			p.X.Tick.Marker = intTicks{}
			plots = append(plots, p)
		}
	}
	heading := fmt.Sprintf("State space of %s module %d (%g m arena, %d units, %d states; period %.3g m)",
		ss.Method, ss.Module, ss.Arena, len(ss.Units), ss.Points, 4*math.Pi/(math.Sqrt(3)*math.Hypot(ss.KA[0], ss.KA[1])))
	return gridOfPlots4(plots, heading)
}

// gridOfPlots4 lays out eight plots in two rows of four.
func gridOfPlots4(plots []*plot.Plot, heading string) ([]byte, error) {
	return gridOfPlotsCols(plots, 4, 3.4*vg.Inch, 3.2*vg.Inch, heading)
}

// finitePositive reports whether x is a finite number above 0.
func finitePositive(x float64) bool { return x > 0 && !math.IsInf(x, 0) }

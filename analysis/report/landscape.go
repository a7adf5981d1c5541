package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"

	"github.com/gridgpu/gridgpu/analysis"
)

// familyColour is a family's fill colour, fixed per family (not per
// diagram) so that diagrams of different sweeps read alike.
func familyColour(family string) color.RGBA {
	pastel := func(c color.RGBA) color.RGBA {
		// Halfway to white: the cells' text stays readable.
		return color.RGBA{uint8((int(c.R) + 255) / 2), uint8((int(c.G) + 255) / 2), uint8((int(c.B) + 255) / 2), 255}
	}
	for i, f := range analysis.CodeFamilies {
		if f == family {
			return pastel(moduleColours[i%len(moduleColours)])
		}
	}
	return missingColour
}

// PhaseDiagramPNG draws the diagram: one square per cell, coloured by its
// winning family, with the winner's best period and the margin to the
// runner-up written in it. heading goes above the plot.
func PhaseDiagramPNG(pd *analysis.PhaseDiagram, heading string) ([]byte, error) {
	nx, ny := len(pd.XValues), len(pd.YValues)
	if nx == 0 || ny == 0 {
		return emptyPNG(heading + ": no cells")
	}
	p := newAxes(heading, pd.XKey, pd.YKey, 11)
	ticks := func(vs []float64) plot.ConstantTicks {
		var ts plot.ConstantTicks
		for i, v := range vs {
			ts = append(ts, plot.Tick{Value: float64(i), Label: strconv.FormatFloat(v, 'g', 4, 64)})
		}
		return ts
	}
	// The axes are the sweep's indices, labelled with the values, so that
	// unevenly spaced values get cells of one size.
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks(pd.XValues), ticks(pd.YValues)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(nx)-0.5, -0.5, float64(ny)-0.5
	// Each cell names its winner, so the colours need no legend (which
	// gonum/plot would draw over the cells).
	var (
		xys    plotter.XYs
		labels []string
	)
	for iy := 0; iy < ny; iy++ {
		for ix := 0; ix < nx; ix++ {
			c := pd.Cells[iy][ix]
			x, y := float64(ix), float64(iy)
			sq, err := plotter.NewPolygon(plotter.XYs{{X: x - 0.5, Y: y - 0.5}, {X: x + 0.5, Y: y - 0.5}, {X: x + 0.5, Y: y + 0.5}, {X: x - 0.5, Y: y + 0.5}})
			if err != nil {
				return nil, err
			}
			w := c.Winner()
			sq.Color = familyColour(w)
			sq.LineStyle.Color = color.White
			sq.LineStyle.Width = 1.5
			p.Add(sq)
			label := "no finite loss"
			if w != "" {
				label = fmt.Sprintf("%s\n%.3g m\nmargin %s", w, c.Best[0].Code.Period, fmtMargin(c.Margin()))
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			labels = append(labels, label)
		}
	}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, err
	}
	for k := range lab.TextStyle {
		lab.TextStyle[k].Font.Size = 9
		lab.TextStyle[k].XAlign, lab.TextStyle[k].YAlign = text.XCenter, text.YCenter
	}
	p.Add(lab)
	w := vg.Length(max(6, 1.6*float64(nx)+2)) * vg.Inch
	h := vg.Length(max(4, 1.1*float64(ny)+1.5)) * vg.Inch
	return PlotPNG(p, w, h)
}

// fmtMargin formats a margin ("n/a" without a runner-up).
func fmtMargin(m float64) string {
	if math.IsNaN(m) {
		return "n/a"
	}
	return strconv.FormatFloat(m, 'g', 3, 64)
}

package sweep

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gridgpu/gridgpu/analysis/report"
	"github.com/gridgpu/gridgpu/data"
)

// ThumbDir holds the loss-curve thumbnails, one per run, in the sweep
// directory.
const ThumbDir = "thumbs"

// lossThumb draws a small PNG of the total loss against the step.
func lossThumb(curve [][2]float64) ([]byte, error) {
	p := plot.New()
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss"
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = 8
		ax.Tick.Label.Font.Size = 7
	}
	xys := make(plotter.XYs, len(curve))
	for i, c := range curve {
		xys[i].X, xys[i].Y = c[0], c[1]
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	p.Add(l) // before the range is set: Add widens it to the data
	// The first steps' loss (the conformal-isometry term starts in the
	// hundreds) would flatten the rest of the curve: the y range covers the
	// points after the first tenth of the run, and the line is clipped.
	if n := len(xys); n >= 10 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, q := range xys[n/10:] {
			lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
		}
		pad := 0.05 * (hi - lo)
		if pad == 0 {
			pad = 0.05*math.Abs(hi) + 1e-9
		}
		p.Y.Min, p.Y.Max = lo-pad, hi+pad
		for _, q := range xys[:n/10] {
			if q.Y > p.Y.Max || q.Y < p.Y.Min {
				p.Title.Text = "(start clipped)"
				p.Title.TextStyle.Font.Size = 7
				break
			}
		}
	}
	l.Color = color.RGBA{31, 119, 180, 255}
	l.Width = vg.Points(1)
	return report.PlotPNG(p, 2.6*vg.Inch, 1.4*vg.Inch)
}

type htmlCell struct {
	Name, Text string
}

type htmlRow struct {
	Name, Status, Error, Report, Thumb string
	Overrides                          string
	Arenas                             []ArenaResult
	Cells                              []htmlCell
}

var pageTmpl = template.Must(template.New("sweep").Funcs(template.FuncMap{
	"periods": func(p []float64) string { return cellText(p) },
	"tag":     arenaTag,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>gridgpu sweep: {{.Source}}</title>
<style>
body { font-family: sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 4px; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
.done { color: #1a7f37; } .incomplete { color: #9a6700; } .failed { color: #cf222e; }
.nums td, .nums th { border: none; padding: 0 6px 0 0; font-size: 12px; }
img.rm { width: 280px; height: 150px; object-fit: cover; object-position: top; }
img.hist { width: 300px; }
.err { color: #cf222e; max-width: 300px; }
</style></head><body>
<h1>Sweep {{.Source}}</h1>
<p>{{.Total}} runs: {{.Done}} done, {{.Incomplete}} incomplete, {{.Failed}} failed.
All numbers: <a href="results.csv">results.csv</a>, <a href="results.json">results.json</a>.
Loss curves are the total loss of metrics.jsonl; ratemap panels show the top of each report's figure (units sorted by grid score; click for all).</p>
<table>
<tr><th>run</th><th>loss curve</th><th>top ratemaps</th><th>grid score histogram</th><th>numbers</th></tr>
{{range .Rows}}<tr>
<td><b>{{if .Report}}<a href="{{.Report}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</b><br>
<span class="{{.Status}}">{{.Status}}</span><br>{{.Overrides}}{{if .Error}}<div class="err">{{.Error}}</div>{{end}}</td>
<td>{{if .Thumb}}<img src="{{.Thumb}}" alt="loss curve of {{.Name}}">{{end}}</td>
<td>{{range .Arenas}}{{if .Ratemaps}}<a href="{{.Ratemaps}}"><img class="rm" src="{{.Ratemaps}}" alt="ratemaps {{tag .Side}}"></a><br>{{tag .Side}}<br>{{end}}{{end}}</td>
<td>{{range .Arenas}}{{if .Histograms}}<a href="{{.Histograms}}"><img class="hist" src="{{.Histograms}}" alt="histograms {{tag .Side}}"></a><br>{{tag .Side}}<br>{{end}}{{end}}</td>
<td><table class="nums">{{range .Cells}}<tr><th>{{.Name}}</th><td>{{.Text}}</td></tr>{{end}}
{{range .Arenas}}<tr><th>arena {{tag .Side}}</th><td>{{.GridUnits}} grid units, {{.Modules}} module(s){{if .Periods}}, periods {{periods .Periods}} m{{end}}</td></tr>{{end}}</table></td>
</tr>
{{end}}</table>
</body></html>
`))

// writeHTML writes out/index.html and the thumbnails it shows.
func (s *Summary) writeHTML(out string) error {
	if err := os.MkdirAll(filepath.Join(out, ThumbDir), 0o755); err != nil {
		return err
	}
	done, inc, failed := s.Counts()
	page := struct {
		Source                          string
		Total, Done, Incomplete, Failed int
		Rows                            []htmlRow
	}{Source: strings.TrimPrefix(s.Source, "sweep file "), Total: len(s.Rows), Done: done, Incomplete: inc, Failed: failed}
	skip := map[string]bool{"name": true, "status": true, "error": true, "index": true}
	for i := range s.Rows {
		r := &s.Rows[i]
		hr := htmlRow{Name: r.Name, Status: r.Status, Error: r.Error, Report: r.Report, Arenas: r.Arenas}
		var ov string
		for _, k := range s.Keys {
			ov += fmt.Sprintf("%s=%s ", leaf(k), cellText(r.Values[k]))
		}
		hr.Overrides = ov
		if len(r.Curve) > 0 {
			b, err := lossThumb(r.Curve)
			if err != nil {
				return fmt.Errorf("%s: loss thumbnail: %w", r.Name, err)
			}
			name := filepath.Join(ThumbDir, r.Name+".png")
			if err := data.WriteFileAtomic(filepath.Join(out, name), b); err != nil {
				return err
			}
			hr.Thumb = filepath.ToSlash(name)
		}
		for _, c := range s.columns() {
			if skip[c.name] || isArenaColumn(c.name) {
				continue
			}
			if t := cellText(c.get(r)); t != "" {
				if f, ok := c.get(r).(float64); ok {
					t = fmt.Sprintf("%.5g", f)
				}
				hr.Cells = append(hr.Cells, htmlCell{c.name, t})
			}
		}
		page.Rows = append(page.Rows, hr)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, page); err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(out, "index.html"), buf.Bytes())
}

func isArenaColumn(name string) bool {
	for _, p := range []string{"grid_units_", "modules_", "periods_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

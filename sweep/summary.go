package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// Summary statuses: a row is its run's final state (done or failed), or
// incomplete for every state before one.
const (
	RowDone       = StateDone
	RowFailed     = StateFailed
	RowIncomplete = "incomplete"
)

// ArenaResult is one arena of a run's analysis report.
type ArenaResult struct {
	Side       float64   `json:"side_m"`
	GridUnits  int       `json:"grid_units"`
	Modules    int       `json:"modules"`
	Periods    []float64 `json:"periods"`
	Ratemaps   string    `json:"-"` // figure paths relative to the sweep directory
	Histograms string    `json:"-"`
}

// Row is one run in the summary.
type Row struct {
	Name    string
	Index   int
	Variant string
	Values  map[string]any // swept key -> value
	Status  string
	Error   string
	Steps   int64
	// Final loss and terms (last metrics line); nil when there is none.
	Loss        *float64
	Terms       graph.TermValues
	StepsPerSec *float64 // steps / elapsed of the last metrics line
	DeadUnits   any      // newest metrics value of dead_units, nil if never logged
	Eval        map[string]any
	Arenas      []ArenaResult
	Curve       [][2]float64 // (step, loss) of every metrics line
	Report      string       // report/index.html relative to the sweep directory, "" if none
}

// Summary is the collected state of a sweep.
type Summary struct {
	Source   string
	Keys     []string // swept keys, in grid order
	Variants bool     // whether the sweep has variants (a variant column)
	Rows     []Row
}

// Collect reads every run directory of the sweep in out (the points', and
// any others under out/runs with a sweep-status.json) without training.
func Collect(spec *Spec, pts []Point, out string) (*Summary, error) {
	s := &Summary{Source: spec.Source, Variants: len(spec.Variants) > 0}
	for _, a := range spec.Grid {
		s.Keys = append(s.Keys, a.Key)
	}
	known := map[string]bool{}
	for i := range pts {
		p := &pts[i]
		known[p.Name] = true
		row := Row{Name: p.Name, Index: p.Index, Variant: p.Variant, Values: map[string]any{}}
		for _, v := range p.Values {
			row.Values[v.Key] = v.Value
		}
		dir := RunDir(out, p.Name)
		st, _ := ReadStatus(dir)
		ck := checkpointStep(dir)
		// Done by the run's files, as the runner decides (see
		// runner.point): a checkpoint at run.steps, metrics.jsonl up to
		// there, a report of that checkpoint that reads.
		trained := ck >= p.Config.Run.Steps
		metrics := ""
		if trained {
			metrics = metricsProblem(dir, ck, p.Config.Run.Steps)
		}
		analysed, report := true, ""
		if spec.Analyze != nil && trained {
			analysed, report = reportState(dir, ck)
		}
		switch {
		case metrics != "":
			row.Status, row.Error = RowFailed, metrics
		case trained && analysed:
			row.Status = RowDone
		case st != nil && st.State == StateFailed:
			row.Status, row.Error = RowFailed, st.Error
		case report != "":
			row.Status, row.Error = RowIncomplete, report+"; the next sweep analyses it again"
		default:
			row.Status = RowIncomplete
		}
		readRun(&row, out, dir)
		s.Rows = append(s.Rows, row)
	}
	// Run directories no longer in the sweep file (a changed grid): listed
	// after the points, from their recorded status.
	for _, name := range RunNames(out) {
		if known[name] {
			continue
		}
		dir := RunDir(out, name)
		st, err := ReadStatus(dir)
		if err != nil || st == nil {
			continue
		}
		row := Row{Name: name, Index: -1, Variant: st.Variant, Values: map[string]any{}, Status: RowIncomplete}
		for _, v := range st.Values {
			row.Values[v.Key] = v.Value
		}
		switch st.State {
		case StateDone:
			row.Status = RowDone
		case StateFailed:
			row.Status, row.Error = RowFailed, st.Error
		}
		readRun(&row, out, dir)
		s.Rows = append(s.Rows, row)
	}
	return s, nil
}

// MarkFailed puts the failures of a sweep into the summary (Outcome.Errors:
// name -> message): each such run not done is failed with the message the
// sweep printed, also where its directory could not record it.
func (s *Summary) MarkFailed(errs map[string]string) {
	for i := range s.Rows {
		r := &s.Rows[i]
		if msg, ok := errs[r.Name]; ok && r.Status != RowDone {
			r.Status, r.Error = RowFailed, msg
		}
	}
}

// readRun fills a row from the run's metrics.jsonl (its records,
// rundir.ReadMetrics) and report/summary.json (analysis.ReadSummary:
// regular files only, so a FIFO in their place is passed over, not waited
// on).
func readRun(row *Row, out, dir string) {
	if m, err := rundir.ReadMetrics(dir, rundir.MetricsOptions{}); err == nil {
		var last map[string]any
		for _, l := range m.Records() {
			m, err := l.Object()
			if err != nil {
				continue
			}
			last = m
			if loss, ok := m["loss"].(float64); ok {
				row.Curve = append(row.Curve, [2]float64{float64(l.Step), loss})
			}
			if v, ok := m["dead_units"]; ok {
				row.DeadUnits = v
			}
			for k, v := range m {
				if strings.HasPrefix(k, "eval_") {
					if row.Eval == nil {
						row.Eval = map[string]any{}
					}
					row.Eval[k] = v
				}
			}
		}
		if last != nil {
			num := func(k string) *float64 {
				if v, ok := last[k].(float64); ok {
					return &v
				}
				return nil
			}
			if s := num("step"); s != nil {
				row.Steps = int64(*s)
			}
			row.Loss = num("loss")
			for t, spec := range graph.TermSpecs {
				row.Terms[t] = num(spec.Key)
			}
			if e := num("elapsed"); e != nil && *e > 0 {
				v := float64(row.Steps) / *e
				row.StepsPerSec = &v
			}
		}
	}
	rep, err := analysis.ReadSummary(filepath.Join(dir, ReportDir, "summary.json"))
	if err != nil {
		return
	}
	rel := func(name string) string {
		if name == "" {
			return ""
		}
		p, err := filepath.Rel(out, filepath.Join(dir, ReportDir, name))
		if err != nil {
			return ""
		}
		return filepath.ToSlash(p)
	}
	if _, err := os.Stat(filepath.Join(dir, ReportDir, "index.html")); err == nil {
		row.Report = rel("index.html")
	}
	for _, a := range rep.Arenas {
		ar := ArenaResult{Side: a.Side, GridUnits: len(a.Modules.GridUnits), Modules: len(a.Modules.Modules), Periods: []float64{},
			Ratemaps: rel(a.Figures.Ratemaps), Histograms: rel(a.Figures.Histograms)}
		for _, m := range a.Modules.Modules {
			ar.Periods = append(ar.Periods, m.Period)
		}
		row.Arenas = append(row.Arenas, ar)
	}
}

// column is one column of the summary tables: its name and a cell getter
// (nil for an empty cell).
type column struct {
	name string
	get  func(*Row) any
}

func arenaTag(L float64) string { return strconv.FormatFloat(L, 'f', -1, 64) + "m" }

func f64(p *float64) any {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return *p
}

// Columns lists the summary's columns in order: name, index, the variant
// (when the sweep has variants), every swept key, status, steps, the final
// loss terms, steps_per_sec, dead_units, per arena grid_units_<L>m,
// modules_<L>m and periods_<L>m, every eval_* key, and error.
func (s *Summary) columns() []column {
	cols := []column{
		{"name", func(r *Row) any { return r.Name }},
		{"index", func(r *Row) any {
			if r.Index < 0 {
				return nil
			}
			return r.Index
		}},
	}
	if s.Variants {
		cols = append(cols, column{"variant", func(r *Row) any { return r.Variant }})
	}
	for _, k := range s.Keys {
		cols = append(cols, column{k, func(r *Row) any { return r.Values[k] }})
	}
	cols = append(cols,
		column{"status", func(r *Row) any { return r.Status }},
		column{"steps", func(r *Row) any { return r.Steps }},
		column{"loss", func(r *Row) any { return f64(r.Loss) }})
	for t, spec := range graph.TermSpecs {
		cols = append(cols, column{spec.Key, func(r *Row) any { return f64(r.Terms[t]) }})
	}
	cols = append(cols,
		column{"steps_per_sec", func(r *Row) any { return f64(r.StepsPerSec) }},
		column{"dead_units", func(r *Row) any { return r.DeadUnits }},
	)
	sides := map[float64]bool{}
	for _, r := range s.Rows {
		for _, a := range r.Arenas {
			sides[a.Side] = true
		}
	}
	var sorted []float64
	for L := range sides {
		sorted = append(sorted, L)
	}
	sort.Float64s(sorted)
	for _, L := range sorted {
		arena := func(r *Row) *ArenaResult {
			for i := range r.Arenas {
				if r.Arenas[i].Side == L {
					return &r.Arenas[i]
				}
			}
			return nil
		}
		tag := arenaTag(L)
		cols = append(cols,
			column{"grid_units_" + tag, func(r *Row) any {
				if a := arena(r); a != nil {
					return a.GridUnits
				}
				return nil
			}},
			column{"modules_" + tag, func(r *Row) any {
				if a := arena(r); a != nil {
					return a.Modules
				}
				return nil
			}},
			column{"periods_" + tag, func(r *Row) any {
				if a := arena(r); a != nil {
					return a.Periods
				}
				return nil
			}},
		)
	}
	evals := map[string]bool{}
	for _, r := range s.Rows {
		for k := range r.Eval {
			evals[k] = true
		}
	}
	var ek []string
	for k := range evals {
		ek = append(ek, k)
	}
	sort.Strings(ek)
	for _, k := range ek {
		cols = append(cols, column{k, func(r *Row) any { return r.Eval[k] }})
	}
	cols = append(cols, column{"error", func(r *Row) any {
		if r.Error == "" {
			return nil
		}
		return r.Error
	}})
	return cols
}

// cellText formats a cell for CSV and HTML: numbers in their shortest exact
// form, lists joined by spaces, nil as empty.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []float64:
		var parts []string
		for _, f := range x {
			parts = append(parts, strconv.FormatFloat(f, 'g', 6, 64))
		}
		return strings.Join(parts, " ")
	case []any: // a list logged in metrics.jsonl, e.g. eval_periods
		var parts []string
		for _, e := range x {
			if f, ok := e.(float64); ok {
				parts = append(parts, strconv.FormatFloat(f, 'g', 6, 64))
			} else {
				parts = append(parts, cellText(e))
			}
		}
		return strings.Join(parts, " ")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	}
	return FormatValue(v)
}

// CSV renders the summary as CSV with a header line.
func (s *Summary) CSV() []byte {
	cols := s.columns()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	var rec []string
	for _, c := range cols {
		rec = append(rec, c.name)
	}
	w.Write(rec)
	for i := range s.Rows {
		rec = rec[:0]
		for _, c := range cols {
			rec = append(rec, cellText(c.get(&s.Rows[i])))
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// JSON renders the summary as {"sweep": ..., "columns": [...], "runs":
// [{column: value, ...}, ...]} with the keys of each run in column order and
// null for empty cells.
func (s *Summary) JSON() ([]byte, error) {
	cols := s.columns()
	var buf bytes.Buffer
	src, _ := json.Marshal(s.Source)
	var names []string
	for _, c := range cols {
		names = append(names, c.name)
	}
	cn, _ := json.Marshal(names)
	fmt.Fprintf(&buf, "{\n  \"sweep\": %s,\n  \"columns\": %s,\n  \"runs\": [", src, cn)
	for i := range s.Rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    {")
		for j, c := range cols {
			v := c.get(&s.Rows[i])
			if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				v = nil
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: column %s: %w", s.Rows[i].Name, c.name, err)
			}
			if j > 0 {
				buf.WriteString(", ")
			}
			k, _ := json.Marshal(c.name)
			buf.Write(k)
			buf.WriteString(": ")
			buf.Write(b)
		}
		buf.WriteString("}")
	}
	buf.WriteString("\n  ]\n}\n")
	return buf.Bytes(), nil
}

// Write writes out/results.csv, out/results.json, out/index.html and the
// loss thumbnails in out/thumbs/, each atomically.
func (s *Summary) Write(out string) error {
	if err := data.WriteFileAtomic(filepath.Join(out, "results.csv"), s.CSV()); err != nil {
		return err
	}
	js, err := s.JSON()
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(out, "results.json"), js); err != nil {
		return err
	}
	return s.writeHTML(out)
}

// Counts returns how many rows are done, incomplete and failed.
func (s *Summary) Counts() (done, incomplete, failed int) {
	for _, r := range s.Rows {
		switch r.Status {
		case RowDone:
			done++
		case RowFailed:
			failed++
		default:
			incomplete++
		}
	}
	return
}

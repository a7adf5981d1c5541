package watch

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/sweep"
)

//go:embed page.html
var page []byte

// maxPoints bounds the points of one series sent to the page; longer
// series are thinned evenly, keeping the first and the last point.
const maxPoints = 1500

// Server serves the page and its JSON endpoints for the targets.
type Server struct {
	targets []Target
	mux     *http.ServeMux

	mu    sync.Mutex
	cache map[string]*cached // by run directory
}

// cached is a run's metrics.jsonl as read at one size and modification
// time.
type cached struct {
	size   int64
	mtime  time.Time
	curves *analysis.TrainingCurves
}

// New returns the server of the targets (from Resolve).
func New(targets []Target) *Server {
	s := &Server{targets: targets, mux: http.NewServeMux(), cache: map[string]*cached{}}
	s.mux.HandleFunc("/", s.handlePage)
	s.mux.HandleFunc("/api/targets", s.handleTargets)
	s.mux.HandleFunc("/api/run", s.handleRun)
	s.mux.HandleFunc("/api/sweep", s.handleSweep)
	s.mux.HandleFunc("/api/picture", s.handlePicture)
	return s
}

// ServeHTTP answers GET and HEAD; the view is read-only.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (s *Server) handleTargets(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"targets": s.targets})
}

// runDir resolves a run ID ("rN" or "sN/NAME") to its directory and name.
func (s *Server) runDir(id string) (dir, name string, ok bool) {
	head, runName, inSweep := strings.Cut(id, "/")
	for _, t := range s.targets {
		if t.ID != head {
			continue
		}
		switch {
		case t.Kind == KindRun && !inSweep:
			return t.Dir, t.Name, true
		case t.Kind == KindSweep && inSweep && validRunName(runName):
			d := sweep.RunDir(t.Dir, runName)
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d, t.Name + "/" + runName, true
			}
		}
	}
	return "", "", false
}

// curves reads dir's metrics.jsonl again when its size or modification
// time changed since the last read.
func (s *Server) curves(dir string) (*analysis.TrainingCurves, os.FileInfo) {
	st, err := os.Stat(rundir.MetricsPath(dir))
	s.mu.Lock()
	c := s.cache[dir]
	s.mu.Unlock()
	if err == nil && c != nil && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.curves, st
	}
	cur := analysis.ReadTrainingCurves(dir)
	if err == nil {
		s.mu.Lock()
		s.cache[dir] = &cached{size: st.Size(), mtime: st.ModTime(), curves: cur}
		s.mu.Unlock()
	} else {
		st = nil
	}
	return cur, st
}

// RunData is what /api/run answers.
type RunData struct {
	ID      string                  `json:"id"`
	Name    string                  `json:"name"`
	Dir     string                  `json:"dir"`
	Step    float64                 `json:"step"`
	Steps   int64                   `json:"steps,omitempty"` // run.steps of config.yaml
	Updated string                  `json:"updated,omitempty"`
	AgeSec  float64                 `json:"age_seconds,omitempty"` // since metrics.jsonl was last written
	State   string                  `json:"state,omitempty"`       // a sweep run's state
	Note    string                  `json:"note,omitempty"`
	Bad     int                     `json:"malformed,omitempty"` // malformed lines, a partial last one not counted
	Keys    []string                `json:"keys"`                // chart keys, in display order
	Series  map[string][][2]float64 `json:"series"`
	Last    map[string]float64      `json:"last"`
	Config  string                  `json:"config"`
	Picture string                  `json:"picture,omitempty"`
	Values  []sweep.KV              `json:"values,omitempty"` // a sweep run's grid values
}

// chartKeys are the training keys charted, in order; the eval_ keys
// follow (evalFirst first, then the rest in name order).
func chartKeys() []string {
	keys := []string{"loss"}
	for _, t := range graph.TermSpecs {
		keys = append(keys, t.Key)
	}
	return append(keys, "lr", "grad_norm", "dead_units", "zero_frac")
}

var evalFirst = []string{"eval_grid_units", "eval_grid_frac", "eval_square_units", "eval_dead_units", "eval_modules", "eval_score60_max", "eval_score60_p90", "eval_score90_max"}

// evalConstant are eval_ keys that restate the config; not charted.
var evalConstant = map[string]bool{"eval_arena": true, "eval_grid_threshold": true}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	dir, name, ok := s.runDir(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no run %q", id), http.StatusNotFound)
		return
	}
	writeJSON(w, s.runData(id, dir, name))
}

func (s *Server) runData(id, dir, name string) *RunData {
	d := &RunData{ID: id, Name: name, Dir: dir, Series: map[string][][2]float64{}, Last: map[string]float64{}}
	c, st := s.curves(dir)
	d.Note = c.Note
	d.Bad = c.Malformed
	if c.Partial {
		d.Bad-- // the line a training is writing
	}
	if st != nil {
		d.Updated = st.ModTime().UTC().Format(time.RFC3339)
		d.AgeSec = time.Since(st.ModTime()).Seconds()
	}
	present := map[string]bool{}
	for _, p := range c.Points {
		for k, v := range p {
			present[k] = true
			d.Last[k] = v
		}
	}
	if n := len(c.Points); n > 0 {
		d.Step = c.Points[n-1]["step"]
	}
	var evals []string
	for k := range present {
		if strings.HasPrefix(k, "eval_") && !evalConstant[k] && !contains(evalFirst, k) {
			evals = append(evals, k)
		}
	}
	sort.Strings(evals)
	for _, k := range append(append(chartKeys(), evalFirst...), evals...) {
		if !present[k] {
			continue
		}
		d.Keys = append(d.Keys, k)
		d.Series[k] = thin(seriesOf(c.Points, k), maxPoints)
	}
	if b, err := rundir.ReadConfig(dir); err == nil {
		d.Config = string(b)
		var cfg struct {
			Run struct {
				Steps int64 `yaml:"steps"`
			} `yaml:"run"`
		}
		if yaml.Unmarshal(b, &cfg) == nil {
			d.Steps = cfg.Run.Steps
		}
	}
	if st, err := sweep.ReadStatus(dir); err == nil && st != nil {
		d.State = st.State
		d.Values = st.Values
		if d.Steps == 0 {
			d.Steps = st.Steps
		}
	}
	if p, mt := newestPicture(dir); p != "" {
		d.Picture = fmt.Sprintf("/api/picture?id=%s&v=%s-%d", urlQuery(id), strings.TrimSuffix(p, ".png"), mt.UnixNano())
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func seriesOf(points []map[string]float64, key string) [][2]float64 {
	var xy [][2]float64
	for _, p := range points {
		if v, ok := p[key]; ok {
			xy = append(xy, [2]float64{p["step"], v})
		}
	}
	return xy
}

// thin keeps at most n points of xy, evenly spaced, the last included.
func thin(xy [][2]float64, n int) [][2]float64 {
	if len(xy) <= n || n < 2 {
		return xy
	}
	out := make([][2]float64, 0, n)
	for i := 0; i < n-1; i++ {
		out = append(out, xy[i*(len(xy)-1)/(n-1)])
	}
	return append(out, xy[len(xy)-1])
}

// newestPicture is the newest picture of a run directory's eval/
// (rundir.ListEvalPictures) and its modification time.
func newestPicture(dir string) (string, time.Time) {
	names, _ := rundir.ListEvalPictures(dir)
	for i := len(names) - 1; i >= 0; i-- {
		if st, err := os.Stat(filepath.Join(rundir.EvalPath(dir), names[i])); err == nil && st.Mode().IsRegular() {
			return names[i], st.ModTime()
		}
	}
	return "", time.Time{}
}

func (s *Server) handlePicture(w http.ResponseWriter, r *http.Request) {
	dir, _, ok := s.runDir(r.URL.Query().Get("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	name, _ := newestPicture(dir)
	if name == "" {
		http.Error(w, "no picture yet", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFile(w, r, filepath.Join(rundir.EvalPath(dir), name))
}

// SweepRow is one run of a sweep in /api/sweep's answer.
type SweepRow struct {
	ID      string             `json:"id"`
	Name    string             `json:"name"`
	State   string             `json:"state"`
	Values  string             `json:"values"`
	Step    float64            `json:"step"`
	Steps   int64              `json:"steps,omitempty"`
	Metrics map[string]float64 `json:"metrics"` // the newest value of each of SweepMetrics
	Error   string             `json:"error,omitempty"`
}

// SweepMetrics are the columns of a sweep's table, besides its runs'
// names, states, grid values and steps.
var SweepMetrics = []string{"loss", "dead_units", "eval_grid_units", "eval_grid_frac", "eval_score60_max"}

func (s *Server) handleSweep(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	for _, t := range s.targets {
		if t.ID == id && t.Kind == KindSweep {
			writeJSON(w, s.sweepData(t))
			return
		}
	}
	http.Error(w, fmt.Sprintf("no sweep %q", id), http.StatusNotFound)
}

func (s *Server) sweepData(t Target) map[string]any {
	rows := []SweepRow{}
	for _, name := range sweep.RunNames(t.Dir) {
		dir := sweep.RunDir(t.Dir, name)
		row := SweepRow{ID: t.ID + "/" + name, Name: name, State: "not started", Metrics: map[string]float64{}}
		st, err := sweep.ReadStatus(dir)
		if err != nil {
			row.Error = err.Error()
		} else if st != nil {
			row.State, row.Steps, row.Error = st.State, st.Steps, st.Error
			var vals []string
			for _, kv := range st.Values {
				vals = append(vals, fmt.Sprintf("%s=%v", kv.Key, kv.Value))
			}
			row.Values = strings.Join(vals, " ")
		}
		if c, _ := s.curves(dir); len(c.Points) > 0 {
			row.Step = c.Points[len(c.Points)-1]["step"]
			for _, p := range c.Points {
				for _, k := range SweepMetrics {
					if v, ok := p[k]; ok {
						row.Metrics[k] = v
					}
				}
			}
		}
		rows = append(rows, row)
	}
	return map[string]any{"id": t.ID, "name": t.Name, "dir": t.Dir, "metrics": SweepMetrics, "rows": rows}
}

func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", "?", "%3F")
	return r.Replace(s)
}

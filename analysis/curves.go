package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// LossWeights are the loss section's weights in a run's config.yaml, in
// graph.Term order; their JSON is an object keyed by the weights' config
// keys ("lambda_sep", ...).
type LossWeights [graph.NumTerms]float64

// MarshalJSON writes {"lambda_sep": w, ...} in term order.
func (w LossWeights) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for t, s := range graph.TermSpecs {
		if t > 0 {
			b = append(b, ',')
		}
		v, err := json.Marshal(w[t])
		if err != nil {
			return nil, err
		}
		b = append(append(b, `"`+s.WeightKey+`":`...), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *LossWeights) UnmarshalJSON(b []byte) error {
	var keyed map[string]float64
	if err := json.Unmarshal(b, &keyed); err != nil {
		return err
	}
	for t, s := range graph.TermSpecs {
		w[t] = keyed[s.WeightKey]
	}
	return nil
}

// WeightText lists the weights as "lambda_sep 1, lambda_inv 0.1, ...".
func (w LossWeights) WeightText() string {
	parts := make([]string, len(w))
	for t, s := range graph.TermSpecs {
		parts[t] = fmt.Sprintf("%s %g", s.WeightKey, w[t])
	}
	return strings.Join(parts, ", ")
}

// TrainingCurves are the records of a run's metrics.jsonl
// (rundir.ReadMetrics), read generically: each point maps a key to its
// number; null, non-numeric and absent keys are left out of it.
type TrainingCurves struct {
	RunDir string
	// Points are sorted by step. A line whose step is not after the
	// previous line's (a run resumed from an earlier checkpoint) replaces
	// the points from that step on; Superseded counts the points dropped.
	Points     []map[string]float64
	Malformed  int // lines that are not metrics records, Partial's included
	Superseded int
	// Partial is set when the last line has no end of line and is not a
	// record (rundir.Metrics.Cut): cut short by a crash, and counted in
	// Malformed, or still being written by a training, which a live view
	// does not count.
	Partial bool
	// EvalWalks is the last eval_walks value ("standard", "training",
	// "both"; "" in files without it).
	EvalWalks string
	// Weights are from config.yaml; nil when it is missing, unreadable or
	// has none of the weights (WeightsNote says why), and then no weighted
	// curves are drawn. A weight it lacks is a term the run predates: 0,
	// and WeightsNote names it.
	Weights     *LossWeights
	WeightsNote string
	// Note says why there are no curves (no metrics.jsonl, no usable
	// lines); empty when there are.
	Note string
}

// ReadTrainingCurves reads runDir's metrics.jsonl and config.yaml. It does
// not fail: an unreadable file, or one without usable lines, gives curves
// without points and a Note; malformed lines are skipped and counted.
func ReadTrainingCurves(runDir string) *TrainingCurves {
	c := &TrainingCurves{RunDir: runDir}
	c.Weights, c.WeightsNote = readLossWeights(runDir)
	m, err := rundir.ReadMetrics(runDir, rundir.MetricsOptions{MissingOK: true})
	switch {
	case err != nil:
		c.Note = err.Error()
		return c
	case m.Missing:
		c.Note = "no " + rundir.MetricsFile + " in " + runDir
		return c
	}
	for _, l := range m.Lines {
		c.add(l)
	}
	if m.Cut > 0 {
		c.Partial = true
		c.Malformed++
	}
	if len(c.Points) == 0 {
		c.Note = fmt.Sprintf("%s has no usable lines", m.Path)
		if c.Malformed > 0 {
			c.Note += fmt.Sprintf(" (%d malformed)", c.Malformed)
		}
	}
	return c
}

// add makes a point of one line.
func (c *TrainingCurves) add(l rundir.MetricsLine) {
	m, err := l.Object()
	if err != nil {
		c.Malformed++
		return
	}
	st := float64(l.Step)
	if w, ok := m["eval_walks"].(string); ok {
		c.EvalWalks = w
	}
	p := make(map[string]float64, len(m))
	for k, v := range m {
		if x, ok := v.(float64); ok && !math.IsInf(x, 0) && !math.IsNaN(x) {
			p[k] = x
		}
	}
	for n := len(c.Points); n > 0 && c.Points[n-1]["step"] >= st; n-- {
		c.Points = c.Points[:n-1]
		c.Superseded++
	}
	c.Points = append(c.Points, p)
}

// readLossWeights reads the loss weights of a run's config.yaml. A weight
// key that config.yaml lacks is a term the run predates (the trainer writes
// every weight, so its config was written before the term existed): that
// weight is 0 and the note names the missing keys. It returns nil, and says
// why, when there is no readable config.yaml, it is not YAML, a weight is
// not a number, or it has none of the weight keys.
func readLossWeights(runDir string) (*LossWeights, string) {
	path := rundir.ConfigPath(runDir)
	b, err := rundir.ReadConfig(runDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "no " + rundir.ConfigFile + " in the run directory"
		}
		return nil, err.Error()
	}
	var cfg struct {
		Loss map[string]any `yaml:"loss"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Sprintf("%s: %v", path, err)
	}
	var w LossWeights
	var missing []string
	for t, s := range graph.TermSpecs {
		v, ok := cfg.Loss[s.WeightKey]
		if !ok {
			missing = append(missing, "loss."+s.WeightKey)
			continue
		}
		switch v := v.(type) {
		case float64:
			w[t] = v
		case int:
			w[t] = float64(v)
		default:
			return nil, fmt.Sprintf("%s: loss.%s is not a number: %v", path, s.WeightKey, v)
		}
	}
	switch {
	case len(missing) == len(w):
		return nil, path + " has none of " + strings.Join(missing, ", ")
	case len(missing) > 0:
		return &w, path + " lacks " + strings.Join(missing, ", ") + ": the run predates those terms (weight 0)"
	}
	return &w, ""
}

// EvalLines counts the points with a grid evaluation.
func (c *TrainingCurves) EvalLines() int {
	n := 0
	for _, p := range c.Points {
		if _, ok := p["eval_grid_units"]; ok {
			n++
		}
	}
	return n
}

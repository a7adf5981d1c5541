package analysis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/graph"
)

// The files of a run directory that the training curves come from.
const (
	MetricsFile = "metrics.jsonl"
	ConfigFile  = "config.yaml"
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

// TrainingCurves are the lines of a run's metrics.jsonl, read generically:
// each point maps a key to its number; null, non-numeric and absent keys
// are left out of it.
type TrainingCurves struct {
	RunDir string
	// Points are sorted by step. A line whose step is not after the
	// previous line's (a run resumed from an earlier checkpoint) replaces
	// the points from that step on; Superseded counts the points dropped.
	Points     []map[string]float64
	Malformed  int // lines that are not a JSON object with a numeric step
	Superseded int
	// EvalWalks is the last eval_walks value ("standard", "training",
	// "both"; "" in files without it).
	EvalWalks string
	// Weights are from config.yaml; nil when it is missing or lacks one of
	// them (WeightsNote says why), and then no weighted curves are drawn.
	Weights     *LossWeights
	WeightsNote string
	// Note says why there are no curves (no metrics.jsonl, no usable
	// lines); empty when there are.
	Note string
}

// RunDirOf returns the run directory of a checkpoint, or "" when it is not
// in one. arg is what the user gave (a file, RUN/checkpoints/latest, a run
// directory or its checkpoints/), resolved the checkpoint file it names.
// A directory counts as a run when it holds metrics.jsonl, config.yaml or
// checkpoints/; the parent of a checkpoints/ directory always does.
func RunDirOf(arg, resolved string) string {
	isRun := func(d string) bool {
		for _, f := range []string{MetricsFile, ConfigFile, "checkpoints"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return true
			}
		}
		return false
	}
	var cands []string
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		cands = append(cands, arg)
	}
	if resolved != "" {
		cands = append(cands, filepath.Dir(resolved))
	}
	for _, d := range cands {
		d = filepath.Clean(d)
		if filepath.Base(d) == "checkpoints" {
			return filepath.Dir(d)
		}
		if isRun(d) {
			return d
		}
	}
	return ""
}

// ReadTrainingCurves reads runDir's metrics.jsonl and config.yaml. It does
// not fail: an unreadable file, or one without usable lines, gives curves
// without points and a Note; malformed lines are skipped and counted.
func ReadTrainingCurves(runDir string) *TrainingCurves {
	c := &TrainingCurves{RunDir: runDir}
	c.Weights, c.WeightsNote = readLossWeights(filepath.Join(runDir, ConfigFile))
	path := filepath.Join(runDir, MetricsFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.Note = "no " + MetricsFile + " in " + runDir
		} else {
			c.Note = fmt.Sprintf("cannot read %s: %v", path, err)
		}
		return c
	}
	defer f.Close()
	if err := c.parse(f); err != nil {
		c.Note = fmt.Sprintf("reading %s: %v", path, err)
		c.Points = nil
		return c
	}
	if len(c.Points) == 0 {
		c.Note = fmt.Sprintf("%s has no usable lines", path)
		if c.Malformed > 0 {
			c.Note += fmt.Sprintf(" (%d malformed)", c.Malformed)
		}
	}
	return c
}

func (c *TrainingCurves) parse(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			c.add(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// add parses one line into a point.
func (c *TrainingCurves) add(line []byte) {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		c.Malformed++
		return
	}
	st, ok := m["step"].(float64)
	if !ok || st < 0 || st != math.Trunc(st) {
		c.Malformed++
		return
	}
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

// readLossWeights reads the loss weights of a run's config.yaml.
func readLossWeights(path string) (*LossWeights, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "no " + ConfigFile + " in the run directory"
		}
		return nil, fmt.Sprintf("cannot read %s: %v", path, err)
	}
	var cfg struct {
		Loss map[string]any `yaml:"loss"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Sprintf("%s: %v", path, err)
	}
	var w LossWeights
	for t, s := range graph.TermSpecs {
		switch v := cfg.Loss[s.WeightKey].(type) {
		case float64:
			w[t] = v
		case int:
			w[t] = float64(v)
		default:
			keys := make([]string, len(w))
			for t, s := range graph.TermSpecs {
				keys[t] = s.WeightKey
			}
			return nil, path + " lacks one of loss." + strings.Join(keys, ", ")
		}
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

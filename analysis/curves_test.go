package analysis

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

func TestReadTrainingCurves(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		`{"step":1,"loss":2,"dead_units":null,"lr":0.01}`,
		`{"step":2,"loss":1.5,"dead_units":3}`,
		`garbage`,
		`{"step":"3","loss":1}`,
		`{"step":3,"loss":1.2,"eval_grid_units":4,"eval_score60_max":null}`,
		// A resumed run from step 2 replaces step 3.
		`{"step":3,"loss":1.1}`,
		`{"step":4,"loss":1.0}`,
		`{"step":5,"loss":0.9`, // a line being written
	}
	os.WriteFile(rundir.MetricsPath(dir), []byte(strings.Join(lines, "\n")), 0o644)
	os.WriteFile(rundir.ConfigPath(dir), []byte("loss:\n  lambda_sep: 1\n  lambda_inv: 0.1\n"), 0o644)
	c := ReadTrainingCurves(dir)
	if c.Note != "" || len(c.Points) != 4 || c.Malformed != 3 || !c.Partial || c.Superseded != 1 {
		t.Fatalf("points %d, malformed %d, partial %t, superseded %d, note %q", len(c.Points), c.Malformed, c.Partial, c.Superseded, c.Note)
	}
	if _, ok := c.Points[0]["dead_units"]; ok {
		t.Error("null dead_units kept")
	}
	var dead [][2]float64
	for _, p := range c.Points {
		if v, ok := p["dead_units"]; ok {
			dead = append(dead, [2]float64{p["step"], v})
		}
	}
	if len(dead) != 1 || dead[0] != [2]float64{2, 3} {
		t.Errorf("dead_units points %v", dead)
	}
	if c.Points[2]["loss"] != 1.1 || c.EvalLines() != 0 {
		t.Errorf("step 3 not replaced: %v", c.Points[2])
	}
	// config.yaml lacks lambda_cap and lambda_ci: a run that predates them.
	if c.Weights == nil || c.Weights[graph.Sep] != 1 || c.Weights[graph.Inv] != 0.1 || c.Weights[graph.Cap] != 0 || !strings.Contains(c.WeightsNote, "predates") {
		t.Errorf("incomplete loss section: weights %v, note %q", c.Weights, c.WeightsNote)
	}
}

// TestReadLossWeights reads the weights of graph.TermSpecs from config.yaml.
// A weight key it lacks is a term the run predates: that weight is 0, the
// note names the key, and the other weights are kept.
func TestReadLossWeights(t *testing.T) {
	// Term t's weight, distinct for every term so that a dropped or
	// misordered weight shows; 1 is written as a YAML integer.
	weight := func(t graph.Term) float64 { return float64(t+1) / 4 }
	// config writes a loss section with value(t) for each weight key, and
	// without the key where value gives "".
	config := func(value func(graph.Term) string) string {
		s := "model:\n  units: 8\nloss:\n  sigma_x: 0.05\n"
		for t, spec := range graph.TermSpecs {
			if v := value(graph.Term(t)); v != "" {
				s += "  " + spec.WeightKey + ": " + v + "\n"
			}
		}
		return s + "run:\n  steps: 100\n"
	}
	// except returns the config with every weight but those of lacks.
	except := func(lacks ...graph.Term) string {
		return config(func(t graph.Term) string {
			if slices.Contains(lacks, t) {
				return ""
			}
			return strconv.FormatFloat(weight(t), 'g', -1, 64)
		})
	}
	var every []graph.Term
	for t := range graph.TermSpecs {
		every = append(every, graph.Term(t))
	}
	last := graph.NumTerms - 1
	key := func(t graph.Term) string { return "loss." + graph.TermSpecs[t].WeightKey }
	for _, c := range []struct {
		name   string
		config string // "": no config.yaml
		lacks  []graph.Term
		none   bool   // no weights at all
		note   string // in the note ("": no note)
	}{
		{name: "every weight", config: except()},
		{name: "predates the last term", config: except(last), lacks: []graph.Term{last},
			note: "lacks " + key(last) + ": the run predates those terms (weight 0)"},
		{name: "lacks inv", config: except(graph.Inv), lacks: []graph.Term{graph.Inv}, note: "lacks " + key(graph.Inv) + ":"},
		{name: "lacks two", config: except(graph.Inv, last), lacks: []graph.Term{graph.Inv, last}, note: "lacks " + key(graph.Inv) + ", " + key(last) + ":"},
		{name: "no weight", config: except(every...), none: true, note: "has none of " + key(0) + ", "},
		{name: "no loss section", config: "run:\n  steps: 100\n", none: true, note: "has none of"},
		{name: "a weight not a number", config: config(func(t graph.Term) string {
			if t == last {
				return "small"
			}
			return "1"
		}), none: true, note: key(last) + " is not a number: small"},
		{name: "not YAML", config: "loss: [\n", none: true, note: "config.yaml: yaml:"},
		{name: "no config.yaml", none: true, note: "no config.yaml in the run directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.config != "" {
				if err := os.WriteFile(rundir.ConfigPath(dir), []byte(c.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, note := readLossWeights(dir)
			if c.note == "" && note != "" || !strings.Contains(note, c.note) {
				t.Errorf("note %q, want one with %q", note, c.note)
			}
			if c.none {
				if w != nil {
					t.Errorf("weights %v, want none", *w)
				}
				return
			}
			if w == nil {
				t.Fatal("no weights")
			}
			for term, spec := range graph.TermSpecs {
				want := weight(graph.Term(term))
				if slices.Contains(c.lacks, graph.Term(term)) {
					want = 0
				}
				if w[term] != want {
					t.Errorf("%s = %g, want %g (weights %v)", spec.WeightKey, w[term], want, *w)
				}
			}
		})
	}
}

package analysis

import (
	"os"
	"strings"
	"testing"

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
	if c.Weights != nil || !strings.Contains(c.WeightsNote, "lacks") {
		t.Errorf("incomplete loss section: weights %v, note %q", c.Weights, c.WeightsNote)
	}
}

package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	os.WriteFile(filepath.Join(dir, MetricsFile), []byte(strings.Join(lines, "\n")), 0o644)
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("loss:\n  lambda_sep: 1\n  lambda_inv: 0.1\n"), 0o644)
	c := ReadTrainingCurves(dir)
	if c.Note != "" || len(c.Points) != 4 || c.Malformed != 3 || c.Superseded != 1 {
		t.Fatalf("points %d, malformed %d, superseded %d, note %q", len(c.Points), c.Malformed, c.Superseded, c.Note)
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

func TestRunDirOf(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	ck := filepath.Join(run, "checkpoints")
	os.MkdirAll(ck, 0o755)
	file := filepath.Join(ck, "step-00000005.safetensors")
	loose := filepath.Join(dir, "model.safetensors")
	for _, c := range []struct{ arg, resolved, want string }{
		{file, file, run},
		{filepath.Join(ck, "latest"), file, run},
		{run, file, run},
		{ck, file, run},
		{loose, loose, ""},
	} {
		if got := RunDirOf(c.arg, c.resolved); got != c.want {
			t.Errorf("RunDirOf(%s, %s) = %q, want %q", c.arg, c.resolved, got, c.want)
		}
	}
	// A loose checkpoint beside a metrics.jsonl is in that run.
	os.WriteFile(filepath.Join(dir, MetricsFile), nil, 0o644)
	if got := RunDirOf(loose, loose); got != dir {
		t.Errorf("RunDirOf beside metrics.jsonl = %q", got)
	}
}

package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// TestLossZeroWeightAndUndefinedTerms: gridgpu loss prints the unweighted
// value of a term whose weight is 0, and names the terms the batch has
// nothing to average over.
func TestLossZeroWeightAndUndefinedTerms(t *testing.T) {
	dir := t.TempDir()
	p := graph.InitParams(8, 12, 3)
	ck := writeModel(t, dir, p)
	s, _ := data.NewSampler(5, 3, 7, "none", 0.15)
	batch := filepath.Join(dir, "batch.npz")
	if err := data.WriteNPZ(batch, []data.Array{{Name: "velocities", Shape: []int{3, 7, 2}, F32: s.Next().Vel}}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) map[string]any {
		t.Helper()
		code, stdout, stderr := runCLI(t, append([]string{"loss", "--checkpoint", ck, "--batch", batch}, args...)...)
		if code != 0 {
			t.Fatalf("loss %v: %d %s", args, code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err != nil {
			t.Fatalf("loss %v: %q: %v", args, stdout, err)
		}
		return m
	}
	full, noCap := run(), run("--lambda-cap", "0")
	if c := noCap["cap"].(float64); c != full["cap"].(float64) || !(c < 0) {
		t.Errorf("cap with --lambda-cap 0 is %v, with 0.5 %v: want the same negative value", c, full["cap"])
	}
	if noCap["loss"].(float64) == full["loss"].(float64) {
		t.Errorf("--lambda-cap 0 left the total unchanged")
	}
	tiny := run("--sigma-x", "1e-9")
	if got := tiny["undefined"]; !reflect.DeepEqual(got, []any{"inv", "ci"}) {
		t.Errorf("undefined = %v with sigma_x 1e-9, want [inv ci]", got)
	}
	if tiny["inv"] != float64(0) || tiny["ci"] != float64(0) {
		t.Errorf("undefined terms printed as %v, %v, want 0", tiny["inv"], tiny["ci"])
	}
	if _, has := full["undefined"]; has && full["ci"] != float64(0) {
		t.Errorf("undefined %v on the ordinary batch", full["undefined"])
	}
}

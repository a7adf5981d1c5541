package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

// TestJoinThenTrain joins a network with itself (the second block at
// gain 0.5), checks the file holds graph.JoinParams's tensors, trains from
// it with --init-from, and checks the refusals of both commands.
func TestJoinThenTrain(t *testing.T) {
	dir := t.TempDir()
	p := graph.InitParams(8, 16, 3)
	a := writeModel(t, dir, p)
	j := filepath.Join(dir, "joined.safetensors")
	code, _, stderr := runCLI(t, "join", "--a", a, "--b", a, "--gain-b", "0.5", "--out", j)
	if code != 0 || !strings.Contains(stderr, "--init-from "+j+" --units 16 --hidden 32") {
		t.Fatalf("join: exit %d\n%s", code, stderr)
	}
	got, md, err := train.LoadParams(j)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := graph.JoinParams(p, p, 1, 0.5)
	for i, s := range want.Slices() {
		for k, v := range s {
			if got.Slices()[i][k] != v {
				t.Fatalf("%s[%d] = %g, want %g", graph.ParamNames[i], k, got.Slices()[i][k], v)
			}
		}
	}
	if !strings.Contains(md["joined"], "(gain 0.5)") {
		t.Errorf("metadata %v lacks the join's inputs and gains", md)
	}
	run := filepath.Join(dir, "run")
	code, _, stderr = runCLI(t, "train", "--preset", "smoke", "--init-from", j, "--units", "16", "--hidden", "32", "--blocks", "2", "--block-norm", "--steps", "2", "--out", run)
	if code != 0 {
		t.Fatalf("train --init-from: exit %d\n%s", code, stderr)
	}
	_, ck := loadLatest(t, run)
	if ck.Config.Model.InitFrom != j || ck.Params.N != 16 || ck.Params.NormBlocks != 2 {
		t.Errorf("checkpoint config init_from %q, N=%d, norm blocks %d", ck.Config.Model.InitFrom, ck.Params.N, ck.Params.NormBlocks)
	}
	if !graph.BlockDiagonal(ck.Params, 2) {
		t.Error("training with --blocks 2 left W(v) not block-diagonal")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"join", "--a", a, "--b", a, "--out", j}, "exists; choose another name or pass --overwrite"},
		{[]string{"join", "--a", a, "--b", j, "--out", j, "--overwrite"}, "is an input of the join"},
		{[]string{"join", "--a", a, "--b", a, "--gain-a", "-1", "--out", filepath.Join(dir, "x.safetensors")}, "--gain-a -1: must be a number above 0"},
		{[]string{"join", "--a", filepath.Join(dir, "none"), "--b", a, "--out", filepath.Join(dir, "x.safetensors")}, "--a: "},
		{[]string{"train", "--preset", "smoke", "--init-from", j, "--steps", "2", "--out", filepath.Join(dir, "r2")}, "holds a model with N=16, H=32, but the run has model.units=32"},
		{[]string{"train", "--preset", "smoke", "--init-from", j, "--dry-run"}, "holds a model with N=16, H=32, but the run has model.units=32"},
		{[]string{"train", "--preset", "smoke", "--init-from", a, "--units", "8", "--hidden", "16", "--blocks", "2", "--steps", "2", "--out", filepath.Join(dir, "r3")}, "is not block-diagonal in 2 blocks"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	for _, r := range []string{"r2", "r3"} {
		if _, _, err := train.LoadParams(filepath.Join(dir, r)); err == nil {
			t.Errorf("a refused train left a run in %s", r)
		}
	}
}

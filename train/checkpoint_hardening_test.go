package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

func TestSaveCheckpointRefusesNonFinite(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(ck *Checkpoint)
		want   string
	}{
		{"inf param", func(ck *Checkpoint) { ck.Params.W2[3] = float32(math.Inf(1)) }, "tensor mlp.4.weight holds +Inf (at index 3)"},
		{"nan g0", func(ck *Checkpoint) { ck.Params.G0[0] = float32(math.NaN()) }, "tensor g0 holds NaN"},
		{"absurd param", func(ck *Checkpoint) { ck.Params.B0[1] = 1e31 }, "beyond the plausible magnitude"},
		{"inf moment", func(ck *Checkpoint) { ck.Opt.V.W1[0] = float32(math.Inf(1)) }, "tensor opt.v.mlp.2.weight"},
	} {
		ck := sampleCheckpoint(t, 4, 3)
		c.mutate(ck)
		p := filepath.Join(t.TempDir(), rundir.CheckpointName(7))
		err := SaveCheckpoint(p, ck)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not written") {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: the file was written", c.name)
		}
	}
}

// A refused checkpoint leaves the directory as it was: latest still names
// the previous (finite) checkpoint, which the error names.
func TestCommitCheckpointKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	ck := sampleCheckpoint(t, 4, 3)
	ck.Step = 4
	good, err := commitCheckpoint(dir, ck, 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := sampleCheckpoint(t, 4, 3)
	bad.Step = 8
	bad.Params.W0[0] = float32(math.Inf(-1))
	_, err = commitCheckpoint(dir, bad, 2, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "the last good checkpoint is "+good) || !strings.Contains(err.Error(), "mlp.0.weight") {
		t.Fatalf("non-finite commit: %v", err)
	}
	if p, err := rundir.ResolveCheckpoint(dir); err != nil || p != good {
		t.Errorf("latest resolves to %s, %v; want %s", p, err, good)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want the good checkpoint and latest", names)
	}
	// The first checkpoint of a run has no predecessor to name.
	_, err = commitCheckpoint(t.TempDir(), bad, 2, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no earlier checkpoint") {
		t.Errorf("first commit: %v", err)
	}
}

// When the pointer cannot be updated (a full disk), the new file, which
// nothing points at, is removed again.
func TestCommitCheckpointPointerFailure(t *testing.T) {
	dir := t.TempDir()
	ck := sampleCheckpoint(t, 4, 3)
	ck.Step = 4
	if _, err := commitCheckpoint(dir, ck, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A directory where the temporary pointer file would be renamed to
	// makes the pointer write fail after the checkpoint was written.
	os.Remove(filepath.Join(dir, rundir.LatestFile))
	os.Mkdir(filepath.Join(dir, rundir.LatestFile), 0o755)
	ck.Step = 8
	if _, err := commitCheckpoint(dir, ck, 0, nil, nil); err == nil {
		t.Fatal("commit with an unwritable pointer succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.CheckpointName(8))); !os.IsNotExist(err) {
		t.Error("the unreferenced checkpoint stayed behind")
	}
}

func TestCommitCheckpointRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "."+rundir.CheckpointName(3)+".tmp-12345")
	os.WriteFile(stale, make([]byte, 100), 0o600)
	past := data.ProcessStart.Add(-time.Hour)
	os.Chtimes(stale, past, past)
	ck := sampleCheckpoint(t, 4, 3)
	if _, err := commitCheckpoint(dir, ck, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file not removed")
	}
}

// runAndLoad runs testConfig(t, steps) into dir and loads the checkpoint of
// its last step; it returns the checkpoint's path too.
func runAndLoad(t *testing.T, dir string, steps int64) (string, *Checkpoint) {
	t.Helper()
	if _, err := Run(context.Background(), testConfig(t, steps), Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	return loadAt(t, dir, steps)
}

// A run whose learning rate blows the parameters up never writes a
// checkpoint that is not finite, and its error names the last finite one.
func TestAbsurdLearningRateNeverWritesNonFinite(t *testing.T) {
	useFake(t, nil)
	out := t.TempDir()
	good, ck := runAndLoad(t, out, 4)
	c := ck.Config
	c.Run.Steps = 40
	c.Run.CheckpointEvery = 1
	c.Optimizer.LR = 1e36
	c.Optimizer.ClipNorm = 0
	_, err := Run(context.Background(), c, Options{Out: out, Resume: ck, ResumePath: good})
	if err == nil {
		t.Fatal("a run with lr 1e36 finished")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "last good checkpoint is "+good) {
		t.Errorf("error %q does not name the last finite checkpoint %s", err, good)
	}
	names, _ := rundir.ListCheckpoints(filepath.Join(out, "checkpoints"))
	for _, n := range names {
		if _, err := LoadCheckpoint(filepath.Join(out, "checkpoints", n)); err != nil {
			t.Errorf("checkpoint on disk does not load: %v", err)
		}
	}
	if p, _ := rundir.ResolveCheckpoint(out); p != good {
		t.Errorf("latest is %s, want %s", p, good)
	}
}

// writeRawCheckpoint writes ck's tensors without SaveCheckpoint's checks,
// as a damaged file or another program could.
func writeRawCheckpoint(t *testing.T, path string, ck *Checkpoint) {
	t.Helper()
	if err := writeRawCheckpointErr(path, ck); err != nil {
		t.Fatal(err)
	}
}

func writeRawCheckpointErr(path string, ck *Checkpoint) error {
	var ts []data.Tensor
	shapes := graph.Shapes(ck.Params.N, ck.Params.H)
	for _, q := range []struct {
		prefix string
		p      *graph.Params
	}{{"", ck.Params}, {"opt.m.", ck.Opt.M}, {"opt.v.", ck.Opt.V}} {
		for i, s := range q.p.Slices() {
			ts = append(ts, data.Tensor{Name: q.prefix + graph.ParamNames[i], Shape: shapes[i], F32: s})
		}
	}
	sched, _ := ck.Scheduler.MarshalState()
	meta := map[string]string{"format": CheckpointFormat, "config": string(ck.Config.YAML()), "step": "7", "opt_step": "7",
		"sampler_state": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "scheduler": sched}
	return data.WriteSafetensors(path, ts, meta)
}

func TestLoadRefusesNonFinite(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		mutate func(ck *Checkpoint)
		want   string
	}{
		{"nan g0", func(ck *Checkpoint) { ck.Params.G0[1] = float32(math.NaN()) }, "tensor g0 holds NaN (at index 1)"},
		{"inf weight", func(ck *Checkpoint) { ck.Params.W2[0] = float32(math.Inf(1)) }, "tensor mlp.4.weight holds +Inf"},
		{"inf moment", func(ck *Checkpoint) { ck.Opt.M.B2[2] = float32(math.Inf(-1)) }, "tensor opt.m.mlp.4.bias holds -Inf"},
	} {
		ck := sampleCheckpoint(t, 4, 3)
		c.mutate(ck)
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".safetensors")
		writeRawCheckpoint(t, p, ck)
		if _, err := LoadCheckpoint(p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: LoadCheckpoint: %v, want an error naming %s and containing %q", c.name, err, p, c.want)
		}
		if _, _, err := LoadParams(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LoadParams: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// LoadParams resolves its argument with rundir.ResolveCheckpoint (whose
// own tests cover the hostile pointers): a pointer to a symbolic link out of
// the run directory is refused without reading the file; one into it is
// followed.
func TestLoadParamsRefusesLinksOutOfTheRun(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("password=hunter2 and more bytes"), 0o644)

	run := t.TempDir()
	ckDir := rundir.CheckpointsPath(run)
	os.MkdirAll(ckDir, 0o755)
	link := filepath.Join(ckDir, rundir.CheckpointName(1))
	os.Symlink(outside, link)
	rundir.WriteLatest(ckDir, rundir.CheckpointName(1))
	if _, _, err := LoadParams(run); err == nil || !strings.Contains(err.Error(), "outside the run directory") || strings.Contains(err.Error(), "password") {
		t.Errorf("LoadParams through the symlink: %v", err)
	}
	inside := filepath.Join(run, "model.safetensors")
	writeRawCheckpoint(t, inside, sampleCheckpoint(t, 4, 3))
	os.Remove(link)
	os.Symlink(inside, link)
	if p, _, err := LoadParams(run); err != nil || p.N != 4 {
		t.Errorf("LoadParams through a symlink inside the run: %v", err)
	}
}

// FuzzLoadCheckpoint feeds arbitrary files to the checkpoint loaders: they
// may refuse anything but must not panic, and what they accept is finite
// and consistent.
func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	c, _ := Preset("tiny")
	c.Model.Units, c.Model.Hidden = 2, 2
	ck := &Checkpoint{Config: c, Step: 1, Params: graph.InitParams(2, 2, 1), Opt: NewOptState(2, 2), SamplerState: []byte{1, 2, 3}, Scheduler: NewPlateau(&c)}
	p := filepath.Join(dir, "seed.safetensors")
	if err := SaveCheckpoint(p, ck); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	f.Add(raw)
	ck.Params.G0[0] = float32(math.NaN())
	q := filepath.Join(dir, "nan.safetensors")
	if err := writeRawCheckpointErr(q, ck); err != nil {
		f.Fatal(err)
	}
	if rawNaN, err := os.ReadFile(q); err == nil {
		f.Add(rawNaN)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if ck, err := LoadCheckpoint(path); err == nil {
			for _, q := range []*graph.Params{ck.Params, ck.Opt.M, ck.Opt.V} {
				if err := checkParamsFinite("", q); err != nil {
					t.Fatalf("LoadCheckpoint accepted %v", err)
				}
			}
		}
		if p, _, err := LoadParams(path); err == nil {
			if err := p.Check(); err != nil {
				t.Fatalf("LoadParams accepted inconsistent parameters: %v", err)
			}
		}
	})
}

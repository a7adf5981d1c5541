package train

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

func sampleCheckpoint(t *testing.T, N, H int) *Checkpoint {
	t.Helper()
	c, _ := Preset("tiny")
	c.Model.Units, c.Model.Hidden = N, H
	st := NewOptState(N, H)
	st.Step = 7
	for i, s := range st.M.Slices() {
		for j := range s {
			s[j] = float32(i+1) * 0.001 * float32(j)
			st.V.Slices()[i][j] = float32(j) * 1e-7
		}
	}
	s, _ := data.NewSampler(1, 2, 3, "permute", 0.15)
	s.Next()
	ss, _ := s.State()
	sch := NewPlateau(&c)
	sch.Observe(1.5)
	return &Checkpoint{Config: c, Step: 7, Params: graph.InitParams(N, H, 3), Opt: st, SamplerState: ss, Scheduler: sch, Elapsed: 1.25}
}

func TestCheckpointRoundTrip(t *testing.T) {
	ck := sampleCheckpoint(t, 4, 3)
	p := filepath.Join(t.TempDir(), rundir.CheckpointName(7))
	if err := SaveCheckpoint(p, ck); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ck) {
		t.Errorf("round trip differs:\n got  %+v\n want %+v", got, ck)
	}
	// The model tensors carry the PyTorch module names and shapes.
	f, err := data.ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range graph.ParamNames {
		if !reflect.DeepEqual(f.Tensors[n].Shape, graph.Shapes(4, 3)[i]) {
			t.Errorf("%s shape %v", n, f.Tensors[n].Shape)
		}
	}
	if f.Tensors["mlp.4.weight"].Shape[0] != 16 || f.Metadata["step"] != "7" || !strings.Contains(f.Metadata["config"], "units: 4") {
		t.Errorf("unexpected layout: %v %v", f.Tensors["mlp.4.weight"].Shape, f.Metadata)
	}
	pp, md, err := LoadParams(p)
	if err != nil || !reflect.DeepEqual(pp, ck.Params) || md["format"] != CheckpointFormat {
		t.Errorf("LoadParams: %v", err)
	}
}

func TestTruncatedCheckpointRefused(t *testing.T) {
	ck := sampleCheckpoint(t, 4, 3)
	p := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := SaveCheckpoint(p, ck); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	for _, n := range []int{len(raw) - 1, len(raw) / 2, 100, 4} {
		q := filepath.Join(t.TempDir(), "trunc.safetensors")
		os.WriteFile(q, raw[:n], 0o644)
		for name, load := range map[string]func(string) error{
			"LoadCheckpoint": func(s string) error { _, err := LoadCheckpoint(s); return err },
			"LoadParams":     func(s string) error { _, _, err := LoadParams(s); return err },
		} {
			err := load(q)
			if err == nil {
				t.Errorf("%s accepted a file truncated to %d bytes", name, n)
				continue
			}
			if !strings.Contains(err.Error(), q) || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("%s, %d bytes: error %q should name the file and say truncated", name, n, err)
			}
		}
	}
}

func TestWrongShapeCheckpointRefused(t *testing.T) {
	dir := t.TempDir()
	// Tensors for N=4 but the recorded config says N=5.
	ck := sampleCheckpoint(t, 4, 3)
	ck.Config.Model.Units = 5
	p := filepath.Join(dir, "a.safetensors")
	if err := SaveCheckpoint(p, ck); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCheckpoint(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "mlp.4.weight has shape [16 3]") || !strings.Contains(err.Error(), "model.units=5") {
		t.Errorf("config/shape mismatch: %v", err)
	}
	if _, _, err := LoadParams(p); err == nil || !strings.Contains(err.Error(), "model.units=5") {
		t.Errorf("LoadParams with mismatching config: %v", err)
	}

	// A model-only file whose tensors disagree with each other.
	good := graph.InitParams(4, 3, 1)
	var ts []data.Tensor
	for i, s := range good.Slices() {
		ts = append(ts, data.Tensor{Name: graph.ParamNames[i], Shape: graph.Shapes(4, 3)[i], F32: s})
	}
	ts[4] = data.Tensor{Name: "mlp.4.weight", Shape: []int{15, 3}, F32: make([]float32, 45)}
	q := filepath.Join(dir, "b.safetensors")
	if err := data.WriteSafetensors(q, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadParams(q)
	if err == nil || !strings.Contains(err.Error(), "mlp.4.weight has shape [15 3]") || !strings.Contains(err.Error(), "N=4") {
		t.Errorf("inconsistent model-only file: %v", err)
	}

	// Missing tensor.
	r := filepath.Join(dir, "c.safetensors")
	data.WriteSafetensors(r, ts[:6], nil)
	if _, _, err := LoadParams(r); err == nil || !strings.Contains(err.Error(), "missing tensor(s) g0") {
		t.Errorf("missing g0: %v", err)
	}

	// A model-only file cannot be resumed, but loads as parameters (N and H
	// from the shapes, as for a file written by PyTorch).
	ts[4] = data.Tensor{Name: "mlp.4.weight", Shape: []int{16, 3}, F32: good.W2}
	ts = append([]data.Tensor{{Name: "extra", Shape: []int{1}, F32: []float32{1}}}, ts...)
	m := filepath.Join(dir, "m.safetensors")
	data.WriteSafetensors(m, ts, map[string]string{"source": "torch"})
	pp, _, err := LoadParams(m)
	if err != nil || !reflect.DeepEqual(pp, good) {
		t.Errorf("model-only LoadParams: %v", err)
	}
	if _, err := LoadCheckpoint(m); err == nil || !strings.Contains(err.Error(), "no gridgpu training state") {
		t.Errorf("resume from a model-only file: %v", err)
	}
}

// LoadParams follows a run directory, its checkpoints folder and the latest
// pointer file to the newest checkpoint, as the analysis and loss commands
// are given any of them.
func TestLoadParamsResolvesRunDirectory(t *testing.T) {
	dir := t.TempDir()
	ckDir := filepath.Join(dir, "checkpoints")
	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := graph.InitParams(4, 6, 1)
	var ts []data.Tensor
	for i, s := range p.Slices() {
		ts = append(ts, data.Tensor{Name: graph.ParamNames[i], Shape: graph.Shapes(4, 6)[i], F32: s})
	}
	if err := data.WriteSafetensors(filepath.Join(ckDir, "step-00000007.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ckDir, rundir.LatestFile), []byte("step-00000007.safetensors\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{dir, ckDir, filepath.Join(ckDir, rundir.LatestFile), filepath.Join(ckDir, "step-00000007.safetensors")} {
		q, _, err := LoadParams(arg)
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if q.N != 4 || q.G0[0] != p.G0[0] {
			t.Errorf("%s: wrong tensors", arg)
		}
	}
}

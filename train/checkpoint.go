package train

import (
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// Checkpoint file layout (safetensors, see README):
//
//	tensors   mlp.0.weight ... g0          model, PyTorch module names, F32
//	          opt.m.<name>, opt.v.<name>   AdamW moments of each model tensor
//	metadata  format          CheckpointFormat
//	          config          effective config (YAML)
//	          step            optimiser steps completed
//	          opt_step        AdamW's step count t (equals step unless an
//	                          engine was restarted with fresh moments)
//	          sampler_state   data sampler generator state (base64)
//	          scheduler       ReduceLROnPlateau state (JSON)
//	          elapsed_seconds training time so far
//	          gridgpu_version the program that wrote it
//	          run_id          the run's id (config-history.yaml; absent in
//	                          checkpoints written before run ids)
//
// Only the model tensors are needed to use a checkpoint (loss, export,
// analysis); the rest makes --resume continue exactly.

// CheckpointFormat identifies this layout in the metadata.
const CheckpointFormat = "gridgpu-checkpoint-1"

// Version is the program version recorded in checkpoints; main sets it.
var Version = "dev"

// Checkpoint is the complete training state at the end of a step.
type Checkpoint struct {
	Config       Config
	Step         int64
	Params       *graph.Params
	Opt          *OptState
	SamplerState []byte
	Scheduler    *Plateau
	Elapsed      float64 // seconds of training before this checkpoint
	// RunID is the id of the run that wrote it (see NewRunID); "" in
	// checkpoints written before run ids.
	RunID string
}

// MaxParamMagnitude is the largest absolute value a checkpoint tensor may
// hold. Values beyond it are finite but absurd (a step with a huge learning
// rate); the next step would overflow float32.
const MaxParamMagnitude = 1e30

// NonFiniteTensorError reports a tensor value that a checkpoint must not
// hold: NaN, Inf, or a magnitude over MaxParamMagnitude.
type NonFiniteTensorError struct {
	Tensor string
	Index  int
	Value  float32
}

func (e *NonFiniteTensorError) Error() string {
	v := float64(e.Value)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("tensor %s holds %v (at index %d)", e.Tensor, v, e.Index)
	}
	return fmt.Sprintf("tensor %s holds %g (at index %d), beyond the plausible magnitude %g", e.Tensor, v, e.Index, MaxParamMagnitude)
}

// checkFinite returns the first value of s that is NaN, Inf or beyond
// MaxParamMagnitude.
func checkFinite(name string, s []float32) error {
	for i, v := range s {
		if !(v >= -MaxParamMagnitude && v <= MaxParamMagnitude) {
			return &NonFiniteTensorError{Tensor: name, Index: i, Value: v}
		}
	}
	return nil
}

// checkParamsFinite checks every tensor of p, named prefix+ParamNames.
func checkParamsFinite(prefix string, p *graph.Params) error {
	if p == nil {
		return nil
	}
	for i, s := range p.Slices() {
		if err := checkFinite(prefix+graph.ParamNames[i], s); err != nil {
			return err
		}
	}
	return nil
}

// ParamTensors are p's tensors as a checkpoint names them (prefix +
// graph.ParamNames), with their shapes; they alias p.
func ParamTensors(prefix string, p *graph.Params) []data.Tensor {
	shapes := graph.Shapes(p.N, p.H)
	ts := make([]data.Tensor, len(shapes))
	for i, s := range p.Slices() {
		ts[i] = data.Tensor{Name: prefix + graph.ParamNames[i], Shape: shapes[i], F32: s}
	}
	return ts
}

// SaveParams writes p's tensors alone, a model file (what LoadParams reads
// from any program), to path atomically with the given metadata. A model
// with a NaN, Inf or absurd value is not written.
func SaveParams(path string, p *graph.Params, meta map[string]string) error {
	if err := checkParamsFinite("", p); err != nil {
		return fmt.Errorf("%s not written: %w", path, err)
	}
	return data.WriteSafetensors(path, ParamTensors("", p), meta)
}

// SaveCheckpoint writes ck to path atomically. A checkpoint whose
// parameters or AdamW moments hold NaN, Inf or absurd magnitudes is not
// written (the error names the tensor), so every checkpoint on disk is one
// training can continue from.
func SaveCheckpoint(path string, ck *Checkpoint) error {
	for _, q := range []struct {
		prefix string
		p      *graph.Params
	}{{"", ck.Params}, {"opt.m.", ck.Opt.M}, {"opt.v.", ck.Opt.V}} {
		if err := checkParamsFinite(q.prefix, q.p); err != nil {
			return fmt.Errorf("checkpoint %s not written: after the optimiser update, %w", path, err)
		}
	}
	ts := append(append(ParamTensors("", ck.Params), ParamTensors("opt.m.", ck.Opt.M)...), ParamTensors("opt.v.", ck.Opt.V)...)
	sched, err := ck.Scheduler.MarshalState()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	meta := map[string]string{
		"format":          CheckpointFormat,
		"config":          string(ck.Config.YAML()),
		"step":            strconv.FormatInt(ck.Step, 10),
		"opt_step":        strconv.FormatInt(ck.Opt.Step, 10),
		"sampler_state":   base64.StdEncoding.EncodeToString(ck.SamplerState),
		"scheduler":       sched,
		"elapsed_seconds": strconv.FormatFloat(ck.Elapsed, 'g', -1, 64),
		"gridgpu_version": Version,
	}
	if ck.RunID != "" {
		meta["run_id"] = ck.RunID
	}
	return data.WriteSafetensors(path, ts, meta)
}

// LoadParams reads the model tensors of a checkpoint. It accepts this
// program's checkpoints and model-only files written by other programs (for
// example torch's state_dict saved with safetensors): N and H come from the
// shapes of g0 and mlp.0.weight, and every tensor's shape must agree. Extra
// tensors are ignored. The metadata is returned as found (empty for files
// without any). path may also be a run directory, its checkpoints/ folder or
// the latest pointer file (see rundir.ResolveCheckpoint).
func LoadParams(path string) (*graph.Params, map[string]string, error) {
	path, err := rundir.ResolveCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := data.ReadSafetensors(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := paramsFrom(path, f, "")
	if err != nil {
		return nil, nil, err
	}
	if err := checkFileFinite(path, f); err != nil {
		return nil, nil, err
	}
	if cfgText, ok := f.Metadata["config"]; ok && f.Metadata["format"] == CheckpointFormat {
		c, _ := Preset("paper")
		if err := ApplyYAML(&c, []byte(cfgText), "checkpoint "+path+" config"); err != nil {
			return nil, nil, err
		}
		if c.Model.Units != p.N || c.Model.Hidden != p.H {
			return nil, nil, fmt.Errorf("checkpoint %s: tensors have N=%d, H=%d but its config says model.units=%d, model.hidden=%d", path, p.N, p.H, c.Model.Units, c.Model.Hidden)
		}
		if k := c.Model.NormBlocks(); k > 1 {
			p.NormBlocks = k
		}
	}
	return p, f.Metadata, nil
}

// paramsFrom extracts the seven model tensors named prefix+ParamNames.
func paramsFrom(path string, f *data.SafeFile, prefix string) (*graph.Params, error) {
	var missing []string
	for _, n := range graph.ParamNames {
		if _, ok := f.Tensors[prefix+n]; !ok {
			missing = append(missing, prefix+n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("checkpoint %s: missing tensor(s) %s (it holds: %s)", path, strings.Join(missing, ", "), strings.Join(tensorList(f), ", "))
	}
	g0 := f.Tensors[prefix+"g0"]
	w0 := f.Tensors[prefix+"mlp.0.weight"]
	if len(g0.Shape) != 1 || g0.Shape[0] < 1 {
		return nil, fmt.Errorf("checkpoint %s: tensor %sg0 has shape %v, want [N]", path, prefix, g0.Shape)
	}
	if len(w0.Shape) != 2 || w0.Shape[1] != 2 || w0.Shape[0] < 1 {
		return nil, fmt.Errorf("checkpoint %s: tensor %smlp.0.weight has shape %v, want [H, 2]", path, prefix, w0.Shape)
	}
	N, H := g0.Shape[0], w0.Shape[0]
	if err := checkShapes(path, f, prefix, N, H, ""); err != nil {
		return nil, err
	}
	p := graph.ZeroParams(N, H)
	for i, s := range p.Slices() {
		copy(s, f.Tensors[prefix+graph.ParamNames[i]].F32)
	}
	return p, nil
}

// checkShapes verifies every tensor prefix+name has the shape N, H imply.
// why explains where N and H came from, for the message.
func checkShapes(path string, f *data.SafeFile, prefix string, N, H int, why string) error {
	if why == "" {
		why = fmt.Sprintf("N=%d (from g0) and H=%d (from mlp.0.weight)", N, H)
	}
	for i, want := range graph.Shapes(N, H) {
		name := prefix + graph.ParamNames[i]
		t, ok := f.Tensors[name]
		if !ok {
			return fmt.Errorf("checkpoint %s: missing tensor %s", path, name)
		}
		if !reflect.DeepEqual(t.Shape, want) {
			return fmt.Errorf("checkpoint %s: tensor %s has shape %v, but %s needs %v", path, name, t.Shape, why, want)
		}
	}
	return nil
}

// checkFileFinite refuses a checkpoint whose model tensors or AdamW moments
// (the tensors any command uses) hold NaN, Inf or absurd magnitudes.
func checkFileFinite(path string, f *data.SafeFile) error {
	for _, prefix := range []string{"", "opt.m.", "opt.v."} {
		for _, n := range graph.ParamNames {
			t, ok := f.Tensors[prefix+n]
			if !ok {
				continue
			}
			if err := checkFinite(prefix+n, t.F32); err != nil {
				return fmt.Errorf("checkpoint %s: %w; the file is damaged or was written after training diverged", path, err)
			}
		}
	}
	return nil
}

func tensorList(f *data.SafeFile) []string {
	ks := make([]string, 0, len(f.Tensors))
	for k := range f.Tensors {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > 12 {
		ks = append(ks[:12], fmt.Sprintf("... %d more", len(f.Tensors)-12))
	}
	if len(ks) == 0 {
		ks = []string{"no tensors"}
	}
	return ks
}

// LoadCheckpoint reads a full training checkpoint for --resume. Files that
// hold only model tensors, or whose tensors do not fit the config recorded
// in them, are refused with a message naming the file and the problem.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := data.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	md := f.Metadata
	if md["format"] != CheckpointFormat {
		if md["format"] == "" {
			return nil, fmt.Errorf("checkpoint %s: holds no gridgpu training state (no \"format\" metadata); a model-only file can be used with loss, export and analysis, not --resume", path)
		}
		return nil, fmt.Errorf("checkpoint %s: format %q, this program reads %q", path, md["format"], CheckpointFormat)
	}
	for _, k := range []string{"config", "step", "opt_step", "sampler_state", "scheduler"} {
		if _, ok := md[k]; !ok {
			return nil, fmt.Errorf("checkpoint %s: metadata lacks %q", path, k)
		}
	}
	// Recorded configs hold every key of their day; starting from the paper
	// preset gives keys added since then their defaults.
	ck := &Checkpoint{}
	ck.Config, _ = Preset("paper")
	if err := ApplyYAML(&ck.Config, []byte(md["config"]), "checkpoint "+path+" config"); err != nil {
		return nil, err
	}
	if err := ck.Config.Validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: recorded config: %w", path, err)
	}
	N, H := ck.Config.Model.Units, ck.Config.Model.Hidden
	why := fmt.Sprintf("its config (model.units=%d, model.hidden=%d)", N, H)
	for _, prefix := range []string{"", "opt.m.", "opt.v."} {
		if err := checkShapes(path, f, prefix, N, H, why); err != nil {
			return nil, err
		}
	}
	load := func(prefix string) *graph.Params {
		p := graph.ZeroParams(N, H)
		for i, s := range p.Slices() {
			copy(s, f.Tensors[prefix+graph.ParamNames[i]].F32)
		}
		return p
	}
	if err := checkFileFinite(path, f); err != nil {
		return nil, err
	}
	ck.Params = load("")
	if k := ck.Config.Model.NormBlocks(); k > 1 {
		ck.Params.NormBlocks = k
	}
	ck.Opt = &OptState{M: load("opt.m."), V: load("opt.v.")}
	if ck.Step, err = strconv.ParseInt(md["step"], 10, 64); err != nil || ck.Step < 0 {
		return nil, fmt.Errorf("checkpoint %s: bad step %q", path, md["step"])
	}
	if ck.Opt.Step, err = strconv.ParseInt(md["opt_step"], 10, 64); err != nil || ck.Opt.Step < 0 {
		return nil, fmt.Errorf("checkpoint %s: bad opt_step %q", path, md["opt_step"])
	}
	if ck.SamplerState, err = base64.StdEncoding.DecodeString(md["sampler_state"]); err != nil || len(ck.SamplerState) == 0 {
		return nil, fmt.Errorf("checkpoint %s: bad sampler_state", path)
	}
	if ck.Scheduler, err = UnmarshalPlateau(md["scheduler"]); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if s, ok := md["elapsed_seconds"]; ok {
		ck.Elapsed, _ = strconv.ParseFloat(s, 64)
	}
	ck.RunID = md["run_id"]
	return ck, nil
}

// commitCheckpoint writes ck as dir/step-XXXXXXXX.safetensors
// (rundir.CheckpointName), points "latest" at it, and removes all but the
// newest keep checkpoints (keep 0 keeps all). The pointer is updated only after the file is complete, and
// old files are removed only after that, so a crash at any moment leaves a
// loadable latest checkpoint. If writing fails (a full disk, a non-finite
// parameter), the new file is removed again, latest keeps pointing at the
// previous checkpoint, and the error names that last good checkpoint.
// Temporary files left in dir by an earlier process killed in the middle of
// a write are removed first.
//
// With best (run.keep_best) the best checkpoint is never removed, and
// newBest, when not nil, is the value of best's key at this checkpoint's
// step, a new best: the "best" pointer moves to this checkpoint after
// latest has.
func commitCheckpoint(dir string, ck *Checkpoint, keep int, best *bestTracker, newBest *float64) (string, error) {
	data.RemoveStaleTemps(dir, data.ProcessStart)
	name := rundir.CheckpointName(ck.Step)
	path := filepath.Join(dir, name)
	lastGood := func(err error) error {
		prev := lastGoodCheckpoint(dir)
		if prev == "" || prev == path {
			return fmt.Errorf("%w; no earlier checkpoint in %s", err, dir)
		}
		return fmt.Errorf("%w; the last good checkpoint is %s", err, prev)
	}
	_, existed := os.Stat(path)
	if err := SaveCheckpoint(path, ck); err != nil {
		return "", lastGood(err)
	}
	if err := rundir.WriteLatest(dir, name); err != nil {
		if existed != nil {
			// Nothing points at the new file: remove it so that the
			// directory holds only checkpoints reachable from latest.
			os.Remove(path)
		}
		return "", lastGood(err)
	}
	protect := ""
	if best != nil {
		if newBest != nil {
			if err := rundir.WriteBest(dir, rundir.Best{Name: name, Key: best.key, Value: *newBest}); err != nil {
				return path, fmt.Errorf("checkpoint %s written, but not the %s pointer to it: %w", path, rundir.BestFile, err)
			}
			best.name, best.step, best.value = name, ck.Step, *newBest
		}
		protect = best.name
	}
	if keep > 0 {
		names, err := rundir.ListCheckpoints(dir)
		if err != nil {
			return path, err
		}
		for len(names) > keep {
			if names[0] != name && names[0] != protect {
				if err := os.Remove(filepath.Join(dir, names[0])); err != nil && !os.IsNotExist(err) {
					return path, fmt.Errorf("removing old checkpoint: %w", err)
				}
			}
			names = names[1:]
		}
	}
	return path, nil
}

// lastGoodCheckpoint is the checkpoint dir's latest pointer names, if it
// names an existing file ("" otherwise).
func lastGoodCheckpoint(dir string) string {
	name, _, err := rundir.Latest(dir)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, name)
}

package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/train"
)

// Files the sweep keeps beside the trainer's in a run directory.
const (
	StatusFile = "sweep-status.json" // the run's state, written at every transition
	ConfigFile = "sweep-config.yaml" // the point's config, passed to train --config
	TrainLog   = "train.log"         // stdout and stderr of every train attempt
	AnalyzeLog = "analyze.log"       // the same for analyze
	ReportDir  = "report"            // analyze --out
)

// Run states in sweep-status.json.
const (
	StatePending     = "pending"
	StateTraining    = "training"
	StateAnalyzing   = "analyzing"
	StateDone        = "done"
	StateFailed      = "failed"
	StateInterrupted = "interrupted"
)

// KV is a key and value in sweep-status.json.
type KV struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Status is the content of sweep-status.json.
type Status struct {
	Name      string  `json:"name"`
	Index     int     `json:"index"`
	Variant   string  `json:"variant,omitempty"`
	Values    []KV    `json:"values"`    // grid values
	Overrides []KV    `json:"overrides"` // variant overrides, then grid values
	State     string  `json:"state"`
	Phase     string  `json:"phase,omitempty"` // train or analyze, for failed and interrupted runs
	Error     string  `json:"error,omitempty"`
	Log       string  `json:"log,omitempty"` // the log holding the failed attempt's output
	Device    string  `json:"device,omitempty"`
	Step      int64   `json:"step"`  // newest checkpoint's step
	Steps     int64   `json:"steps"` // run.steps
	Attempts  int     `json:"attempts"`
	TrainSec  float64 `json:"train_seconds,omitempty"`   // wall time of the last train attempt
	AnalyzeS  float64 `json:"analyze_seconds,omitempty"` // wall time of the last analysis
	UpdatedAt string  `json:"updated"`
}

func kvs(sets []Setting) []KV {
	out := []KV{}
	for _, s := range sets {
		out = append(out, KV{s.Key, s.Value})
	}
	return out
}

// ReadStatus reads a run directory's sweep-status.json (nil if absent).
func ReadStatus(runDir string) (*Status, error) {
	b, err := os.ReadFile(filepath.Join(runDir, StatusFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st Status
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, StatusFile), err)
	}
	return &st, nil
}

func writeStatus(runDir string, st *Status) error {
	st.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(runDir, StatusFile), append(b, '\n'))
}

// checkpointStep is the step of the run's newest checkpoint (from the name
// its "latest" pointer holds), or -1 when it has none.
func checkpointStep(runDir string) int64 {
	b, err := os.ReadFile(filepath.Join(runDir, "checkpoints", train.LatestFile))
	if err != nil {
		return -1
	}
	name := strings.TrimSpace(string(b))
	if _, err := os.Stat(filepath.Join(runDir, "checkpoints", name)); err != nil {
		return -1
	}
	s, ok := strings.CutPrefix(name, "step-")
	s, ok2 := strings.CutSuffix(s, ".safetensors")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || !ok2 || err != nil {
		return -1
	}
	return n
}

func hasReport(runDir string) bool {
	_, err := os.Stat(filepath.Join(runDir, ReportDir, "summary.json"))
	return err == nil
}

// configDiff compares the config a run was trained with (its config.yaml)
// with the point's: everything but run.steps (a resumed run may go further)
// and run.device (a run may continue on another device) must agree.
func configDiff(runDir string, want train.Config) (string, error) {
	src, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	had, _ := train.Preset("paper")
	if err := train.ApplyYAML(&had, src, filepath.Join(runDir, "config.yaml")); err != nil {
		return "", err
	}
	var diffs []string
	for _, f := range train.Fields() {
		if f.Path == "run.steps" || f.Path == "run.device" {
			continue
		}
		if a, b := f.Get(&had), f.Get(&want); !reflect.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s was %v, the sweep file now says %v", f.Path, a, b))
		}
	}
	return strings.Join(diffs, "; "), nil
}

package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/rundir"
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
// Like every file the sweep reads from a run directory, it must be a
// regular file of bounded size (data.ReadRegularFile): a FIFO put in its
// place is refused rather than waited on.
func ReadStatus(runDir string) (*Status, error) {
	path := filepath.Join(runDir, StatusFile)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	b, err := data.ReadRegularFile(path, "sweep status", data.MaxConfigBytes)
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
// its latest pointer holds, rundir.Latest), or -1 when it has none.
func checkpointStep(runDir string) int64 {
	_, step, err := rundir.Latest(rundir.CheckpointsPath(runDir))
	if err != nil {
		return -1
	}
	return step
}

// reportState says whether the run's analysis is finished: its
// report/summary.json reads as an analyze summary with at least one arena
// (analysis.ReadSummary; analyze publishes its report whole) and analysed
// the newest checkpoint, at step ck (the step its checkpoint metadata
// recorded, where it has one). problem is "" when there is no summary.json
// at all (not analysed yet), else why the one there does not count (a file
// cut short, a report of an earlier checkpoint).
func reportState(runDir string, ck int64) (ok bool, problem string) {
	path := filepath.Join(runDir, ReportDir, "summary.json")
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, ""
	}
	sum, err := analysis.ReadSummary(path)
	if err != nil {
		return false, err.Error()
	}
	if s, ok := sum.Model.Metadata["step"]; ok && s != strconv.FormatInt(ck, 10) {
		return false, fmt.Sprintf("%s is the analysis of the checkpoint at step %s; the newest is at step %d", path, s, ck)
	}
	return true, ""
}

func reportDone(runDir string, ck int64) bool {
	ok, _ := reportState(runDir, ck)
	return ok
}

// metricsTail is how much of the end of metrics.jsonl metricsProblem
// reads: a line is a few hundred bytes.
const metricsTail = 1 << 20

// metricsProblem says why a run trained to its checkpoint at step ck lacks
// the training log of a finished run of steps steps ("" when it has it):
// the trainer always logs its last step, so the newest record of
// metrics.jsonl must be at step steps or beyond. A missing, empty or
// damaged metrics.jsonl is a problem, not a finished run of 0 steps.
//
// The newest record is found in the last metricsTail bytes of the file
// (rundir.ReadMetrics); a last line cut short is passed over.
func metricsProblem(runDir string, ck, steps int64) string {
	m, err := rundir.ReadMetrics(runDir, rundir.MetricsOptions{Tail: metricsTail})
	if err != nil {
		return fmt.Sprintf("%v, though the checkpoint is at step %d; remove %s to train the run again", err, ck, runDir)
	}
	last, ok := m.Last()
	switch {
	case !ok:
		return fmt.Sprintf("%s holds no metrics record, though the checkpoint is at step %d; remove %s to train the run again", m.Path, ck, runDir)
	case last.Step < steps:
		return fmt.Sprintf("%s ends at step %d of %d, though the checkpoint is at step %d; remove %s to train the run again", m.Path, last.Step, steps, ck, runDir)
	}
	return ""
}

// configDiff compares the config a run was trained with (its config.yaml)
// with the point's: everything but run.steps (a resumed run may go further)
// and run.device (a run may continue on another device) must agree.
func configDiff(runDir string, want train.Config) (string, error) {
	src, err := rundir.ReadConfig(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	had, _ := train.Preset("paper")
	if err := train.ApplyYAML(&had, src, rundir.ConfigPath(runDir)); err != nil {
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

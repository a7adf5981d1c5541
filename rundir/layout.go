package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/data"
)

// The files and folders of a run directory.
const (
	// ConfigFile is the run's effective configuration, a config file that
	// reproduces the run (the current part's, for a resumed run).
	ConfigFile = "config.yaml"
	// HistoryFile records the configuration of every part of a run.
	HistoryFile = "config-history.yaml"
	// MetricsFile holds one JSON object a logged step.
	MetricsFile = "metrics.jsonl"
	// CheckpointDir is the folder of the checkpoints and their pointers.
	CheckpointDir = "checkpoints"
	// LatestFile is the pointer file in CheckpointDir that names the newest
	// checkpoint.
	LatestFile = "latest"
	// BestFile is the pointer file in CheckpointDir that names the best
	// checkpoint by a metrics key (run.keep_best).
	BestFile = "best"
	// EvalDir is the folder of the in-training evaluation's pictures, one a
	// evaluation, named by EvalPictureName.
	EvalDir = "eval"
)

// maxConfigBytes bounds config.yaml as every config file is bounded.
const maxConfigBytes = data.MaxConfigBytes

// ConfigPath is run's config.yaml.
func ConfigPath(run string) string { return filepath.Join(run, ConfigFile) }

// HistoryPath is run's config-history.yaml.
func HistoryPath(run string) string { return filepath.Join(run, HistoryFile) }

// MetricsPath is run's metrics.jsonl.
func MetricsPath(run string) string { return filepath.Join(run, MetricsFile) }

// CheckpointsPath is run's checkpoints/ folder.
func CheckpointsPath(run string) string { return filepath.Join(run, CheckpointDir) }

// EvalPath is run's eval/ folder.
func EvalPath(run string) string { return filepath.Join(run, EvalDir) }

// Files named by a step: "step-" and the step, zero-padded to eight digits
// so that lexical and numeric order agree, and an extension.
const stepPrefix = "step-"

func stepName(step int64, ext string) string { return fmt.Sprintf("%s%08d%s", stepPrefix, step, ext) }

// stepOf is the step of a stepName with extension ext; false for any other
// name (also other spellings of the same number).
func stepOf(name, ext string) (int64, bool) {
	s, ok := strings.CutPrefix(name, stepPrefix)
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, ext); !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0 && stepName(n, ext) == name
}

// stepFiles lists the files of dir (not folders) named stepName(_, ext),
// sorted by step; a missing dir has none.
func stepFiles(dir, ext string) ([]string, error) {
	ents, err := data.ReadDirIfExists(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	steps := map[string]int64{}
	for _, e := range ents {
		if s, ok := stepOf(e.Name(), ext); ok && !e.IsDir() {
			out = append(out, e.Name())
			steps[e.Name()] = s
		}
	}
	sort.Slice(out, func(i, j int) bool { return steps[out[i]] < steps[out[j]] })
	return out, nil
}

const checkpointExt = ".safetensors"

// CheckpointName is the file name of the checkpoint after step steps,
// step-NNNNNNNN.safetensors.
func CheckpointName(step int64) string { return stepName(step, checkpointExt) }

// CheckpointStep is the step of a CheckpointName; false for other names.
func CheckpointStep(name string) (int64, bool) { return stepOf(name, checkpointExt) }

// ListCheckpoints returns the checkpoint file names (CheckpointName) in
// dir, a checkpoints/ folder, oldest first; a missing folder holds none.
func ListCheckpoints(dir string) ([]string, error) { return stepFiles(dir, checkpointExt) }

const pictureExt = ".png"

// EvalPictureName is the file name of the picture of step's evaluation,
// step-NNNNNNNN.png.
func EvalPictureName(step int64) string { return stepName(step, pictureExt) }

// ListEvalPictures returns the picture names (EvalPictureName) in run's
// eval/ folder, oldest first.
func ListEvalPictures(run string) ([]string, error) { return stepFiles(EvalPath(run), pictureExt) }

// OfCheckpoint is the run directory of a checkpoint file: the parent of its
// checkpoints/ folder, else the folder it is in.
func OfCheckpoint(ckPath string) string { return ofFolder(filepath.Dir(ckPath)) }

// ofFolder is the run directory of a folder that holds checkpoints: its
// parent when it is a checkpoints/ folder, else itself.
func ofFolder(dir string) string {
	if filepath.Base(dir) == CheckpointDir {
		return filepath.Dir(dir)
	}
	return dir
}

// Find returns the run directory of a checkpoint, or "" when it is not in
// one. arg is what the user gave (a file, RUN/checkpoints/latest, a run
// directory or its checkpoints/), resolved the checkpoint file it names
// ("" when not known). A directory counts as a run when it holds
// metrics.jsonl, config.yaml or checkpoints/; the parent of a checkpoints/
// directory always does.
func Find(arg, resolved string) string {
	var cands []string
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		cands = append(cands, arg)
	}
	if resolved != "" {
		cands = append(cands, filepath.Dir(resolved))
	}
	for _, d := range cands {
		d = filepath.Clean(d)
		if filepath.Base(d) == CheckpointDir {
			return filepath.Dir(d)
		}
		if isRun(d) {
			return d
		}
	}
	return ""
}

// isRun reports whether d holds any of a run's files.
func isRun(d string) bool {
	for _, f := range []string{MetricsFile, ConfigFile, CheckpointDir} {
		if _, err := os.Stat(filepath.Join(d, f)); err == nil {
			return true
		}
	}
	return false
}

// Holds describes the training run dir holds, "metrics.jsonl and
// checkpoints/" ("" when it holds none): a non-empty metrics.jsonl, a
// checkpoints/ folder with anything in it.
func Holds(dir string) string {
	var what []string
	if st, err := os.Stat(MetricsPath(dir)); err == nil && st.Size() > 0 {
		what = append(what, MetricsFile)
	}
	if ents, err := os.ReadDir(CheckpointsPath(dir)); err == nil && len(ents) > 0 {
		what = append(what, CheckpointDir+"/")
	}
	return strings.Join(what, " and ")
}

// SameDir reports whether a and b are the same directory (or, where either
// cannot be read, the same path).
func SameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	ca, _ := filepath.Abs(a)
	cb, _ := filepath.Abs(b)
	return filepath.Clean(ca) == filepath.Clean(cb)
}

// ReadConfig reads run's config.yaml, a regular file of at most 1 MiB
// (data.ReadRegularFile). A missing file is an error that wraps
// fs.ErrNotExist.
func ReadConfig(run string) ([]byte, error) {
	path := ConfigPath(run)
	// data.ReadRegularFile's errors are one-line messages that need not
	// wrap fs.ErrNotExist, so a missing file is told by Lstat first.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	return data.ReadRegularFile(path, "run config", maxConfigBytes)
}

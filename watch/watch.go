// Package watch is the read-only web view of 'gridgpu watch': a page that
// shows training runs live (their metrics.jsonl as line charts, several
// runs overlaid, their config.yaml and the newest evaluation picture) and
// the table of a sweep's runs, refreshed by polling small JSON endpoints.
//
// It only reads files, with the readers the rest of gridgpu uses
// (analysis.ReadTrainingCurves for metrics.jsonl, through rundir.ReadMetrics;
// sweep.ReadStatus for a sweep's runs), so it costs a training nothing; a
// metrics.jsonl that is being appended to, partial last line included, is
// read up to its last whole line. The page is self-contained: inline SVG drawn by a little
// plain JavaScript, nothing fetched from the network.
//
// Endpoints (GET only):
//
//	/                      the page; ?runs=ID,ID overlays those runs
//	/api/targets           the runs and sweeps given on the command line
//	/api/run?id=ID         one run: series, config, state, picture URL
//	/api/sweep?id=ID       one sweep: a row per run
//	/api/picture?id=ID     the run's newest eval/step-*.png
//
// A run given on the command line has the ID "rN" (N its position among
// the runs), a sweep "sN", and a sweep's run "sN/NAME".
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/sweep"
)

// Kinds of Target.
const (
	KindRun   = "run"
	KindSweep = "sweep"
)

// Target is a run or sweep directory given on the command line.
type Target struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"` // the argument as given, cleaned
	Dir  string `json:"dir"`
}

// Resolve checks the command line's directories and names each a run or a
// sweep. Its errors are one line that names the argument and what is wrong.
func Resolve(args []string) ([]Target, error) {
	if len(args) == 0 {
		return nil, errors.New("watch needs one or more RUN or SWEEP directories")
	}
	var out []Target
	nRun, nSweep := 0, 0
	seen := map[string]bool{}
	for _, a := range args {
		kind, dir, err := classify(a)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", a, err)
		}
		if seen[abs] {
			return nil, fmt.Errorf("%s is given twice", a)
		}
		seen[abs] = true
		t := Target{Kind: kind, Name: filepath.Clean(a), Dir: abs}
		if kind == KindRun {
			t.ID = fmt.Sprintf("r%d", nRun)
			nRun++
		} else {
			t.ID = fmt.Sprintf("s%d", nSweep)
			nSweep++
		}
		out = append(out, t)
	}
	return out, nil
}

// classify says whether arg is a run directory (or its checkpoints/) or a
// sweep's output directory.
func classify(arg string) (kind, dir string, err error) {
	st, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("%s does not exist; give a run directory (train --out) or a sweep directory (sweep --out)", arg)
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: %v", arg, err)
	}
	if !st.IsDir() {
		return "", "", fmt.Errorf("%s is a file, not a run directory (train --out) or a sweep directory (sweep --out)", arg)
	}
	if sweep.IsOutDir(arg) {
		return KindSweep, arg, nil
	}
	if d := rundir.Find(arg, ""); d != "" {
		return KindRun, d, nil
	}
	return "", "", fmt.Errorf("%s is neither a run directory (no %s, %s or %s/) nor a sweep directory (no %s or %s/*/%s)",
		arg, rundir.MetricsFile, rundir.ConfigFile, rundir.CheckpointDir, sweep.SpecFile, sweep.RunsDir, sweep.StatusFile)
}

// validRunName reports whether name can be a sweep run's directory name
// (one path element), so that an ID cannot reach outside the sweep.
func validRunName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && filepath.Base(name) == name
}

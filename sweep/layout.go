package sweep

import (
	"os"
	"path/filepath"
	"sort"
)

// A sweep's output directory (sweep --out) holds the sweep file as it was
// run, SpecFile, and one run directory per point under RunsDir, each with
// its StatusFile; the summaries (results.csv, results.json, summary.html,
// ThumbDir) sit beside them.
const (
	SpecFile = "sweep.yaml"
	RunsDir  = "runs"
)

// RunDir is the directory of a point's run.
func RunDir(out, name string) string { return filepath.Join(out, RunsDir, name) }

// RunNames lists the names of the run directories in out, sorted; none
// when out has no RunsDir.
func RunNames(out string) []string {
	ents, err := os.ReadDir(filepath.Join(out, RunsDir))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// IsOutDir reports whether dir is a sweep's output directory: it holds the
// sweep file or a run with a status file.
func IsOutDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, SpecFile)); err == nil {
		return true
	}
	for _, name := range RunNames(dir) {
		if _, err := os.Stat(filepath.Join(RunDir(dir, name), StatusFile)); err == nil {
			return true
		}
	}
	return false
}

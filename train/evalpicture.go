package train

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/rundir"
)

// MaxEvalPictures bounds the pictures a run keeps: the first evaluation's
// and the newest ones, 0.2-0.4 MB each at N = 64, so that a long run with
// frequent evaluations does not fill a disk with them.
const MaxEvalPictures = 16

// PictureFunc draws an evaluation's ratemaps (the CLI sets it to
// EvalPicturePNG of package analysis/report); train itself draws nothing,
// and links none of the plotting code.
type PictureFunc func(ar *analysis.ArenaResult, heading string) ([]byte, error)

// writeEvalPicture writes the picture of ev (evaluated after step) into
// the run directory out (rundir.EvalDir, named by rundir.EvalPictureName;
// `gridgpu watch` shows the newest), whole or not at all, and removes the
// pictures beyond MaxEvalPictures, oldest first, keeping the first one.
func writeEvalPicture(draw PictureFunc, out string, step int64, ev *EvalMetrics) error {
	if ev.arena == nil {
		return nil
	}
	heading := fmt.Sprintf("step %d: %d grid cells of %d (%s walks, %g m arena); ratemaps along the standard walks, sorted by grid score", step, ev.GridUnits, len(ev.arena.Scores), ev.Walks, ev.Arena)
	png, err := draw(ev.arena, heading)
	if err != nil {
		return err
	}
	dir := rundir.EvalPath(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, rundir.EvalPictureName(step)), png); err != nil {
		return err
	}
	return pruneEvalPictures(out, MaxEvalPictures)
}

// pruneEvalPictures removes the pictures of the run directory out beyond
// keep, the oldest after the first.
func pruneEvalPictures(out string, keep int) error {
	names, err := rundir.ListEvalPictures(out)
	if err != nil {
		return err
	}
	for len(names) > keep && keep >= 2 {
		if err := os.Remove(filepath.Join(rundir.EvalPath(out), names[1])); err != nil {
			return err
		}
		names = append(names[:1], names[2:]...)
	}
	return nil
}

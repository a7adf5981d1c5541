package train

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/report"
	"github.com/gridgpu/gridgpu/rundir"
)

// Every evaluation of a run leaves its ratemap picture, a decodable PNG
// named by the step; with more evaluations than MaxEvalPictures the first
// and the newest are kept.
func TestEvalPictures(t *testing.T) {
	useFake(t, nil)
	evals := MaxEvalPictures + 3
	cfg := testConfig(t, int64(2*evals))
	cfg.Run.EvalEvery, cfg.Run.EvalTrajectories = 2, 2
	out := t.TempDir()
	var headings []string
	draw := func(ar *analysis.ArenaResult, heading string) ([]byte, error) {
		headings = append(headings, heading)
		return report.EvalPicturePNG(ar, heading)
	}
	if _, err := Run(context.Background(), cfg, Options{Out: out, EvalPicture: draw}); err != nil {
		t.Fatal(err)
	}
	if len(headings) != evals {
		t.Fatalf("%d pictures drawn, want one per evaluation (%d)", len(headings), evals)
	}
	if !strings.HasPrefix(headings[0], "step 2: ") {
		t.Errorf("first heading %q, want it to start with the step", headings[0])
	}
	names, _ := filepath.Glob(filepath.Join(out, rundir.EvalDir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	want := []string{rundir.EvalPictureName(2)}
	for s := 2 * (evals - MaxEvalPictures + 2); s <= 2*evals; s += 2 {
		want = append(want, rundir.EvalPictureName(int64(s)))
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("eval/ holds %v, want %v", names, want)
	}
	b, err := os.ReadFile(filepath.Join(out, rundir.EvalDir, rundir.EvalPictureName(int64(2*evals))))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the newest picture is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
		t.Errorf("picture %v, too small to show ratemaps", r)
	}
}

// A picture that fails is reported once and training finishes.
func TestEvalPictureFailureDoesNotStopTraining(t *testing.T) {
	useFake(t, nil)
	cfg := testConfig(t, 6)
	cfg.Run.EvalEvery, cfg.Run.EvalTrajectories = 2, 2
	out := t.TempDir()
	var log bytes.Buffer
	calls := 0
	draw := func(*analysis.ArenaResult, string) ([]byte, error) {
		calls++
		return nil, errors.New("no fonts")
	}
	res, err := Run(context.Background(), cfg, Options{Out: out, Log: &log, EvalPicture: draw})
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 6 || calls != 1 {
		t.Errorf("step %d, %d picture calls; want 6 and 1", res.Step, calls)
	}
	if n := strings.Count(log.String(), "evaluation picture not written (no fonts)"); n != 1 {
		t.Errorf("warning printed %d times, want once:\n%s", n, log.String())
	}
}

func TestPruneEvalPictures(t *testing.T) {
	for _, tc := range []struct {
		have []int64
		keep int
		want []int64
	}{
		{[]int64{1, 2, 3}, 4, []int64{1, 2, 3}},
		{[]int64{1, 2, 3, 4, 5}, 3, []int64{1, 4, 5}},
		{[]int64{10, 200, 3000, 40000}, 2, []int64{10, 40000}},
	} {
		out := t.TempDir()
		dir := rundir.EvalPath(out)
		os.MkdirAll(dir, 0o755)
		for _, s := range tc.have {
			os.WriteFile(filepath.Join(dir, rundir.EvalPictureName(s)), nil, 0o644)
		}
		if err := pruneEvalPictures(out, tc.keep); err != nil {
			t.Fatal(err)
		}
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		var got []int64
		for _, n := range names {
			for _, s := range tc.have {
				if filepath.Base(n) == rundir.EvalPictureName(s) {
					got = append(got, s)
				}
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("keep %d of %v: left %v, want %v", tc.keep, tc.have, got, tc.want)
		}
	}
}

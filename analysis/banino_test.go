package analysis

// The expected values in testdata/banino/expected.npz come from
// testdata/banino/make_expected.py, this project's own re-statement of the
// published grid scorer of Banino et al. (2018) (the GridScorer of
// google-deepmind/grid-cells scores.py, which Sorscher et al. use
// unchanged), run with Debian's numpy 1.24.2 and scipy 1.10.1: SACs by
// scipy.signal.convolve2d after numpy.nan_to_num, rotations by
// scipy.ndimage.rotate(sac, angle, reshape=False), ring masks and
// correlations as in the published code. The test maps (hexagonal and
// square lattices with noise and NaN bins, place fields, smoothed and white
// noise; 20, 40 and 60 bins a side) are stored in the file, so the tests
// need no Python. Rerun the script to regenerate the file.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gridgpu/gridgpu/data"
)

const baninoDir = "../testdata/banino"

func loadBanino(t *testing.T) (map[string]data.Array, []string) {
	t.Helper()
	arrays, err := data.ReadNPZ(filepath.Join(baninoDir, "expected.npz"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(baninoDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Maps []struct {
			Index int    `json:"index"`
			Name  string `json:"name"`
		} `json:"maps"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(meta.Maps))
	for i, m := range meta.Maps {
		if m.Index != i {
			t.Fatalf("expected.json: map %d has index %d", i, m.Index)
		}
		names[i] = m.Name
	}
	return arrays, names
}

func mustArray(t *testing.T, arrays map[string]data.Array, name string) data.Array {
	t.Helper()
	a, ok := arrays[name]
	if !ok {
		t.Fatalf("expected.npz has no %q", name)
	}
	return a
}

func maxAbsDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// TestRotateSplineMatchesScipy checks rotateSpline against
// scipy.ndimage.rotate(a, angle, reshape=False) on random arrays (square
// and oblong, odd and even sides), a smooth array and a SAC, at the score
// angles and three others.
func TestRotateSplineMatchesScipy(t *testing.T) {
	arrays, _ := loadBanino(t)
	angles := mustArray(t, arrays, "rot_angles").Float64s()
	for k := 0; ; k++ {
		in, ok := arrays[fmt.Sprintf("rot_in_%d", k)]
		if !ok {
			if k == 0 {
				t.Fatal("no rotation cases")
			}
			break
		}
		want := mustArray(t, arrays, fmt.Sprintf("rot_out_%d", k))
		rows, cols := in.Shape[0], in.Shape[1]
		coef := splineFilter(in.Float64s(), rows, cols)
		w := want.Float64s()
		worst := 0.0
		for ai, a := range angles {
			got := rotateSpline(coef, rows, cols, a)
			exp := w[ai*rows*cols : (ai+1)*rows*cols]
			tol := 1e-12
			if want.F32 != nil { // stored rounded to float32
				tol = 1e-6
			}
			d := maxAbsDiff(got, exp)
			worst = max(worst, d)
			if d > tol {
				t.Errorf("array %d (%dx%d) rotated by %g degrees: max |diff| %.3g from scipy", k, rows, cols, a, d)
			}
		}
		t.Logf("array %d (%dx%d, %s): largest |rotateSpline - scipy.ndimage.rotate| %.3g", k, rows, cols, storedType(want), worst)
	}
}

// TestBaninoMatchesPublished checks the banino scorer's SACs and scores
// against the published method's numbers (see the comment at the top).
func TestBaninoMatchesPublished(t *testing.T) {
	arrays, names := loadBanino(t)
	sc := &Scorer{BinSize: 1, Method: ScorerBanino}
	worst60, worst90, worstSAC := 0.0, 0.0, 0.0
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			m := mustArray(t, arrays, fmt.Sprintf("map_%02d", i))
			n := m.Shape[0]
			want60 := mustArray(t, arrays, fmt.Sprintf("score60_%02d", i)).Float64s()[0]
			want90 := mustArray(t, arrays, fmt.Sprintf("score90_%02d", i)).Float64s()[0]
			rings60 := mustArray(t, arrays, fmt.Sprintf("ring_score60_%02d", i)).Float64s()
			rings90 := mustArray(t, arrays, fmt.Sprintf("ring_score90_%02d", i)).Float64s()
			s, sac := sc.Score(m.Float64s(), n, n)
			if ws, ok := arrays[fmt.Sprintf("sac_%02d", i)]; ok {
				d := maxAbsDiff(sac, ws.Float64s())
				worstSAC = max(worstSAC, d)
				if d > 1e-6 { // reference rounded to float32
					t.Errorf("SAC: max |diff| %.3g from the published SAC", d)
				}
			}
			d60, d90 := math.Abs(s.Score60-want60), math.Abs(s.Score90-want90)
			worst60, worst90 = max(worst60, d60), max(worst90, d90)
			if !(d60 <= 1e-3) || !(d90 <= 1e-3) {
				t.Errorf("score60 %.6f (published %.6f), score90 %.6f (published %.6f)", s.Score60, want60, s.Score90, want90)
			}
			if s.BaninoScore60 != s.Score60 || s.BaninoScore90 != s.Score90 {
				t.Errorf("BaninoScore60/90 %g/%g differ from the chosen scores %g/%g", s.BaninoScore60, s.BaninoScore90, s.Score60, s.Score90)
			}
			// Every ring, not only the best one.
			s60, s90, _, _ := baninoScoreRings(BaninoSAC(m.Float64s(), n, n), n, n)
			for r := range rings60 {
				if d := math.Abs(s60[r] - rings60[r]); !(d <= 1e-3) {
					t.Errorf("ring %d: score60 %.6f, published %.6f", r, s60[r], rings60[r])
				}
				if d := math.Abs(s90[r] - rings90[r]); !(d <= 1e-3) {
					t.Errorf("ring %d: score90 %.6f, published %.6f", r, s90[r], rings90[r])
				}
			}
		})
	}
	t.Logf("largest |diff| from the published method: score60 %.3g, score90 %.3g, SAC %.3g", worst60, worst90, worstSAC)
}

func storedType(a data.Array) string {
	if a.F32 != nil {
		return "float32"
	}
	return "float64"
}

package main

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testpy"
)

// snippetDocs are the documentation files whose Python snippets tests run.
var snippetDocs = []string{"docs/guide.md", "docs/analysis.md"}

// readmeSnippet returns the ```python block that follows the
// "<!-- doc-test: NAME -->" marker in the documentation (snippetDocs),
// verbatim. The marker must occur exactly once in all of them together.
func readmeSnippet(t *testing.T, name string) string {
	t.Helper()
	marker := "<!-- doc-test: " + name + " -->\n"
	var file, rest string
	for _, f := range snippetDocs {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(doc), marker)
		if n == 0 {
			continue
		}
		if n > 1 || file != "" {
			t.Fatalf("the marker %q occurs more than once in %s", strings.TrimSpace(marker), strings.Join(snippetDocs, ", "))
		}
		file = f
		_, rest, _ = strings.Cut(string(doc), marker)
	}
	if file == "" {
		t.Fatalf("none of %s has the marker %q", strings.Join(snippetDocs, ", "), strings.TrimSpace(marker))
	}
	rest, ok := strings.CutPrefix(rest, "```python\n")
	if !ok {
		t.Fatalf("%s: no ```python block right after %q", file, strings.TrimSpace(marker))
	}
	code, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("%s: the block after %q is not closed", file, strings.TrimSpace(marker))
	}
	return code + "\n"
}

// python3WithTorch returns the Python that has torch and numpy (see
// internal/testpy: without them the test fails, unless GRIDGPU_SKIP_PYTHON=1).
func python3WithTorch(t *testing.T) string {
	t.Helper()
	return testpy.Python3(t, "torch", "numpy")
}

// TestDocsPythonSnippets exports a small model with --format pt and
// --format npz, runs docs/guide.md's PyTorch and NumPy snippets, verbatim, on
// fixed velocities and checks their states against graph.ForwardStates.
func TestDocsPythonSnippets(t *testing.T) {
	torchCode, numpyCode := readmeSnippet(t, "torch"), readmeSnippet(t, "numpy")
	py := python3WithTorch(t)

	const N, H, B, T = 12, 16, 3, 25
	p := graph.InitParams(N, H, 7)
	dir := t.TempDir()
	ck := writeModel(t, dir, p)
	// The snippets read model.pt and model.npz; --format is given for one
	// and taken from the name for the other.
	for _, args := range [][]string{
		{"export", "--checkpoint", ck, "--out", filepath.Join(dir, "model.pt")},
		{"export", "--checkpoint", ck, "--out", filepath.Join(dir, "model.npz"), "--format", "npz"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: status %d: %s", args, code, stderr)
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	vel := make([]float32, B*T*2)
	for i := range vel {
		vel[i] = float32(rng.NormFloat64() * 0.1)
	}
	if err := data.WriteNPZ(filepath.Join(dir, "vel.npz"), []data.Array{{Name: "v", Shape: []int{B, T, 2}, F32: vel}}); err != nil {
		t.Fatal(err)
	}
	want, err := graph.ForwardStates(p, vel, B, T)
	if err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for _, v := range want {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(want)/4 {
		t.Fatalf("only %d of %d state values are non-zero: a weak test case", nonzero, len(want))
	}

	for _, c := range []struct{ name, code, harness string }{
		{"torch", torchCode, `
import numpy as _np
_s = states(torch.from_numpy(_np.load("vel.npz")["v"]))
assert _s.dtype == torch.float32, _s.dtype
_np.savez("out-torch.npz", states=_s.numpy())
`},
		{"numpy", numpyCode, `
_s = states(np.load("vel.npz")["v"])
assert _s.dtype == np.float32, _s.dtype
np.savez("out-numpy.npz", states=_s)
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := filepath.Join(dir, "readme_"+c.name+".py") // not torch.py: it would shadow the module
			if err := os.WriteFile(script, []byte(c.code+c.harness), 0o644); err != nil {
				t.Fatal(err)
			}
			testpy.Run(t, py, dir, script)
			got, err := data.ReadNPZ(filepath.Join(dir, "out-"+c.name+".npz"))
			if err != nil {
				t.Fatal(err)
			}
			s := got["states"]
			if len(s.Shape) != 3 || s.Shape[0] != B || s.Shape[1] != T || s.Shape[2] != N {
				t.Fatalf("states have shape %v, want [%d %d %d]", s.Shape, B, T, N)
			}
			worst := 0.0
			for i, g := range s.Float64s() {
				d := math.Abs(g - float64(want[i]))
				if !(d <= 1e-5) {
					t.Fatalf("state [%d][%d][%d] = %.9g, graph.ForwardStates %.9g", i/(T*N), i/N%T, i%N, g, want[i])
				}
				worst = max(worst, d)
			}
			t.Logf("largest difference from graph.ForwardStates: %.3g", worst)
		})
	}
}

package sweep

// Cases of the fault probe (issue 19) in the sweep: sweep files that are not
// regular files, too large or of two documents (F7, F8), grids too large to
// expand (F17) and run names too long for a file system (F14).

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
)

// within fails the test when f takes longer than d (a read that hangs on a
// FIFO, an expansion of a million points) instead of hanging with it.
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
		panic("unreachable")
	}
}

func oneLineErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", want)
	}
	if s := err.Error(); strings.Contains(s, "\n") || !strings.Contains(s, want) {
		t.Errorf("error %q: want one line containing %q", s, want)
	}
}

// F7, F8: a sweep file is read as a config file is (data.ReadRegularFile,
// train.OneYAMLDocument): /dev/zero, a FIFO, a directory, an oversized file
// and a second document are each refused in one line, at once.
func TestReadFileLikeConfigFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, append([]byte("base: {preset: smoke}\n"), bytes.Repeat([]byte("# padding\n"), data.MaxConfigBytes/10+1)...), 0o644)
	two := filepath.Join(dir, "two.yaml")
	os.WriteFile(two, []byte("base: {preset: smoke}\n---\ngrid: {run.seed: [1, 2]}\n"), 0o644)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("base: {preset: smoke}\ngrid: {run.seed: [1, 2]}\n"), 0o644)
	cases := []struct{ name, path, want string }{
		{"device", "/dev/zero", "sweep file /dev/zero is a device, not a regular file"},
		{"FIFO", fifo, "sweep file " + fifo + " is a named pipe (FIFO), not a regular file"},
		{"directory", dir, "sweep file " + dir + " is a directory, not a file"},
		{"missing", filepath.Join(dir, "none.yaml"), "no such file or directory"},
		{"oversized", big, "over the limit of 1.0 MiB"},
		{"second document", two, "sweep file " + two + ": line 2: a second YAML document (after ---); a sweep file holds one document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := within(t, 10*time.Second, func() error {
				_, _, err := ReadFile(c.path, testFlags)
				return err
			})
			oneLineErr(t, err, c.want)
		})
	}
	spec, src, err := ReadFile(good, testFlags)
	if err != nil || spec.Size() != 2 || !bytes.HasPrefix(src, []byte("base:")) {
		t.Fatalf("good file: %v, %v", spec, err)
	}
}

// F17: the number of points is a product of the lists' lengths, checked
// before any point is built; beyond MaxPoints the sweep is refused in one
// line naming the count and the limit. The count is exact even where it is
// beyond int.
func TestSweepSizeCapped(t *testing.T) {
	list := func(n, from int) string {
		var v []string
		for i := 0; i < n; i++ {
			v = append(v, fmt.Sprint(from+i))
		}
		return "[" + strings.Join(v, ", ") + "]"
	}
	var manyAxes strings.Builder
	manyAxes.WriteString("base: {preset: smoke}\nvariants: {a: {}, b: {}}\ngrid:\n")
	for _, k := range []string{"run.seed", "run.steps", "model.units", "model.hidden", "data.batch_size", "data.seq_len", "run.log_every", "run.checkpoint_every"} {
		fmt.Fprintf(&manyAxes, "  %s: %s\n", k, list(300, 10))
	}
	cases := []struct{ name, src, want string }{
		{"a million", "base: {preset: smoke}\ngrid:\n  run.seed: " + list(1000, 0) + "\n  model.units: " + list(1000, 8) + "\n",
			"sweep file s.yaml: 1000000 runs (1000 values of run.seed x 1000 of model.units), over the limit of 10000 runs per sweep"},
		{"one over", "base: {preset: smoke}\nvariants: {a: {}}\ngrid:\n  run.seed: " + list(10001, 0) + "\n",
			"10001 runs (1 variants x 10001 values of run.seed), over the limit of 10000"},
		{"beyond int64", manyAxes.String(), "sweep file s.yaml: 131220000000000000000 runs (2 variants x 300 values of run.seed x 300 of run.steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := Parse([]byte(c.src), "sweep file s.yaml", testFlags)
			if err != nil {
				t.Fatal(err)
			}
			err = within(t, 5*time.Second, func() error {
				_, err := spec.Expand()
				return err
			})
			oneLineErr(t, err, c.want)
		})
	}
	// MaxPoints itself is allowed.
	spec, err := Parse([]byte("base: {preset: smoke}\ngrid:\n  run.seed: "+list(100, 0)+"\n  model.units: "+list(100, 8)+"\n"), "sweep file s.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	pts := within(t, 30*time.Second, func() []Point {
		pts, err := spec.Expand()
		if err != nil {
			t.Error(err)
		}
		return pts
	})
	if len(pts) != MaxPoints || spec.Size() != MaxPoints {
		t.Errorf("%d points, Size %d, want %d", len(pts), spec.Size(), MaxPoints)
	}
}

// F14: a run name too long to name a directory is refused before anything
// runs, in one line naming the point; MaxNameBytes itself is allowed.
func TestRunNameTooLong(t *testing.T) {
	variants := func(n int) string {
		return "base: {preset: smoke}\nvariants:\n  short: {}\n  " + strings.Repeat("v", n) + ": {}\ngrid: {run.seed: [0, 1]}\n"
	}
	for _, c := range []struct{ name, src, want string }{
		{"variant", variants(194), "sweep file s.yaml: run 2 (" + strings.Repeat("v", 60) + "...): its name is 201 bytes long, over the limit of 200 (it names the run's directory)"},
		{"string value", "base: {preset: smoke}\ngrid: {data.augment: [none, '" + strings.Repeat("x", 250) + "']}\n", "run 1 (augment=xxxx"},
		{"at the limit", variants(193), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := Parse([]byte(c.src), "sweep file s.yaml", testFlags)
			if err != nil {
				t.Fatal(err)
			}
			pts, err := spec.Expand()
			if c.want == "" {
				if err != nil || len(pts[2].Name) != MaxNameBytes {
					t.Fatalf("a name of %d bytes: %v", MaxNameBytes, err)
				}
				return
			}
			oneLineErr(t, err, c.want)
		})
	}
}

package sweep

// Cases of the fault probe (issue 19) in the sweep: sweep files that are not
// regular files, too large or of two documents (F7, F8), grids too large to
// expand (F17), run names too long for a file system and failures the run
// directory cannot record (F14), reports cut short (F15), empty metrics
// (F16), and a rerun after a kill whose trainer still holds its run (resume
// from its checkpoint, whatever sweep-status.json says).

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/runlock"
	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/rundir"
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
	fifo := testfs.FIFO(t, dir, "fifo.yaml")
	big := testfs.WriteFile(t, dir, "big.yaml", "base: {preset: smoke}\n"+strings.Repeat("# padding\n", data.MaxConfigBytes/10+1))
	two := testfs.WriteFile(t, dir, "two.yaml", "base: {preset: smoke}\n---\ngrid: {run.seed: [1, 2]}\n")
	good := testfs.WriteFile(t, dir, "good.yaml", "base: {preset: smoke}\ngrid: {run.seed: [1, 2]}\n")
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

// fakeGridgpu writes a shell script that stands in for the gridgpu binary in
// Run: it appends its arguments to $FAKE_CALLS, and "train" writes a
// checkpoint at $FAKE_STEPS and a metrics line, "analyze" a report of it.
func fakeGridgpu(t *testing.T, steps int64) (exe, calls string, env []string) {
	t.Helper()
	dir := t.TempDir()
	exe = filepath.Join(dir, "gridgpu")
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$*" >> "$FAKE_CALLS"
cmd=$1; shift
dir=; out=
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift;;
	--resume|--checkpoint) dir=$2; shift;;
	esac
	shift
done
case $cmd in
train)
	[ -n "$out" ] && dir=$out
	mkdir -p "$dir/checkpoints"
	: > "$dir/checkpoints/$FAKE_CKPT"
	echo "$FAKE_CKPT" > "$dir/checkpoints/latest"
	echo "{\"step\":$FAKE_STEPS,\"loss\":1}" >> "$dir/metrics.jsonl";;
analyze)
	mkdir -p "$out"
	echo "{\"model\":{\"metadata\":{\"step\":\"$FAKE_STEPS\"}},\"arenas\":[{\"side_m\":1}]}" > "$out/summary.json";;
esac
`
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env = []string{"FAKE_CALLS=" + calls, "FAKE_CKPT=" + rundir.CheckpointName(steps), fmt.Sprintf("FAKE_STEPS=%d", steps)}
	return exe, calls, env
}

func readCalls(path string) []string {
	b, _ := os.ReadFile(path)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// oneRun is a sweep of one point of 20 steps, analysed or not, and a new
// directory for it.
func oneRun(t *testing.T, analyze bool) (spec *Spec, pts []Point, out string) {
	t.Helper()
	src := "base: {preset: smoke, config: {run: {steps: 20}}}\ngrid: {run.seed: [0]}\n"
	if analyze {
		src += "analyze: {bins: 10}\n"
	}
	spec, pts = expandSpec(t, src)
	return spec, pts, t.TempDir()
}

// expandSpec parses the sweep file src (as s.yaml) and expands its points.
func expandSpec(t *testing.T, src string) (*Spec, []Point) {
	t.Helper()
	spec, err := Parse([]byte(src), "sweep file s.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := spec.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return spec, pts
}

// F14: a run whose directory cannot be made (here a file is in its place;
// a name too long for the file system fails the same way) has no
// sweep-status.json to hold its error; the summary still shows the run as
// failed with the very message the sweep printed, not as incomplete with
// no error.
func TestFailureRecordedInSummary(t *testing.T) {
	spec, pts, out := oneRun(t, false)
	os.MkdirAll(filepath.Join(out, "runs"), 0o755)
	os.WriteFile(RunDir(out, pts[0].Name), []byte("in the way"), 0o644)
	exe, calls, env := fakeGridgpu(t, 20)
	var log testutil.SyncBuffer
	res, err := Run(spec, pts, RunOptions{Exe: exe, Out: out, Log: &log, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Errors[pts[0].Name]
	if len(res.Failed) != 1 || msg == "" || !strings.Contains(log.String(), "FAILED (train): "+msg+"\n") {
		t.Fatalf("outcome %+v, log:\n%s", res, log.String())
	}
	if c := readCalls(calls); len(c) != 0 {
		t.Errorf("ran %v", c)
	}
	sum, err := Collect(spec, pts, out)
	if err != nil {
		t.Fatal(err)
	}
	sum.MarkFailed(res.Errors)
	if r := sum.Rows[0]; r.Status != RowFailed || r.Error != msg {
		t.Errorf("summary row: %s %q, want failed %q", r.Status, r.Error, msg)
	}
	if !strings.Contains(string(sum.CSV()), ",failed,") {
		t.Errorf("results.csv:\n%s", sum.CSV())
	}
}

// F15: a run counts as analysed only when its report/summary.json reads as
// an analyze summary of its newest checkpoint; otherwise the sweep analyses
// it again (with --overwrite) instead of skipping it as done, and the
// summary says why it is incomplete.
func TestDamagedReportIsAnalysedAgain(t *testing.T) {
	metrics := []string{`{"step":10,"loss":2}`, `{"step":20,"loss":1}`}
	cases := []struct {
		name, summary string
		fifo          bool
		want          string // in the summary's error; "" for a good report
	}{
		{"cut short", `{"model": {"metadata": {"step": "20"}}, "arenas": [{"side_m": 1, "mod`, false, "summary.json: not an analyze summary: unexpected end of JSON input"},
		{"empty", "", false, "not an analyze summary"},
		{"no arenas", `{"arenas": []}`, false, "no arenas in the summary"},
		{"older checkpoint", `{"model": {"metadata": {"step": "10"}}, "arenas": [{"side_m": 1}]}`, false, "is the analysis of the checkpoint at step 10; the newest is at step 20"},
		{"FIFO", "", true, "is a named pipe (FIFO), not a regular file"},
		{"good", `{"model": {"metadata": {"step": "20"}}, "arenas": [{"side_m": 1}]}`, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, pts, out := oneRun(t, true)
			dir := RunDir(out, pts[0].Name)
			fakeRun(t, dir, metrics, 20, "")
			os.MkdirAll(filepath.Join(dir, ReportDir), 0o755)
			if c.fifo {
				testfs.FIFO(t, filepath.Join(dir, ReportDir), "summary.json")
			} else {
				os.WriteFile(filepath.Join(dir, ReportDir, "summary.json"), []byte(c.summary), 0o644)
			}
			writeStatus(dir, &Status{Name: pts[0].Name, State: StateDone, Step: 20, Steps: 20})
			sum := within(t, 10*time.Second, func() *Summary {
				sum, err := Collect(spec, pts, out)
				if err != nil {
					t.Error(err)
				}
				return sum
			})
			r := sum.Rows[0]
			if c.want == "" {
				if r.Status != RowDone || r.Error != "" {
					t.Errorf("summary row: %s %q, want done", r.Status, r.Error)
				}
			} else if r.Status != RowIncomplete || !strings.Contains(r.Error, c.want) || !strings.HasSuffix(r.Error, "; the next sweep analyses it again") {
				t.Errorf("summary row: %s %q, want incomplete with %q", r.Status, r.Error, c.want)
			}
			if c.fifo { // the fake analyze would block writing into it
				os.Remove(filepath.Join(dir, ReportDir, "summary.json"))
				os.WriteFile(filepath.Join(dir, ReportDir, "summary.json"), []byte("{"), 0o644)
			}
			exe, calls, env := fakeGridgpu(t, 20)
			var log testutil.SyncBuffer
			res := within(t, 20*time.Second, func() *Outcome {
				res, err := Run(spec, pts, RunOptions{Exe: exe, Out: out, Log: &log, Env: env})
				if err != nil {
					t.Error(err)
				}
				return res
			})
			got := readCalls(calls)
			if c.want == "" {
				if len(got) != 0 || res.Skipped != 1 || !strings.Contains(log.String(), "done before, skipped") {
					t.Errorf("a good report: calls %v, outcome %+v, log:\n%s", got, res, log.String())
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], "analyze --checkpoint "+dir+" --out "+filepath.Join(dir, ReportDir)+" --overwrite") {
				t.Errorf("calls %q, want one analyze --overwrite", got)
			}
			if res.Done != 1 || res.Skipped != 0 || strings.Contains(log.String(), "skipped") {
				t.Errorf("outcome %+v, log:\n%s", res, log.String())
			}
			if st, _ := ReadStatus(dir); st == nil || st.State != StateDone {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// F16: a run with a checkpoint at run.steps but no training log to match
// (metrics.jsonl empty, missing, without a record, or ending early) is not
// done: the summary shows it failed with the reason, and the sweep neither
// skips it as done nor trains over its checkpoint.
func TestMetricsMustReachTheEnd(t *testing.T) {
	cases := []struct {
		name    string
		metrics *string
		want    string
	}{
		{"empty", ptr(""), "metrics.jsonl holds no metrics record, though the checkpoint is at step 20"},
		{"missing", nil, "metrics.jsonl: no such file or directory, though the checkpoint is at step 20"},
		{"no record", ptr("garbage\n{\"loss\": 1}\n"), "metrics.jsonl holds no metrics record"},
		{"ends early", ptr(`{"step":10,"loss":2}` + "\n"), "metrics.jsonl ends at step 10 of 20, though the checkpoint is at step 20"},
		{"last line cut short", ptr(`{"step":20,"loss":1}` + "\n" + `{"step":2`), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, pts, out := oneRun(t, false)
			dir := RunDir(out, pts[0].Name)
			fakeRun(t, dir, nil, 20, "")
			path := filepath.Join(dir, "metrics.jsonl")
			if c.metrics == nil {
				os.Remove(path)
			} else {
				os.WriteFile(path, []byte(*c.metrics), 0o644)
			}
			writeStatus(dir, &Status{Name: pts[0].Name, State: StateDone, Step: 20, Steps: 20})
			sum, err := Collect(spec, pts, out)
			if err != nil {
				t.Fatal(err)
			}
			r := sum.Rows[0]
			if c.want == "" {
				if r.Status != RowDone {
					t.Errorf("summary row: %s %q, want done", r.Status, r.Error)
				}
				return
			}
			if r.Status != RowFailed || !strings.Contains(r.Error, c.want) || !strings.Contains(r.Error, "remove "+dir+" to train the run again") {
				t.Errorf("summary row: %s %q, want failed with %q", r.Status, r.Error, c.want)
			}
			exe, calls, env := fakeGridgpu(t, 20)
			var log testutil.SyncBuffer
			res, err := Run(spec, pts, RunOptions{Exe: exe, Out: out, Log: &log, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			if got := readCalls(calls); len(got) != 0 {
				t.Errorf("ran %q", got)
			}
			if len(res.Failed) != 1 || !strings.Contains(res.Errors[pts[0].Name], c.want) || strings.Contains(log.String(), "skipped") {
				t.Errorf("outcome %+v, log:\n%s", res, log.String())
			}
			if st, _ := ReadStatus(dir); st == nil || st.State != StateFailed || !strings.Contains(st.Error, c.want) {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// A rerun after the sweep was killed outright: its trainer, stopped by its
// parent-death signal, may still hold the run directory while it writes
// its checkpoint. The rerun waits for it rather than failing on its lock,
// then resumes from the checkpoint, whatever sweep-status.json says.
func TestRerunWaitsForKilledTrainer(t *testing.T) {
	for _, status := range []string{"training", "done", "failed", "garbage", "none"} {
		t.Run(status, func(t *testing.T) {
			spec, pts, out := oneRun(t, false)
			dir := RunDir(out, pts[0].Name)
			fakeRun(t, dir, []string{`{"step":5,"loss":2}`}, 5, "")
			switch status {
			case "garbage":
				os.WriteFile(filepath.Join(dir, StatusFile), []byte("{\"state\": \"do"), 0o644)
			case "none":
			default:
				writeStatus(dir, &Status{Name: pts[0].Name, State: status, Step: 20, Steps: 20})
			}
			lk, err := runlock.Exclusive(dir, "run directory") // the killed sweep's trainer
			if err != nil {
				t.Fatal(err)
			}
			exe, calls, env := fakeGridgpu(t, 20)
			var log testutil.SyncBuffer
			done := make(chan *Outcome, 1)
			go func() {
				res, err := Run(spec, pts, RunOptions{Exe: exe, Out: out, Log: &log, Env: env})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(log.String(), "is in use by another gridgpu process") {
				if time.Now().After(deadline) {
					t.Fatalf("no wait for the run directory; log:\n%s", log.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			if got := readCalls(calls); len(got) != 0 {
				t.Errorf("ran %q while the directory was held", got)
			}
			// The trainer writes its checkpoint and exits.
			name := rundir.CheckpointName(12)
			os.WriteFile(filepath.Join(dir, "checkpoints", name), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "checkpoints", rundir.LatestFile), []byte(name+"\n"), 0o644)
			lk.Release()
			var res *Outcome
			select {
			case res = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("the rerun still waits; log:\n%s", log.String())
			}
			got := readCalls(calls)
			if len(got) != 1 || !strings.HasPrefix(got[0], "train --resume "+dir+" ") || res.Done != 1 {
				t.Errorf("calls %q, outcome %+v; log:\n%s", got, res, log.String())
			}
			if !strings.Contains(log.String(), "resuming from step 12") {
				t.Errorf("log:\n%s", log.String())
			}
		})
	}
}

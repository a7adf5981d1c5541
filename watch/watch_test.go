package watch

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/rundir"
)

// testdata/smoke holds the metrics.jsonl and config.yaml of a finished run
// of 'gridgpu train --preset smoke --steps 60 --eval-every 30'.

func serve(t *testing.T, args ...string) *httptest.Server {
	t.Helper()
	targets, err := Resolve(args)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(targets))
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, ts *httptest.Server, path string, want int) []byte {
	t.Helper()
	resp, err := http.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, b)
	}
	return b
}

func getRun(t *testing.T, ts *httptest.Server, id string) *RunData {
	t.Helper()
	var d RunData
	if err := json.Unmarshal(get(t, ts, "/api/run?id="+url.QueryEscape(id), 200), &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func copyRun(t *testing.T, dst string) {
	t.Helper()
	os.MkdirAll(dst, 0o755)
	for _, f := range []string{"metrics.jsonl", "config.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "smoke", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveArguments(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	copyRun(t, run)
	os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755)
	sw := filepath.Join(dir, "sw")
	os.MkdirAll(filepath.Join(sw, "runs"), 0o755)
	os.WriteFile(filepath.Join(sw, "sweep.yaml"), []byte("name: x\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	file := filepath.Join(run, "config.yaml")

	ts, err := Resolve([]string{run, sw})
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Kind != KindRun || ts[0].ID != "r0" || ts[1].Kind != KindSweep || ts[1].ID != "s0" {
		t.Errorf("targets %+v", ts)
	}
	if ts, err := Resolve([]string{filepath.Join(run, "checkpoints")}); err != nil || ts[0].Dir != run {
		t.Errorf("checkpoints/ of a run: %+v %v", ts, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "needs one or more"},
		{[]string{filepath.Join(dir, "nope")}, "does not exist"},
		{[]string{file}, "is a file"},
		{[]string{empty}, "is neither a run directory"},
		{[]string{run, run + "/"}, "given twice"},
	} {
		_, err := Resolve(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Resolve(%q): %v, want one line with %q", c.args, err, c.want)
		}
	}
}

func TestFinishedRunEndpoints(t *testing.T) {
	ts := serve(t, "testdata/smoke")
	var tg struct{ Targets []Target }
	if err := json.Unmarshal(get(t, ts, "/api/targets", 200), &tg); err != nil || len(tg.Targets) != 1 {
		t.Fatalf("targets %+v %v", tg, err)
	}
	d := getRun(t, ts, "r0")
	if d.Step != 60 || d.Steps != 60 || d.Bad != 0 || d.Note != "" {
		t.Errorf("step %v of %v, malformed %d, note %q", d.Step, d.Steps, d.Bad, d.Note)
	}
	for _, k := range []string{"loss", "sep", "inv", "cap", "ci", "lr", "grad_norm", "dead_units", "eval_grid_units", "eval_dead_units"} {
		if len(d.Series[k]) == 0 {
			t.Errorf("no series %s (keys %v)", k, d.Keys)
		}
	}
	if n := len(d.Series["eval_grid_units"]); n != 2 {
		t.Errorf("%d eval points, want 2 (steps 30 and 60)", n)
	}
	if d.Keys[0] != "loss" || d.Series["eval_arena"] != nil {
		t.Errorf("keys %v", d.Keys)
	}
	if !strings.Contains(d.Config, "lambda_sep") || d.Picture != "" {
		t.Errorf("config %q, picture %q", d.Config, d.Picture)
	}
	get(t, ts, "/api/run?id=r1", 404)
	get(t, ts, "/api/run?id=r0/x", 404)
	get(t, ts, "/api/sweep?id=r0", 404)
	get(t, ts, "/api/picture?id=r0", 404)

	page := string(get(t, ts, "/", 200))
	for _, want := range []string{"<title>gridgpu watch</title>", "/api/run?id=", "window.onerror", "watch-error"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page refers to the network")
	}
	get(t, ts, "/nope", 404)
	resp, err := http.Post(ts.URL+"/api/run?id=r0", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// TestGrowingRun appends to a run's metrics.jsonl between requests, a
// partial last line included, as a training does.
func TestGrowingRun(t *testing.T) {
	run := filepath.Join(t.TempDir(), "live")
	copyRun(t, run)
	all, _ := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	lines := strings.SplitAfter(strings.TrimSpace(string(all)), "\n")
	path := filepath.Join(run, "metrics.jsonl")
	os.WriteFile(path, []byte(strings.Join(lines[:3], "")), 0o644)
	ts := serve(t, run)

	d := getRun(t, ts, "r0")
	if d.Step != 20 || len(d.Series["loss"]) != 3 || d.Bad != 0 {
		t.Fatalf("first read: step %v, %d points, malformed %d", d.Step, len(d.Series["loss"]), d.Bad)
	}
	// Two more lines and half of the next.
	half := len(lines[5]) / 2
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(lines[3] + lines[4] + lines[5][:half])
	d = getRun(t, ts, "r0")
	if d.Step != 40 || len(d.Series["loss"]) != 5 || d.Bad != 0 {
		t.Errorf("with a partial line: step %v, %d points, malformed %d", d.Step, len(d.Series["loss"]), d.Bad)
	}
	f.WriteString(lines[5][half:] + strings.Join(lines[6:], ""))
	f.Close()
	d = getRun(t, ts, "r0")
	if d.Step != 60 || len(d.Series["loss"]) != 7 || d.Bad != 0 || len(d.Series["eval_grid_units"]) != 2 {
		t.Errorf("whole: step %v, %d points, malformed %d", d.Step, len(d.Series["loss"]), d.Bad)
	}
}

func TestSweepTableAndPictures(t *testing.T) {
	sw := t.TempDir()
	os.WriteFile(filepath.Join(sw, "sweep.yaml"), []byte("name: s\n"), 0o644)
	a := filepath.Join(sw, "runs", "a-lr0.001")
	copyRun(t, a)
	os.WriteFile(filepath.Join(a, "sweep-status.json"), []byte(`{"name":"a-lr0.001","index":0,"values":[{"key":"optim.lr","value":0.001}],"overrides":[],"state":"done","step":60,"steps":60,"attempts":1,"updated":"2024-01-01T00:00:00Z"}`), 0o644)
	os.MkdirAll(filepath.Join(sw, "runs", "b"), 0o755)
	pics := rundir.EvalPath(a)
	os.MkdirAll(pics, 0o755)
	os.WriteFile(filepath.Join(pics, "step-00000030.png"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(pics, "step-00000060.png"), []byte("new"), 0o644)
	ts := serve(t, sw)

	var s struct {
		Rows []SweepRow
	}
	if err := json.Unmarshal(get(t, ts, "/api/sweep?id=s0", 200), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 2 {
		t.Fatalf("rows %+v", s.Rows)
	}
	r := s.Rows[0]
	if r.ID != "s0/a-lr0.001" || r.State != "done" || r.Step != 60 || r.Values != "optim.lr=0.001" || r.Metrics["eval_grid_units"] != 0 || r.Metrics["loss"] == 0 {
		t.Errorf("row %+v", r)
	}
	if s.Rows[1].State != "not started" {
		t.Errorf("row %+v", s.Rows[1])
	}
	d := getRun(t, ts, "s0/a-lr0.001")
	if d.State != "done" || d.Step != 60 || !strings.Contains(d.Picture, "step-00000060") {
		t.Errorf("run state %q step %v picture %q", d.State, d.Step, d.Picture)
	}
	if b := get(t, ts, d.Picture, 200); string(b) != "new" {
		t.Errorf("picture %q", b)
	}
	for _, id := range []string{"s0/..", "s0/", "s0/a-lr0.001/..", "s0/c", "s1/a-lr0.001"} {
		get(t, ts, "/api/run?id="+url.QueryEscape(id), 404)
	}
}

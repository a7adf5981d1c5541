package sweep

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// fakeRun makes a run directory by hand: metrics lines, a checkpoint
// pointer at step, and optionally a report summary.
func fakeRun(t *testing.T, dir string, metrics []string, step int64, report string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755)
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(strings.Join(metrics, "\n")+"\n"), 0o644)
	if step > 0 {
		name := rundir.CheckpointName(step)
		os.WriteFile(filepath.Join(dir, "checkpoints", name), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, "checkpoints", rundir.LatestFile), []byte(name+"\n"), 0o644)
	}
	if report != "" {
		os.MkdirAll(filepath.Join(dir, ReportDir), 0o755)
		os.WriteFile(filepath.Join(dir, ReportDir, "summary.json"), []byte(report), 0o644)
		os.WriteFile(filepath.Join(dir, ReportDir, "index.html"), []byte("<html></html>"), 0o644)
	}
}

func TestCollectColumns(t *testing.T) {
	src := "base: {preset: smoke, config: {run: {steps: 20}}}\ngrid:\n  run.seed: [0, 1, 2]\n  optimizer.lr: [0.01]\nanalyze: {bins: 10}\n"
	spec, pts := expandSpec(t, src)
	out := t.TempDir()
	report := `{"arenas": [
	  {"side_m": 1, "modules": {"modules": [{"period": 0.3}, {"period": 0.42}], "grid_units": [1, 2, 3, 4, 5, 6]}, "figures": {"ratemaps": "ratemaps_1m.png", "histograms": "histograms_1m.png"}},
	  {"side_m": 2, "modules": {"modules": [], "grid_units": [4]}, "figures": {"ratemaps": "ratemaps_2m.png"}}]}`
	// The loss terms of a metrics line, `"sep":v,...` over graph.TermSpecs
	// with term t's value base+t/4 (distinct, so that a misordered column
	// shows), and their cells in results.csv.
	terms := func(base float64) (js, cells string) {
		var j, c []string
		for t, s := range graph.TermSpecs {
			v := strconv.FormatFloat(base+float64(t)/4, 'g', -1, 64)
			j = append(j, `"`+s.Key+`":`+v)
			c = append(c, v)
		}
		return strings.Join(j, ","), strings.Join(c, ",")
	}
	first, _ := terms(2)
	last, lastCells := terms(-0.5)
	other, otherCells := terms(0.125)
	// Run 0: done, with the keys other parts of the program may log.
	fakeRun(t, RunDir(out, pts[0].Name), []string{
		`{"step":10,"loss":2,` + first + `,"elapsed":1,"eval_grid_units":1,"dead_units":4}`,
		`{"step":20,"loss":1.5,` + last + `,"elapsed":4,"eval_grid_units":3,"eval_score60_max":0.9,"eval_periods":[0.3,0.42]}`,
	}, 20, report)
	// Run 1: trained but not analysed; run 2: failed before any checkpoint.
	fakeRun(t, RunDir(out, pts[1].Name), []string{`{"step":20,"loss":1,` + other + `,"elapsed":2}`}, 20, "")
	fakeRun(t, RunDir(out, pts[2].Name), []string{`{"step":5,"loss":1,` + other + `,"elapsed":2}`}, 0, "")
	writeStatus(RunDir(out, pts[2].Name), &Status{Name: pts[2].Name, Index: 2, State: StateFailed, Error: "step 6: loss term ci is NaN"})
	// A run directory left from an earlier version of the sweep file.
	old := RunDir(out, "seed=9_lr=0.01")
	fakeRun(t, old, []string{`{"step":20,"loss":1,` + other + `,"elapsed":2}`}, 20, "")
	writeStatus(old, &Status{Name: "seed=9_lr=0.01", Index: 0, Values: []KV{{"run.seed", 9}, {"optimizer.lr", 0.01}}, State: StateDone})

	sum, err := Collect(spec, pts, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Write(out); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(out, "results.csv"))
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range graph.TermSpecs {
		keys = append(keys, s.Key)
	}
	wantHeader := "name,index,run.seed,optimizer.lr,status,steps,loss," + strings.Join(keys, ",") + ",steps_per_sec,dead_units," +
		"grid_units_1m,modules_1m,periods_1m,grid_units_2m,modules_2m,periods_2m,eval_grid_units,eval_periods,eval_score60_max,error"
	if got := strings.Join(recs[0], ","); got != wantHeader {
		t.Fatalf("header\n %s\nwant\n %s", got, wantHeader)
	}
	want := []string{
		"seed=0_lr=0.01,0,0,0.01,done,20,1.5," + lastCells + ",5,4,6,2,0.3 0.42,1,0,,3,0.3 0.42,0.9,",
		"seed=1_lr=0.01,1,1,0.01,incomplete,20,1," + otherCells + ",10,,,,,,,,,,,",
		"seed=2_lr=0.01,2,2,0.01,failed,5,1," + otherCells + ",2.5,,,,,,,,,,,step 6: loss term ci is NaN",
		"seed=9_lr=0.01,,9,0.01,done,20,1," + otherCells + ",10,,,,,,,,,,,",
	}
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	for i, w := range want {
		if got := strings.Join(recs[i+1], ","); got != w {
			t.Errorf("row %d\n %s\nwant\n %s", i, got, w)
		}
	}
	var js struct {
		Runs []map[string]any `json:"runs"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	r0 := js.Runs[0]
	if p, ok := r0["periods_1m"].([]any); !ok || len(p) != 2 || r0["dead_units"] != 4.0 || r0["eval_score60_max"] != 0.9 || js.Runs[1]["dead_units"] != nil {
		t.Errorf("results.json run 0: %v", r0)
	}
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, w := range []string{`href="runs/seed=0_lr=0.01/report/index.html"`, `src="runs/seed=0_lr=0.01/report/ratemaps_2m.png"`,
		`periods 0.3 0.42 m`, "step 6: loss term ci is NaN", "2 done, 1 incomplete, 1 failed"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("index.html lacks %q", w)
		}
	}
	for _, r := range sum.Rows {
		if _, err := os.Stat(filepath.Join(out, ThumbDir, r.Name+".png")); err != nil {
			t.Errorf("no thumbnail for %s", r.Name)
		}
	}
}

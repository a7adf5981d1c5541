package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/internal/testutil"
)

func TestAnalyzeAndGridscoreCLI(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	out := filepath.Join(dir, "report")
	code, _, stderr := runCLI(t, "analyze", "--checkpoint", ck, "--out", out, "--arena", "1,1.5", "--bins", "10", "--trajectories", "6", "--steps", "100", "--seed", "4")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "walking") || !strings.Contains(stderr, "wrote "+out) {
		t.Errorf("no progress lines on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Error("carriage returns in progress written to a non-terminal")
	}
	for _, f := range []string{"summary.json", "ratemaps.npz", "index.html", "ratemaps_1.5m.png", "sacs_1m.png", "distance.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	code, stdout, stderr := runCLI(t, "gridscore", "--ratemaps", filepath.Join(out, "ratemaps.npz"), "--name", "ratemaps_1.5m")
	if code != 0 {
		t.Fatalf("gridscore: exit %d\n%s", code, stderr)
	}
	var res struct {
		BinSize   float64 `json:"bin_size"`
		ScaleUnit string  `json:"scale_unit"`
		Maps      []map[string]*float64
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("gridscore output is not JSON: %v\n%s", err, stdout)
	}
	if len(res.Maps) != 8 || res.ScaleUnit != "m" || math.Abs(res.BinSize-0.1) > 1e-12 {
		t.Errorf("gridscore: %d maps, unit %q, bin size %g", len(res.Maps), res.ScaleUnit, res.BinSize)
	}
	for _, m := range res.Maps {
		for _, k := range []string{"score60", "score90", "scale", "orientation"} {
			if _, ok := m[k]; !ok {
				t.Errorf("map lacks %s: %v", k, m)
			}
		}
	}
	// summary.json: the scorer and walks, and both scorers' scores.
	sum := readSummary(t, filepath.Join(out, "summary.json"))
	if st := sum.Settings; st.Scorer != "banino" || st.GridThreshold != 0.3 || st.Walks != "standard" || st.Motion.Dt != 0.02 || st.Steps != 100 || st.Trajectories != 6 {
		t.Errorf("summary settings: %+v", st)
	}
	for _, u := range sum.Arenas[0].Units {
		for _, k := range []string{"score60", "score90", "rings_score60", "rings_score90"} {
			if _, ok := u[k]; !ok {
				t.Errorf("summary unit lacks %s: %v", k, u)
			}
		}
		if _, ok := u["banino_score60"]; ok {
			t.Errorf("summary unit repeats the chosen scorer's scores: %v", u)
		}
	}
	code, stdout, stderr = runCLI(t, "gridscore", "--ratemaps", filepath.Join(out, "ratemaps.npz"), "--scorer", "rings")
	if code != 0 {
		t.Fatalf("gridscore --scorer rings: exit %d\n%s", code, stderr)
	}
	var rings struct {
		Scorer        string                `json:"scorer"`
		GridThreshold float64               `json:"grid_threshold"`
		Maps          []map[string]*float64 `json:"maps"`
	}
	if err := json.Unmarshal([]byte(stdout), &rings); err != nil {
		t.Fatal(err)
	}
	if rings.Scorer != "rings" || rings.GridThreshold != 0.4 || len(rings.Maps) != 8 {
		t.Errorf("gridscore --scorer rings: scorer %q threshold %g, %d maps", rings.Scorer, rings.GridThreshold, len(rings.Maps))
	}
	for _, m := range rings.Maps {
		if _, ok := m["banino_score60"]; !ok {
			t.Errorf("gridscore --scorer rings: map lacks banino_score60: %v", m)
		}
	}
	// Training-like walks: 0.1 s steps, 30 per walk unless --steps says.
	tout := filepath.Join(dir, "training")
	code, _, stderr = runCLI(t, "analyze", "--checkpoint", ck, "--out", tout, "--arena", "1", "--bins", "10", "--walks", "training", "--trajectories", "40", "--scorer", "rings", "--min-score", "0.5")
	if code != 0 {
		t.Fatalf("analyze --walks training: exit %d\n%s", code, stderr)
	}
	sum = readSummary(t, filepath.Join(tout, "summary.json"))
	if st := sum.Settings; st.Walks != "training" || st.Motion.Dt != 0.1 || st.Steps != 30 || st.Trajectories != 40 || st.Scorer != "rings" || st.GridThreshold != 0.5 {
		t.Errorf("--walks training summary settings: %+v", st)
	}
	if _, ok := sum.Arenas[0].Units[0]["banino_score60"]; !ok {
		t.Errorf("--scorer rings: summary unit lacks banino_score60: %v", sum.Arenas[0].Units[0])
	}
	// Running again into the same directory needs --overwrite.
	code, _, stderr = runCLI(t, "analyze", "--checkpoint", ck, "--out", out, "--arena", "1", "--bins", "10", "--trajectories", "2", "--steps", "20")
	if code == 0 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("non-empty --out: exit %d, %q", code, stderr)
	}
}

// summaryJSON is the part of summary.json the CLI tests look at.
type summaryJSON struct {
	Settings struct {
		Scorer        string  `json:"scorer"`
		GridThreshold float64 `json:"grid_threshold"`
		Walks         string  `json:"walks"`
		Trajectories  int     `json:"trajectories"`
		Steps         int     `json:"steps"`
		Motion        struct {
			Dt float64 `json:"dt_s"`
		} `json:"motion"`
		Start  string `json:"start"`
		BurnIn int    `json:"burn_in_steps"`
	} `json:"settings"`
	Arenas []struct {
		Units    []map[string]*float64 `json:"units"`
		Coverage struct {
			Samples int `json:"samples"`
		} `json:"coverage"`
		Silent        int            `json:"silent"`
		LatticeCounts map[string]int `json:"lattice_counts"`
	} `json:"arenas"`
}

func readSummary(t *testing.T, path string) summaryJSON {
	t.Helper()
	var s summaryJSON
	testutil.ReadJSON(t, path, &s)
	if len(s.Arenas) == 0 || len(s.Arenas[0].Units) == 0 {
		t.Fatalf("%s: no arenas or units", path)
	}
	return s
}

func TestAnalysisCLIErrors(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	o := filepath.Join(dir, "o")
	npz := filepath.Join(dir, "x.npz")
	if err := data.WriteNPZ(npz, []data.Array{{Name: "other", Shape: []int{2}, F32: []float32{1, 2}}, {Name: "ratemaps", Shape: []int{4}, F32: []float32{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--out", o}, "missing --checkpoint"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--arena", "1,x"}, `--arena: "x" is not a number`},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--arena", "0"}, "--arena: side 0 m"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--bins", "1"}, "--bins"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--steps", "0"}, "--steps"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--trajectories", "-3"}, "--trajectories"},
		{[]string{"analyze", "--checkpoint", ck, "--out", ck}, "not a directory"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--scorer", "sargolini"}, `--scorer: "sargolini" is not a grid scorer`},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--walks", "long"}, `--walks: "long" is not a kind of walks`},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--walks", "training", "--steps", "0"}, "--steps"},
		{[]string{"gridscore", "--ratemaps", npz, "--scorer", "x"}, "--scorer"},
		{[]string{"analyze", "--checkpoint", filepath.Join(dir, "none"), "--out", o}, "none"},
		{[]string{"gridscore", "--ratemaps", npz, "--name", "nope"}, `no array "nope" (it holds: other, ratemaps)`},
		{[]string{"gridscore", "--ratemaps", npz}, "want [K,nx,ny]"},
		{[]string{"gridscore", "--ratemaps", npz, "--bin-size", "-1"}, "--bin-size"},
		{[]string{"gridscore", "--ratemaps", filepath.Join(dir, "none.npz")}, "none.npz"},
		{[]string{"analyze", "--checkpoint", ck, "--out", filepath.Join(ck, "report")}, "not a directory"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--min-score", "nan"}, "--min-score NaN: must be a number from -2 to 2"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--min-score", "inf"}, "--min-score +Inf: must be"},
		{[]string{"analyze", "--checkpoint", ck, "--out", o, "--min-score", "-2.5"}, "--min-score -2.5: must be"},
		{[]string{"gridscore", "--ratemaps", npz, "--min-score", "NaN"}, "--min-score NaN: must be"},
		{[]string{"gridscore", "--ratemaps", npz, "--min-score", "-Inf"}, "--min-score -Inf: must be"},
		{[]string{"gridscore", "--ratemaps", npz, "--min-score", "3"}, "--min-score 3: must be"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "gridgpu: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want one 'gridgpu:' line containing %q", c.args, code, stderr, c.want)
		}
		if strings.Contains(stderr, "goroutine") {
			t.Errorf("%v: stack trace", c.args)
		}
	}
	if _, err := os.Stat(o); err == nil {
		t.Error("a failed analyze created its output directory")
	}
}

// TestAnalyzeTrainingCurves trains a tiny run and analyses its newest
// checkpoint: the report has the run's training curves above the arenas.
func TestAnalyzeTrainingCurves(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	cfg := testfs.WriteFile(t, dir, "c.yaml", "model:\n  units: 8\n  hidden: 16\ndata:\n  batch_size: 4\n  seq_len: 6\n"+
		"run:\n  steps: 12\n  log_every: 1\n  checkpoint_every: 6\n  eval_every: 6\n  eval_trajectories: 4\n")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--config", cfg, "--out", run)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	// A line cut short (a run killed mid-write) is skipped and counted.
	f, err := os.OpenFile(filepath.Join(run, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"step":13,"loss":`)
	f.Close()
	out := filepath.Join(dir, "report")
	code, _, stderr = runCLI(t, "analyze", "--checkpoint", filepath.Join(run, "checkpoints", "latest"), "--out", out,
		"--arena", "1", "--bins", "10", "--trajectories", "4", "--steps", "50", "--distance-samples", "100")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "training curves: 12 lines") {
		t.Errorf("stderr does not mention the training curves:\n%s", stderr)
	}
	var sum struct {
		Training struct {
			RunDir    string   `json:"run_dir"`
			Lines     int      `json:"metrics_lines"`
			Malformed int      `json:"malformed_lines"`
			EvalLines int      `json:"eval_lines"`
			LastStep  int64    `json:"last_step"`
			Figures   []string `json:"figures"`
			Weights   *struct {
				CI float64 `json:"lambda_ci"`
			} `json:"loss_weights"`
		} `json:"training"`
	}
	testutil.ReadJSON(t, filepath.Join(out, "summary.json"), &sum)
	tr := sum.Training
	if tr.RunDir != run || tr.Lines != 12 || tr.Malformed != 1 || tr.EvalLines != 2 || tr.LastStep != 12 || tr.Weights == nil || len(tr.Figures) != 3 {
		t.Errorf("summary training: %+v", tr)
	}
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	page := string(html)
	if i, j := strings.Index(page, `id="training"`), strings.Index(page, `id="arena-`); i < 0 || j < i {
		t.Errorf("training section at %d, first arena at %d", i, j)
	}
	for _, f := range tr.Figures {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 || !strings.Contains(page, `src="`+f+`"`) {
			t.Errorf("figure %s missing or not in index.html", f)
		}
	}
}

// A negative --min-score within score60's range is a threshold like any
// other; gridscore of an array of no maps prints an empty list, not null.
func TestGridscoreNoMapsAndNegativeThreshold(t *testing.T) {
	npz := filepath.Join(t.TempDir(), "empty.npz")
	if err := data.WriteNPZ(npz, []data.Array{{Name: "ratemaps", Shape: []int{0, 5, 5}, F32: []float32{}}}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "gridscore", "--ratemaps", npz, "--min-score", "-0.5")
	if code != 0 {
		t.Fatalf("gridscore: exit %d\n%s", code, stderr)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("gridscore output is not JSON: %v\n%s", err, stdout)
	}
	if m := string(out["maps"]); m != "[]" {
		t.Errorf(`"maps": %s, want []`, m)
	}
	if thr := string(out["grid_threshold"]); thr != "-0.5" {
		t.Errorf(`"grid_threshold": %s, want -0.5`, thr)
	}
}

// An --out that cannot be written is refused at once, before the analysis
// (whose progress lines would otherwise come first).
func TestAnalyzeUnwritableOut(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	cases := []struct {
		name, out, want string
	}{
		{name: "read-only parent", out: filepath.Join(dir, "ro", "report"), want: "cannot write in " + filepath.Join(dir, "ro") + ": permission denied"},
		{name: "read-only existing directory", out: filepath.Join(dir, "ro"), want: "cannot write"},
		{name: "read-only file system", out: "/sys/gridgpu-report", want: "cannot write in /sys"},
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "old.png"), nil, 0o644)
	os.Chmod(ro, 0o555)
	defer os.Chmod(ro, 0o755)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := filepath.Dir(c.out)
			if c.out == ro {
				probe = ro
			}
			if st, err := os.Stat(probe); err != nil || !st.IsDir() {
				t.Skipf("no directory %s here", probe)
			}
			if f, err := os.CreateTemp(probe, ".probe.tmp-"); err == nil {
				f.Close()
				os.Remove(f.Name())
				t.Skipf("%s is writable here (running as root?)", probe)
			}
			args := []string{"analyze", "--checkpoint", ck, "--out", c.out, "--overwrite", "--arena", "1", "--bins", "10", "--trajectories", "4", "--steps", "50"}
			code, _, stderr := runCLI(t, args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "gridgpu: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want one 'gridgpu:' line containing %q", code, stderr, c.want)
			}
			if strings.Contains(stderr, ".partial-") || strings.Contains(stderr, ".tmp-") {
				t.Errorf("the error names a temporary: %q", stderr)
			}
		})
	}
}

// Staging directories left beside --out by an analysis killed while
// writing (older than this process) are removed by the next analysis into
// that --out; newer ones and those of other report directories are kept.
func TestAnalyzeRemovesStalePartials(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	out := filepath.Join(dir, "report")
	past := time.Now().Add(-time.Hour)
	mk := func(name string, old bool) string {
		p := filepath.Join(dir, name)
		os.Mkdir(p, 0o700)
		os.WriteFile(filepath.Join(p, "ratemaps.npz"), make([]byte, 100), 0o644)
		if old {
			os.Chtimes(p, past, past)
		}
		return p
	}
	cases := []struct {
		name string
		old  bool
		kept bool
	}{
		{".report.partial-1234567", true, false},
		{".report.partial-7654321", true, false},
		{".report.partial-2222222", false, true}, // another live analysis's
		{".other.partial-1234567", true, true},   // another report's
		{".report.partial-notes", true, true},    // not a staging name
		{".report.partial-", true, true},
	}
	for _, c := range cases {
		mk(c.name, c.old)
	}
	code, _, stderr := runCLI(t, "analyze", "--checkpoint", ck, "--out", out, "--arena", "1", "--bins", "10", "--trajectories", "4", "--steps", "50", "--distance-samples", "50")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	for _, c := range cases {
		_, err := os.Stat(filepath.Join(dir, c.name))
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept %v, want %v", c.name, kept, c.kept)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		t.Errorf("no report: %v", err)
	}
}

func TestAnalyzeStartFlag(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	code, _, stderr := runCLI(t, "analyze", "--checkpoint", ck, "--out", filepath.Join(dir, "bad"), "--start", "centre")
	if code != 2 || !strings.Contains(stderr, "--start") {
		t.Errorf("--start centre: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "analyze", "--checkpoint", ck, "--out", filepath.Join(dir, "bad2"), "--start", "uniform", "--burn-in", "0")
	if code != 2 || !strings.Contains(stderr, "--burn-in") {
		t.Errorf("--burn-in 0: exit %d, %s", code, stderr)
	}
	out := filepath.Join(dir, "report")
	code, _, stderr = runCLI(t, "analyze", "--checkpoint", ck, "--out", out, "--arena", "1", "--bins", "10", "--trajectories", "4", "--steps", "50", "--start", "uniform", "--burn-in", "7")
	if code != 0 {
		t.Fatalf("analyze --start uniform: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "uniform starts after 7 burn-in steps") {
		t.Errorf("stderr does not describe the starts:\n%s", stderr)
	}
	sum := readSummary(t, filepath.Join(out, "summary.json"))
	if sum.Settings.Start != "uniform" || sum.Settings.BurnIn != 7 || sum.Arenas[0].Coverage.Samples != 4*50 || sum.Arenas[0].LatticeCounts == nil {
		t.Errorf("summary.json settings %+v, arenas %+v", sum.Settings, sum.Arenas)
	}
}

package analysis

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

func smallOptions() Options {
	o := DefaultOptions()
	o.Arenas = []float64{1, 2}
	o.BinsPerMetre = 10
	o.Trajectories = 12
	o.Steps = 150
	o.DistanceSamples = 300
	return o
}

func TestAnalyzeEndToEnd(t *testing.T) {
	p := graph.InitParams(16, 32, 1)
	opt := smallOptions()
	var events int
	opt.Progress = func(ProgressEvent) { events++ }
	res, err := Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if events == 0 {
		t.Error("no progress events")
	}
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, res, ReportInfo{Checkpoint: "init", Metadata: map[string]string{"step": "0"}}, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"summary.json", "ratemaps.npz", "index.html", "distance.png", "coverage.png"}
	for _, tag := range []string{"1m", "2m"} {
		for _, f := range []string{"ratemaps_", "sacs_", "histograms_", "modules_"} {
			want = append(want, f+tag+".png")
		}
	}
	for _, f := range want {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".png") {
			fh, _ := os.Open(filepath.Join(out, f))
			img, err := png.Decode(fh)
			fh.Close()
			if err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("%s: not a sensible PNG: %v", f, err)
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("staging directory left behind: %d entries beside the report", len(ents))
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("summary.json does not parse: %v", err)
	}
	if len(sum.Arenas) != 2 || len(sum.Arenas[0].Units) != 16 || sum.Arenas[1].Bins != 20 {
		t.Fatalf("summary.json: %d arenas, %d units, %d bins", len(sum.Arenas), len(sum.Arenas[0].Units), sum.Arenas[1].Bins)
	}
	for _, a := range sum.Arenas {
		if a.Coverage.OutsideSamples != 0 || a.Coverage.Samples != 12*150 {
			t.Errorf("arena %g: coverage %+v", a.Side, a.Coverage)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, f := range want {
		if strings.HasSuffix(f, ".png") && !strings.Contains(string(html), `src="`+f+`"`) {
			t.Errorf("index.html does not show %s", f)
		}
	}
	arrs, err := data.ReadNPZ(filepath.Join(out, "ratemaps.npz"))
	if err != nil {
		t.Fatal(err)
	}
	rm := arrs["ratemaps_2m"]
	if len(rm.Shape) != 3 || rm.Shape[0] != 16 || rm.Shape[1] != 20 || rm.Shape[2] != 20 {
		t.Errorf("ratemaps_2m shape %v", rm.Shape)
	}
	if bs := arrs["bin_size"]; len(bs.F64) != 1 || math.Abs(bs.F64[0]-0.1) > 1e-12 {
		t.Errorf("bin_size = %+v, want 0.1", bs)
	}

	// A second report into the same, now non-empty, directory needs
	// overwrite, and with it replaces the files.
	if err := WriteReport(out, res, ReportInfo{}, false); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("writing into a non-empty directory: %v, want an error suggesting --overwrite", err)
	}
	if err := WriteReport(out, res, ReportInfo{}, true); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("staging directory left behind after overwrite")
	}
}

// TestAnalyzeDeterministic checks that results do not depend on how the
// walks are split among workers.
func TestAnalyzeDeterministic(t *testing.T) {
	p := graph.InitParams(8, 16, 2)
	opt := smallOptions()
	opt.Arenas = []float64{1}
	opt.Workers = 1
	a, err := Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Workers = 3
	b, err := Analyze(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Arenas[0].Ratemaps {
		x, y := a.Arenas[0].Ratemaps[i], b.Arenas[0].Ratemaps[i]
		if !(x == y || math.IsNaN(x) && math.IsNaN(y)) && math.Abs(x-y) > 1e-9*math.Abs(x) {
			t.Fatalf("ratemap value %d: %g with 1 worker, %g with 3", i, x, y)
		}
	}
	da, db := a.Arenas[0].Distance, b.Arenas[0].Distance
	for i := range da.Pairs {
		if da.Pairs[i] != db.Pairs[i] {
			t.Fatalf("distance curve differs between worker counts")
		}
	}
}

func TestAnalyzeRejectsBadOptions(t *testing.T) {
	p := graph.InitParams(4, 8, 1)
	for _, c := range []struct {
		mod  func(*Options)
		flag string
	}{
		{func(o *Options) { o.Arenas = nil }, "--arena"},
		{func(o *Options) { o.Arenas = []float64{0.1} }, "--arena"},
		{func(o *Options) { o.Arenas = []float64{1, 1} }, "--arena"},
		{func(o *Options) { o.BinsPerMetre = 0 }, "--bins"},
		{func(o *Options) { o.BinsPerMetre = 3 }, "--bins"},
		{func(o *Options) { o.Trajectories = 0 }, "--trajectories"},
		{func(o *Options) { o.Steps = -1 }, "--steps"},
	} {
		o := smallOptions()
		c.mod(&o)
		_, err := Analyze(context.Background(), p, o)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag) {
			t.Errorf("error %v, want one starting with %s", err, c.flag)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, p, smallOptions()); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestAnalyzeSmokeTiming runs the default protocol (four arenas) on the
// smoke-size model and reports the time; it fails above the 60 s budget.
func TestAnalyzeSmokeTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if os.Getenv("GRIDGPU_SMOKE") == "" {
		t.Skip("set GRIDGPU_SMOKE=1 to time the full default analysis")
	}
	p := graph.InitParams(32, 64, 1)
	start := time.Now()
	res, err := Analyze(context.Background(), p, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mid := time.Since(start)
	out := filepath.Join(t.TempDir(), "smoke")
	if os.Getenv("GRIDGPU_SMOKE_OUT") != "" {
		out = os.Getenv("GRIDGPU_SMOKE_OUT")
	}
	if err := WriteReport(out, res, ReportInfo{}, true); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	t.Logf("analysis %.1f s, report %.1f s, total %.1f s", mid.Seconds(), (total - mid).Seconds(), total.Seconds())
	if total > 60*time.Second {
		t.Errorf("took %v, budget 60 s", total)
	}
}

package analysis

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
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
		{func(o *Options) { o.Scorer = "sargolini" }, "--scorer"},
		{func(o *Options) { o.Walks = "long" }, "--walks"},
		{func(o *Options) { o.Walks = WalksTraining }, "--walks"}, // without SetWalks: standard dt
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

// gridIntegrator is a perfect path integrator read out by grid cells: unit
// u fires max(0, sum of three plane waves) of the integrated position, with
// the period and orientation of its module and a random phase.
func gridIntegrator(periods, orients []float64, perModule int, seed uint64) (int, StatesFunc) {
	type unit struct {
		kx, ky [3]float64
		px, py float64
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var units []unit
	for m, lambda := range periods {
		k := 4 * math.Pi / (math.Sqrt(3) * lambda)
		for i := 0; i < perModule; i++ {
			var u unit
			for w := 0; w < 3; w++ {
				th := (orients[m] + 30 + 60*float64(w)) * math.Pi / 180
				u.kx[w], u.ky[w] = k*math.Cos(th), k*math.Sin(th)
			}
			u.px, u.py = rng.Float64()*lambda, rng.Float64()*lambda
			units = append(units, u)
		}
	}
	N := len(units)
	return N, func(vel []float32, B, T int) ([]float32, error) {
		out := make([]float32, B*T*N)
		for b := 0; b < B; b++ {
			var x, y float64
			for t := 0; t < T; t++ {
				x += float64(vel[(b*T+t)*2])
				y += float64(vel[(b*T+t)*2+1])
				for i, u := range units {
					var s float64
					for w := 0; w < 3; w++ {
						s += math.Cos(u.kx[w]*(x-u.px) + u.ky[w]*(y-u.py))
					}
					out[(b*T+t)*N+i] = float32(max(0, s))
				}
			}
		}
		return out, nil
	}
}

// TestAnalyzeFindsModules runs the whole protocol on a known answer: two
// grid modules (periods 0.3 and 0.42 m, ratio 1.4) plus untuned units, in
// every arena size.
func TestAnalyzeFindsModules(t *testing.T) {
	nGrid, grid := gridIntegrator([]float64{0.3, 0.42}, []float64{10, 25}, 8, 5)
	N := nGrid + 4
	states := func(vel []float32, B, T int) ([]float32, error) {
		g, err := grid(vel, B, T)
		if err != nil {
			return nil, err
		}
		out := make([]float32, B*T*N)
		for i := 0; i < B*T; i++ {
			copy(out[i*N:], g[i*nGrid:(i+1)*nGrid])
			for j := nGrid; j < N; j++ {
				out[i*N+j] = float32(j) // constant units: undefined scores
			}
		}
		return out, nil
	}
	opt := DefaultOptions()
	opt.Arenas = []float64{1, 2, 4}
	opt.Trajectories = 60
	opt.Steps = 500
	res, err := AnalyzeStates(context.Background(), N, states, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, ar := range res.Arenas {
		mods := ar.Modules.Modules
		if len(mods) != 2 {
			t.Errorf("arena %g m: %d modules %+v, want 2", ar.Side, len(mods), mods)
			continue
		}
		for i, want := range []float64{0.3, 0.42} {
			if math.Abs(mods[i].Period-want) > 0.05*want {
				t.Errorf("arena %g m: module %d period %.3f m, want %.3f", ar.Side, i, mods[i].Period, want)
			}
			if d := angleDist60(mods[i].Orientation, []float64{10, 25}[i]); d > 3 {
				t.Errorf("arena %g m: module %d orientation %.1f", ar.Side, i, mods[i].Orientation)
			}
			if len(mods[i].Units) != 8 {
				t.Errorf("arena %g m: module %d has %d units, want 8", ar.Side, i, len(mods[i].Units))
			}
		}
		for u := nGrid; u < N; u++ {
			if !math.IsNaN(ar.Scores[u].Score60) {
				t.Errorf("arena %g m: constant unit %d has score60 %g", ar.Side, u, ar.Scores[u].Score60)
			}
		}
		// A path integrator's neural distance grows with spatial distance
		// at first: the curve must rise over the first bins.
		d := ar.Distance
		if !(float64(d.Mean[0]) < float64(d.Mean[2])) {
			t.Errorf("arena %g m: distance curve does not rise: %v", ar.Side, d.Mean[:4])
		}
	}
}

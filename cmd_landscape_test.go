package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/train"
)

// The demo preset at sigma_g 0.4 on a tiny sweep: a table that ranks every
// family, and JSON whose ranking is each family's best code.
func TestLandscapeDemoTable(t *testing.T) {
	args := []string{"landscape", "--sigma-g", "0.4", "--periods", "0.5,1", "--thresholds", "0,0.5", "--ratios", "1.5", "--batches", "2"}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("landscape: exit status %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "sigma_g 0.4,") || !strings.Contains(stdout, "B=32 T=30 N=64, 2 microbatches") {
		t.Errorf("the table's header does not show the demo preset at sigma_g 0.4:\n%s", stdout)
	}
	for i, f := range analysis.CodeFamilies {
		found := false
		for _, line := range strings.Split(stdout, "\n") {
			// A ranked row: its rank, then its family.
			if fs := strings.Fields(line); len(fs) > 2 && fs[1] == f && strings.Contains("1234", fs[0]) {
				found = true
			}
		}
		if !found {
			t.Errorf("family %d (%s) has no row in the table:\n%s", i, f, stdout)
		}
	}

	code, stdout, stderr = runCLI(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("landscape --json: exit status %d: %s", code, stderr)
	}
	var res struct {
		LossConfig graph.LossConfig `json:"loss_config"`
		Ranking    []jsonRow        `json:"ranking"`
		Codes      []jsonRow        `json:"codes"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("landscape --json: %v\n%s", err, stdout)
	}
	if res.LossConfig.SigmaG != 0.4 {
		t.Errorf("loss_config.sigma_g %g, want 0.4", res.LossConfig.SigmaG)
	}
	// 2 periods x 2 thresholds x 2 orientations, times 1 ratio for the
	// module families.
	if len(res.Codes) != 4*8 {
		t.Errorf("%d codes scored, want 32", len(res.Codes))
	}
	if len(res.Ranking) != 4 {
		t.Fatalf("ranking has %d rows, want one per family", len(res.Ranking))
	}
	best := map[string]float64{}
	for _, c := range res.Codes {
		if b, ok := best[c.Family]; !ok || c.Loss < b {
			best[c.Family] = c.Loss
		}
	}
	for i, r := range res.Ranking {
		if r.Loss != best[r.Family] {
			t.Errorf("ranking row %s has loss %g, the family's lowest is %g", r.Family, r.Loss, best[r.Family])
		}
		if i > 0 && r.Loss < res.Ranking[i-1].Loss {
			t.Errorf("ranking is not by increasing loss: %v", res.Ranking)
		}
		if i+1 < len(res.Ranking) && (r.Margin == nil || math.Abs(*r.Margin-(res.Ranking[i+1].Loss-r.Loss)) > 1e-12) {
			t.Errorf("row %d: margin %v, want the next row's loss less this one's", i, r.Margin)
		}
		// The total is the terms weighted as the loss setting says.
		lc := res.LossConfig
		if w := lc.LambdaSep*r.Sep + lc.LambdaInv*r.Inv + lc.LambdaCap*r.Cap + lc.LambdaCI*r.CI; math.Abs(w-r.Loss) > 1e-9 {
			t.Errorf("%s: loss %g, weighted terms %g", r.Family, r.Loss, w)
		}
	}
}

// jsonRow is a row of the landscape's JSON.
type jsonRow struct {
	Family                 string
	Period, Ratio          *float64
	Threshold, Orientation *float64
	Loss                   float64
	Sep, Inv, Cap, CI      float64
	ZeroFrac               float64 `json:"zero_frac"`
	Margin                 *float64
}

// --out writes the phase diagram and the JSON; --checkpoint adds the
// network, scored as training scores it (graph.Model.Eval on the same
// microbatch).
func TestLandscapeOutAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p := graph.InitParamsSpec(8, 8, 3, graph.InitSpec{Kind: graph.InitIdentity, Scale: 0.1, G0: graph.G0Abs})
	ck := writeModel(t, dir, p)
	out := filepath.Join(dir, "diagram")
	code, stdout, stderr := runCLI(t, "landscape", "--batch-size", "6", "--seq-len", "8", "--batches", "1", "--seed", "4",
		"--periods", "0.4,0.8", "--thresholds", "0", "--ratios", "1.5", "--checkpoint", ck, "--json", "--ci-max-dist", "0.3",
		"--out", out, "--sweep-x", "loss.sigma_g=0.3,0.4", "--sweep-y", "loss.lambda_cap=0,1")
	if code != 0 {
		t.Fatalf("landscape: exit status %d: %s", code, stderr)
	}
	png, err := os.ReadFile(filepath.Join(out, "landscape.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("landscape.png: %v (%d bytes)", err, len(png))
	}
	js, err := os.ReadFile(filepath.Join(out, "landscape.json"))
	if err != nil || string(js) != stdout {
		t.Errorf("landscape.json (%v) is not what --json printed", err)
	}
	var res struct {
		N       int
		Ranking []jsonRow
		Phase   struct {
			X, Y  struct{ Key string }
			Cells []struct {
				X, Y    float64
				Winner  string
				Margin  *float64
				Network *float64
				Best    []jsonRow
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.N != 8 {
		t.Errorf("N = %d, want the checkpoint's 8", res.N)
	}
	if res.Phase.X.Key != "loss.sigma_g" || res.Phase.Y.Key != "loss.lambda_cap" || len(res.Phase.Cells) != 4 {
		t.Fatalf("phase diagram %+v, want 2 x 2 cells over sigma_g and lambda_cap", res.Phase)
	}
	for _, c := range res.Phase.Cells {
		if len(c.Best) != 4 || c.Winner != c.Best[0].Family || c.Margin == nil || c.Network == nil {
			t.Errorf("cell (%g, %g): winner %q, margin %v, network %v, %d families", c.X, c.Y, c.Winner, c.Margin, c.Network, len(c.Best))
		}
	}
	// The network's row against training's own evaluation of the same
	// microbatch: the preset's sampler, seed 4, first draw.
	var net *jsonRow
	for i := range res.Ranking {
		if res.Ranking[i].Family == "network" {
			net = &res.Ranking[i]
		}
	}
	if net == nil {
		t.Fatalf("no network row in %v", res.Ranking)
	}
	// ci_max_dist 0.3 takes every step, the first too: g_0 counts.
	cfg, _ := train.Preset("demo")
	cfg.Loss.CIMaxDist = 0.3
	cfg.Data.BatchSize, cfg.Data.SeqLen = 6, 8
	smp, err := cfg.Data.NewSampler(4)
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.NewModel(6, 8, 8, 8, cfg.Loss)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := m.Eval(p, smp.Next())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(net.Loss-want.Total) > 1e-5*math.Max(1e-3, math.Abs(want.Total)) {
		t.Errorf("network loss %.9g, training's Eval %.9g", net.Loss, want.Total)
	}
}

func TestLandscapeBadInvocations(t *testing.T) {
	dir := t.TempDir()
	file := testfs.WriteFile(t, dir, "file", "x")
	ck := writeModel(t, dir, graph.InitParams(8, 8, 1))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--families", "hexagonal,triangular"}, `--families: unknown family "triangular"`},
		{[]string{"--families", ","}, "--families: give at least one"},
		{[]string{"--periods", ""}, "--periods: give at least one value"},
		{[]string{"--periods", "0.3,abc"}, `--periods: "abc" is not a number`},
		{[]string{"--periods", "0.3:1.5"}, "a range is LO:HI:N"},
		{[]string{"--periods", "-1,2"}, "--periods: -1 must be positive"},
		{[]string{"--thresholds", "0,1"}, "--thresholds: 1 must be below 1"},
		{[]string{"--ratios", ""}, "--ratios: give at least one value"},
		{[]string{"--batches", "0"}, "--batches 0: must be from 1"},
		{[]string{"--sweep-x", "loss.sigma_q=1,2"}, "--sweep-x: loss.sigma_q is not a loss setting that can be swept; choose one of loss.sigma_x"},
		{[]string{"--sweep-x", "optimizer.lr=1,2"}, "--sweep-x: optimizer.lr is not a loss setting"},
		{[]string{"--sweep-y", "lambda_cap"}, "give KEY=V1,V2"},
		{[]string{"--sweep-x", "loss.sigma_g="}, "--sweep-x: give at least one value"},
		{[]string{"--sweep-x", "loss.ci_bins=1.5"}, "must be a whole number for loss.ci_bins"},
		{[]string{"--sweep-x", "loss.lambda_cap=0,1"}, "--sweep-x and --sweep-y both sweep loss.lambda_cap"},
		{[]string{"--sweep-x", "loss.sigma_g=0,0.4"}, "phase diagram cell loss.sigma_g=0"},
		{[]string{"--out", file}, "exists and is not a directory"},
		{[]string{"--units", "2", "--families", "modules-3"}, "modules-3 needs at least 3 units"},
		{[]string{"--sigma-g", "-1"}, "loss.sigma_g (--sigma-g) = -1"},
		{[]string{"--preset", "nope"}, `unknown preset "nope"`},
		{[]string{"--checkpoint", file}, "not a valid safetensors file"},
		{[]string{"--checkpoint", ck, "--units", "16"}, "--units 16, but checkpoint"},
		{[]string{"stray"}, "landscape takes no arguments"},
	}
	for _, c := range cases {
		args := append([]string{"landscape"}, c.args...)
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, c.want)
	}
}

package sweep

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/train"
)

var testFlags = ParseOptions{AnalyzeFlags: map[string]FlagKind{
	"arena": FlagList, "bins": FlagInt, "trajectories": FlagInt, "min-score": FlagFloat, "overwrite": FlagBool,
}}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "base: {preset: smoke}\ngrids:\n  run.seed: [0]\n", `line 2: unknown top-level key "grids"; allowed: base, grid, variants, analyze`},
		{"no base", "grid: {run.seed: [0]}\n", "no base section"},
		{"no preset", "base: {config: {run: {steps: 5}}}\n", "base: no preset"},
		{"bad preset", "base: {preset: huge}\n", `unknown preset "huge"`},
		{"unknown base key", "base: {preset: smoke, steps: 5}\n", `unknown key "steps" in base`},
		{"unknown dotted key", "base: {preset: smoke}\ngrid:\n  loss.lambda_cp: [0, 1]\n", `line 3: unknown config key "loss.lambda_cp"; close ones: loss.lambda_cap`},
		{"unknown key in base.config", "base:\n  preset: smoke\n  config: {model: {unit: 8}}\n", `line 3: unknown config key "model.unit"; close ones: model.units`},
		{"unknown section", "base: {preset: smoke}\nvariants:\n  a: {optimiser.lr: 1}\n", `unknown config key "optimiser.lr"; close ones: optimizer.lr`},
		{"far-off key", "base: {preset: smoke}\nvariants:\n  a: {zzz.qqqqqqq: 1}\n", `unknown config key "zzz.qqqqqqq"; keys are SECTION.KEY with sections model, data`},
		{"wrong type in grid", "base: {preset: smoke}\ngrid:\n  run.seed: [0, x]\n", `line 3: run.seed must be an integer >= 0, got "x"`},
		{"negative seed", "base: {preset: smoke}\ngrid:\n  run.seed: [-1]\n", `run.seed must be an integer >= 0, got "-1"`},
		{"float for int", "base: {preset: smoke}\ngrid:\n  run.steps: [1.5]\n", `run.steps must be an integer, got "1.5"`},
		{"number for string", "base: {preset: smoke}\nvariants:\n  a: {data.augment: 1}\n", `data.augment must be a string, got "1"`},
		{"string for float", "base:\n  preset: smoke\n  config: {loss: {lambda_ci: small}}\n", `line 3: loss.lambda_ci must be a number, got "small"`},
		{"string for bool", "base: {preset: smoke}\nvariants:\n  a: {model.block_norm: yes}\n", `model.block_norm must be true or false, got "yes"`},
		{"list for value", "base: {preset: smoke}\nvariants:\n  a: {loss.lambda_ci: [1]}\n", "loss.lambda_ci must be a single value"},
		{"grid not a list", "base: {preset: smoke}\ngrid:\n  run.seed: 3\n", "grid.run.seed must be a list of values"},
		{"empty grid", "base: {preset: smoke}\ngrid:\n  run.seed: []\n", "grid.run.seed is an empty list"},
		{"repeated value", "base: {preset: smoke}\ngrid:\n  run.seed: [1, 1]\n", "grid.run.seed lists 1 twice"},
		{"bad variant name", "base: {preset: smoke}\nvariants:\n  'a b': {}\n", `variant name "a b"`},
		{"empty variants", "base: {preset: smoke}\nvariants: {}\n", "variants is empty"},
		{"unknown analyze flag", "base: {preset: smoke}\nanalyze: {arenas: [1]}\n", `unknown analyze flag "arenas"; allowed: arena, bins, min-score, overwrite, trajectories`},
		{"bad analyze value", "base: {preset: smoke}\nanalyze: {bins: many}\n", "analyze.bins must be an integer"},
		{"bad arena list", "base: {preset: smoke}\nanalyze: {arena: [1, x]}\n", "analyze.arena must be a list of numbers"},
		{"not yaml", "base: [\n", "sweep file t.yaml: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := Parse([]byte(c.src), "sweep file t.yaml", testFlags)
			if err == nil {
				_, err = spec.Expand()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "sweep file t.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestExpandValidates(t *testing.T) {
	src := "base: {preset: smoke}\nvariants:\n  ok: {}\n  bad: {loss.lambda_cap: -1}\n"
	spec, err := Parse([]byte(src), "sweep file t.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.Expand()
	if err == nil || !strings.Contains(err.Error(), "run 1 (bad): loss.lambda_cap (--lambda-cap) = -1: must be a number >= 0") {
		t.Fatalf("got %v", err)
	}
}

func TestExpandProductAndNames(t *testing.T) {
	src := `
base:
  preset: smoke
  config: {run: {steps: 50, seed: 9}, loss: {lambda_ci: 0.02}}
grid:
  run.seed: [0, 1, 2]
  optimizer.lr: [1.0e-3, 0.01]
variants:
  baseline: {}
  no-cap: {loss.lambda_cap: 0, run.seed: 7}
  flat:
    data: {augment: none}
analyze: {arena: [1, 2.5], bins: 10, overwrite: true}
`
	spec, err := Parse([]byte(src), "sweep file t.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := spec.Analyze, []string{"--arena", "1,2.5", "--bins", "10", "--overwrite=true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("analyze args %q, want %q", got, want)
	}
	pts, err := spec.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 18 || spec.Size() != 18 {
		t.Fatalf("%d points (Size %d), want 3 variants x 3 seeds x 2 rates = 18", len(pts), spec.Size())
	}
	wantNames := []string{"baseline_seed=0_lr=0.001", "baseline_seed=0_lr=0.01", "baseline_seed=1_lr=0.001"}
	for i, w := range wantNames {
		if pts[i].Name != w {
			t.Errorf("point %d is %s, want %s", i, pts[i].Name, w)
		}
	}
	for i, p := range pts {
		if p.Index != i {
			t.Errorf("point %s has index %d, want %d", p.Name, p.Index, i)
		}
	}
	p := pts[6+2*2+1] // no-cap, seed 2, lr 0.01
	if p.Name != "no-cap_seed=2_lr=0.01" {
		t.Fatalf("point 11 is %s", p.Name)
	}
	c := p.Config
	// preset < base.config < variant < grid
	if c.Loss.LambdaCap != 0 || c.Run.Seed != 2 || c.Optimizer.LR != 0.01 || c.Run.Steps != 50 || c.Loss.LambdaCI != 0.02 || c.Model.Units != 32 {
		t.Errorf("config of %s: %+v", p.Name, c)
	}
	if got := p.OverridesText(); got != "loss.lambda_cap=0 run.seed=7 run.seed=2 optimizer.lr=0.01" {
		t.Errorf("overrides %q", got)
	}
	if f := pts[12].Config; pts[12].Name != "flat_seed=0_lr=0.001" || f.Data.Augment != "none" || f.Loss.LambdaCap != 0.5 {
		t.Errorf("point 12 %s: %+v", pts[12].Name, f.Data)
	}
	// No grid and no variants: one run named base.
	spec, _ = Parse([]byte("base: {preset: smoke}\n"), "sweep file t.yaml", testFlags)
	pts, err = spec.Expand()
	if err != nil || len(pts) != 1 || pts[0].Name != "base" || pts[0].OverridesText() != "(base)" || spec.Analyze != nil {
		t.Errorf("minimal sweep: %v %+v", err, pts)
	}
}

func TestShortLabelsAndSafeNames(t *testing.T) {
	cases := []struct {
		keys, want []string
	}{
		{[]string{"run.seed", "optimizer.lr"}, []string{"seed", "lr"}},
		{[]string{"a.x", "b.x", "c.y"}, []string{"a.x", "b.x", "y"}},
	}
	for _, c := range cases {
		if got := shortLabels(c.keys); !reflect.DeepEqual(got, c.want) {
			t.Errorf("shortLabels(%v) = %v, want %v", c.keys, got, c.want)
		}
	}
	for in, want := range map[string]string{"seed=1": "seed=1", "a/b c": "a-b-c", "..": "_.", ".x": "_x", "lr=1e-05": "lr=1e-05", "é": "-"} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSettingsMatchConfigFile(t *testing.T) {
	// base.config written as sections gives what the same text gives as a
	// --config file.
	text := "model: {units: 8, hidden: 16, blocks: 2, block_norm: true}\nloss: {lambda_ci: 0.5, reduction: sum}\nrun: {steps: 7, seed: 3}\n"
	spec, err := Parse([]byte("base:\n  preset: tiny\n  config:\n"+indent(text, "    ")), "sweep file t.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := spec.Expand()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := train.Preset("tiny")
	if err := train.ApplyYAML(&want, []byte(text), "x"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pts[0].Config, want) {
		t.Errorf("sweep config %+v\nconfig file  %+v", pts[0].Config, want)
	}
	var back map[string]any
	if err := yaml.Unmarshal(pts[0].Config.YAML(), &back); err != nil {
		t.Fatal(err)
	}
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// A boolean key takes true or false, in a variant as in base.config.
func TestBoolValue(t *testing.T) {
	spec, err := Parse([]byte("base: {preset: tiny}\nvariants:\n  dense: {}\n  blocks: {model.blocks: 2, model.block_norm: true}\n"), "sweep file t.yaml", testFlags)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := spec.Expand()
	if err != nil {
		t.Fatal(err)
	}
	got := map[bool]int{}
	for _, p := range pts {
		got[p.Config.Model.BlockNorm]++
	}
	if got[true] != 1 || got[false] != 1 {
		t.Errorf("block_norm over the variants: %v, want one true and one false", got)
	}
}

package train

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPaperPresetMatchesSpec(t *testing.T) {
	c, err := Preset("paper")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Model:     ModelConfig{Units: 128, Hidden: 256, Init: "pytorch", InitScale: 0.1, G0Init: "normal", Blocks: 1, InitParts: 1},
		Data:      DataConfig{BatchSize: 130, SeqLen: 60, Augment: "permute", MaxSpeed: 0.15, MinSpeedFactor: 1, Velocities: "box", VelocitySets: 1},
		Loss:      graph.LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaSep: 1, LambdaInv: 0.1, LambdaCap: 0.5, LambdaCI: 1, Reduction: "mean"},
		Optimizer: OptimizerConfig{LR: 2e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, ClipNorm: 0.1, Accumulation: 2},
	}
	if !reflect.DeepEqual(c.Model, want.Model) || !reflect.DeepEqual(c.Data, want.Data) || !reflect.DeepEqual(c.Loss, want.Loss) || !reflect.DeepEqual(c.Optimizer, want.Optimizer) {
		t.Errorf("paper preset %+v differs from the paper's appendix %+v", c, want)
	}
	if c.Run.Steps != 2_000_000 || c.Scheduler.Kind != "plateau" {
		t.Errorf("paper preset: steps %d, scheduler %q", c.Run.Steps, c.Scheduler.Kind)
	}
	for _, name := range PresetNames {
		p, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s does not validate: %v", name, err)
		}
	}
	if _, err := Preset("huge"); err == nil || !strings.Contains(err.Error(), "paper, smoke") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestFieldsAreComplete(t *testing.T) {
	flags := map[string]string{}
	fs := Fields()
	if len(fs) < 30 {
		t.Errorf("only %d fields", len(fs))
	}
	for _, f := range fs {
		if f.Usage == "" {
			t.Errorf("field %s has no usage text", f.Path)
		}
		if prev, ok := flags[f.Flag]; ok {
			t.Errorf("flag --%s used by %s and %s", f.Flag, prev, f.Path)
		}
		flags[f.Flag] = f.Path
	}
	for _, want := range []string{"lr", "sigma-g", "lambda-cap", "batch-size", "seq-len", "units", "hidden", "augment", "steps", "seed", "device", "accumulation", "clip-norm", "weight-decay"} {
		if _, ok := flags[want]; !ok {
			t.Errorf("no flag --%s", want)
		}
	}
}

func TestConfigFileOverridesPreset(t *testing.T) {
	p := writeFile(t, "c.yaml", "optimizer:\n  lr: 0.001\nmodel:\n  units: 64\n")
	c, err := LoadConfig("paper", p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Optimizer.LR != 0.001 || c.Model.Units != 64 {
		t.Errorf("file values not applied: %+v", c)
	}
	if c.Model.Hidden != 256 || c.Optimizer.ClipNorm != 0.1 {
		t.Errorf("values absent from the file changed: %+v", c)
	}
}

func TestUnknownConfigKeyRefused(t *testing.T) {
	cases := []struct{ text, want string }{
		{"model:\n  units: 8\n  layers: 3\n", `line 3: unknown key "layers" in section model; allowed: units, hidden`},
		{"lr: 0.1\n", `unknown key "lr" at the top level`},
		{"optimiser:\n  lr: 0.1\n", `unknown key "optimiser"`},
		{"model: 3\n", "expected a mapping"},
		{"optimizer:\n  lr: fast\n", `line 2: optimizer.lr: "fast" is not a number (float)`},
		{"model:\n  units: [1, 2]\n", "must be a single value"},
		{"model: {units: 1\n", "c.yaml"},
	}
	for _, c := range cases {
		p := writeFile(t, "c.yaml", c.text)
		_, err := LoadConfig("paper", p)
		if err == nil {
			t.Errorf("%q accepted", c.text)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %q should name the file and contain %q", c.text, err, c.want)
		}
	}
	// A leaf at the top level gets a hint at its section.
	_, err := LoadConfig("paper", writeFile(t, "c.yaml", "sigma_g: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "did you mean loss.sigma_g") {
		t.Errorf("hint missing: %v", err)
	}
}

// Config files: a mistyped key gets the nearest known one, a value of the
// wrong type names its key and the type the key takes, and every mistake
// of a file is reported at once, in one line.
func TestConfigFileMistakes(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"close key in its section", "model:\n  unit: 8\n", []string{`line 2: unknown key "unit" in section model; did you mean model.units?`}},
		{"close section", "optimiser:\n  lr: 0.1\n", []string{`line 1: unknown key "optimiser" at the top level; did you mean optimizer?`}},
		{"leaf at the top level", "lr: 0.1\n", []string{`unknown key "lr" at the top level; did you mean optimizer.lr?`}},
		{"leaf in another section", "model:\n  lr: 0.1\n", []string{`unknown key "lr" in section model; did you mean optimizer.lr?`}},
		{"close leaf at the top level", "lamda_cap: 0.1\n", []string{`did you mean loss.lambda_cap?`}},
		{"nothing close", "model:\n  layers: 3\n", []string{`unknown key "layers" in section model; allowed: units, hidden`}},
		{"string for a float", "optimizer:\n  lr: \"fast\"\n", []string{`line 2: optimizer.lr: "fast" is not a number (float)`}},
		{"quoted number for a float", "optimizer: {lr: '0.1'}\n", []string{`optimizer.lr: "0.1" is not a number (float)`}},
		{"string for an integer", "run:\n  steps: many\n", []string{`line 2: run.steps: "many" is not an integer`}},
		{"fraction for an integer", "run:\n  steps: 1.5\n", []string{`run.steps: "1.5" is not an integer`}},
		{"negative seed", "run:\n  seed: -1\n", []string{`run.seed: "-1" is not an integer >= 0`}},
		{"minus infinity for a seed", "run: {seed: -.inf}\n", []string{`run.seed: "-.inf" is not an integer >= 0`}},
		{"infinity for a seed", "run: {seed: .inf}\n", []string{`run.seed: ".inf" is not an integer >= 0`}},
		{"minus infinity for an integer", "run: {steps: -.inf}\n", []string{`run.steps: "-.inf" is not an integer`}},
		{"infinity for an integer", "run: {steps: .Inf}\n", []string{`run.steps: ".Inf" is not an integer`}},
		{"NaN for an integer", "run: {steps: .nan}\n", []string{`run.steps: ".nan" is not an integer`}},
		{"2^63 written as a float", "run: {steps: 9.223372036854775807e18}\n", []string{`run.steps: "9.223372036854775807e18" is out of range for an integer`}},
		{"2^64 written as a float for a seed", "run: {seed: 1.8446744073709551616e19}\n", []string{`is out of range for an integer >= 0`}},
		{"second document", "run: {steps: 5}\n---\nrun: {seed: 2}\n", []string{`line 2: a second YAML document (after ---); a config file holds one document`}},
		{"empty second document", "run: {steps: 5}\n---\n", []string{`line 2: a second YAML document`}},
		{"second document after an empty first", "---\n# settings follow\n---\nrun: {seed: 2}\n", []string{`a second YAML document`}},
		{"broken second document", "run: {steps: 5}\n---\n: : [\n", []string{`a second YAML document`}},
		{"too large", "model: {units: 99999999999999999999}\n", []string{`model.units: "99999999999999999999" is out of range for an integer`}},
		{"string for a bool", "model:\n  block_norm: yes\n", []string{`model.block_norm: "yes" is not true or false`}},
		{"no value", "optimizer:\n  lr:\n", []string{`line 2: optimizer.lr: no value`}},
		{"all at once", "model:\n  unit: 8\noptimizer:\n  lr: fast\n  beta1: x\nrun: {steps: 1.5}\n", []string{
			`line 2: unknown key "unit" in section model; did you mean model.units?; line 4: optimizer.lr: "fast" is not a number (float); line 5: optimizer.beta1: "x" is not a number (float); line 6: run.steps: "1.5" is not an integer`}},
	}
	for _, c := range cases {
		p := writeFile(t, "c.yaml", c.text)
		_, err := LoadConfig("paper", p)
		if err == nil {
			t.Errorf("%s: %q accepted", c.name, c.text)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "config file "+p+": ") {
			t.Errorf("%s: error %q is not one line starting with the file", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", c.name, msg, w)
			}
		}
	}
}

// Integers in config files may be written as YAML writes them: 2_000_000,
// 2e6 (a whole number), 0x10.
func TestConfigFileIntegerForms(t *testing.T) {
	for text, want := range map[string]int64{"run: {steps: 2_000_000}": 2_000_000, "run: {steps: 1e9}": 1e9, "run: {steps: 0x10}": 16, "run: {steps: 2.0e3}": 2000} {
		c, err := LoadConfig("paper", writeFile(t, "c.yaml", text))
		if err != nil {
			t.Errorf("%s: %v", text, err)
		} else if c.Run.Steps != want {
			t.Errorf("%s: steps %d, want %d", text, c.Run.Steps, want)
		}
	}
	c, err := LoadConfig("paper", writeFile(t, "c.yaml", "optimizer: {lr: 3}\nrun: {seed: 1e3}"))
	if err != nil || c.Optimizer.LR != 3 || c.Run.Seed != 1000 {
		t.Errorf("an integer for a float, 1e3 for a seed: %v, lr %g, seed %d", err, c.Optimizer.LR, c.Run.Seed)
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	c, _ := Preset("paper")
	c.Optimizer.LR = 1.0 / 3
	c.Run.Seed = 1<<63 + 5
	c.Loss.SigmaG = 0.1 + 0.2
	var d Config
	if err := ApplyYAML(&d, c.YAML(), "test"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, d) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", c, d)
	}
}

func TestValidateNamesField(t *testing.T) {
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Optimizer.LR = -1 }, "optimizer.lr (--lr) = -1: must be a positive number"},
		{func(c *Config) { c.Optimizer.Beta2 = 1 }, "optimizer.beta2 (--beta2) = 1: must be in [0, 1)"},
		{func(c *Config) { c.Data.Augment = "rotate" }, `data.augment (--augment) = rotate: must be "permute" or "none"`},
		{func(c *Config) { c.Model.Units = 0 }, "model.units (--units) = 0"},
		{func(c *Config) { c.Loss.Reduction = "max" }, "loss.reduction"},
		{func(c *Config) { c.Run.Device = "gpu" }, `run.device (--device) = gpu: must be "cpu" or "cuda:N"`},
		{func(c *Config) { c.Scheduler.Factor = 1 }, "scheduler.factor (--lr-factor)"},
		{func(c *Config) { c.Optimizer.Accumulation = 0 }, "optimizer.accumulation (--accumulation)"},
	}
	for _, tc := range cases {
		c, _ := Preset("paper")
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// Every bad value is reported, not only the first: one line, each value
// with its key, flag and rule, joined by "; ".
func TestValidateReportsEveryBadValue(t *testing.T) {
	c, _ := Preset("demo")
	c.Optimizer.LR = -1
	c.Run.Device = "tpu"
	err := c.Validate()
	want := `optimizer.lr (--lr) = -1: must be a positive number; run.device (--device) = tpu: must be "cpu" or "cuda:N" (e.g. cuda:0)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate: %v\nwant %s", err, want)
	}
	c, _ = Preset("demo")
	c.Model.Units, c.Data.Augment, c.Run.EvalWalks = 0, "mirror", "both ways"
	err = c.Validate()
	if err == nil {
		t.Fatal("three bad values accepted")
	}
	for _, w := range []string{"model.units (--units) = 0", "data.augment (--augment) = mirror", "run.eval_walks (--eval-walks) = both ways"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%q is not one line", err)
	}
}

func TestPlateau(t *testing.T) {
	c, _ := Preset("paper")
	c.Optimizer.LR = 1
	c.Scheduler = SchedulerConfig{Kind: "plateau", Factor: 0.5, Patience: 1, Window: 2, MinLR: 0.2, Threshold: 0.1}
	p := NewPlateau(&c)
	// windows: mean 10 (best), 9.5 (not 10% better: bad 1), 9.8 (bad 2 > patience: reduce),
	// 5 (better), 5, 5 (reduce to 0.25), 5, 5 (reduce, floored at 0.2)
	seq := []float64{10, 10, 9.5, 9.5, 9.8, 9.8, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
	var lrs []float64
	for _, l := range seq {
		lrs = append(lrs, p.Observe(l))
	}
	want := []float64{1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2}
	if !reflect.DeepEqual(lrs, want) {
		t.Errorf("lrs %v, want %v", lrs, want)
	}
	// Negative losses: improvement means more negative.
	p = NewPlateau(&c)
	for _, l := range []float64{-1, -1, -1.2, -1.2} {
		p.Observe(l)
	}
	if p.Best != -1.2 || p.NumBad != 0 {
		t.Errorf("negative loss: best %g, bad %d", p.Best, p.NumBad)
	}
	c.Scheduler.Kind = "none"
	p = NewPlateau(&c)
	for _, l := range seq {
		if p.Observe(l) != 1 {
			t.Fatal("scheduler none changed the learning rate")
		}
	}
}

// Every rule of configRules: its key is a config field with a flag, and a
// bad value of it alone gives exactly its message.
func TestConfigRules(t *testing.T) {
	for _, r := range configRules {
		if r.section != nil {
			continue
		}
		if f, ok := FieldByPath(r.key); !ok || f.Flag == "" {
			t.Errorf("rule of %q: no such config field with a flag", r.key)
		}
		if (r.ok == nil || r.msg == "") == (r.why == nil) {
			t.Errorf("rule of %q: wants ok and msg, or why", r.key)
		}
	}
	nan := math.NaN()
	for _, c := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Model.Units = 4097 }, "model.units (--units) = 4097: must be an integer from 1 to 4096"},
		{func(c *Config) { c.Model.Hidden = 0 }, "model.hidden (--hidden) = 0: must be an integer from 1 to 65536"},
		{func(c *Config) { c.Model.Init = "zeros" }, `model.init (--init) = zeros: must be "pytorch" or "identity"`},
		{func(c *Config) { c.Model.InitScale = nan }, "model.init_scale (--init-scale) = NaN: must be a number >= 0"},
		{func(c *Config) { c.Model.Blocks = 3 }, "model.blocks (--blocks) = 3: must be a divisor of model.units = 64 (1: dense)"},
		{func(c *Config) { c.Model.BlockNorm = true }, "model.block_norm (--block-norm) = true: needs model.blocks (--blocks) of at least 2: it normalises each block on its own"},
		// Bad blocks are reported alone, without block_norm.
		{func(c *Config) { c.Model.Blocks, c.Model.BlockNorm = 0, true }, "model.blocks (--blocks) = 0: must be a divisor of model.units = 64 (1: dense)"},
		{func(c *Config) { c.Model.InitParts = 3 }, "model.init_parts (--init-parts) = 3: must be a divisor of both model.units = 64 and model.hidden = 128 (1: one network)"},
		{func(c *Config) { c.Model.InitParts, c.Model.InitFrom = 2, "x.safetensors" }, "model.init_parts (--init-parts) = 2: draws the start, which model.init_from (--init-from) replaces: give one of them"},
		{func(c *Config) { c.Model.G0Init = "zero" }, `model.g0_init (--g0-init) = zero: must be "normal" or "abs"`},
		{func(c *Config) { c.Data.BatchSize = 0 }, "data.batch_size (--batch-size) = 0: must be an integer >= 1"},
		{func(c *Config) { c.Data.SeqLen = -1 }, "data.seq_len (--seq-len) = -1: must be an integer >= 1"},
		{func(c *Config) { c.Data.Augment = "x" }, `data.augment (--augment) = x: must be "permute" or "none"`},
		{func(c *Config) { c.Data.MaxSpeed = math.Inf(1) }, "data.max_speed (--max-speed) = +Inf: must be a positive number"},
		{func(c *Config) { c.Data.MinSpeedFactor = 0 }, "data.min_speed_factor (--min-speed-factor) = 0: must be in (0, 1] (1: the paper's velocities)"},
		{func(c *Config) { c.Data.Velocities = "ring" }, `data.velocities (--velocities) = ring: must be "box" (the paper's) or "disk"`},
		{func(c *Config) { c.Data.VelocitySets = 0 }, "data.velocity_sets (--velocity-sets) = 0: must be an integer from 1 to data.batch_size = 32 (1: the paper's one set)"},
		{func(c *Config) { c.Data.VelocitySets = 33 }, "data.velocity_sets (--velocity-sets) = 33: must be an integer from 1 to data.batch_size = 32 (1: the paper's one set)"},
		{func(c *Config) { c.Data.VelocitySets, c.Data.Augment = 2, "none" }, `data.velocity_sets (--velocity-sets) = 2: needs data.augment "permute" (with "none" every trajectory has its own velocities)`},
		{func(c *Config) { c.Loss.SigmaX = 0 }, "loss.sigma_x (--sigma-x) = 0: must be a positive number"},
		{func(c *Config) { c.Optimizer.LR = 0 }, "optimizer.lr (--lr) = 0: must be a positive number"},
		{func(c *Config) { c.Optimizer.Beta1 = -0.5 }, "optimizer.beta1 (--beta1) = -0.5: must be in [0, 1)"},
		{func(c *Config) { c.Optimizer.Beta2 = 1 }, "optimizer.beta2 (--beta2) = 1: must be in [0, 1)"},
		{func(c *Config) { c.Optimizer.Eps = 0 }, "optimizer.eps (--eps) = 0: must be a positive number"},
		{func(c *Config) { c.Optimizer.WeightDecay = -1 }, "optimizer.weight_decay (--weight-decay) = -1: must be a number >= 0"},
		{func(c *Config) { c.Optimizer.ClipNorm = nan }, "optimizer.clip_norm (--clip-norm) = NaN: must be a number >= 0"},
		{func(c *Config) { c.Optimizer.Accumulation = 1025 }, "optimizer.accumulation (--accumulation) = 1025: must be an integer from 1 to 1024"},
		{func(c *Config) { c.Scheduler.Kind = "cosine" }, `scheduler.kind (--scheduler) = cosine: must be "plateau", "none" or "step"`},
		{func(c *Config) { c.Scheduler.Factor = 0 }, "scheduler.factor (--lr-factor) = 0: must be in (0, 1)"},
		{func(c *Config) { c.Scheduler.Patience = -1 }, "scheduler.patience (--lr-patience) = -1: must be an integer >= 0"},
		{func(c *Config) { c.Scheduler.Window = 0 }, "scheduler.window (--lr-window) = 0: must be an integer >= 1"},
		{func(c *Config) { c.Scheduler.Kind, c.Scheduler.DecayStep = "step", 0 }, `scheduler.decay_step (--lr-decay-step) = 0: must be a step >= 1 with scheduler.kind "step" (and >= 0 otherwise)`},
		{func(c *Config) { c.Scheduler.Kind, c.Scheduler.DecayStep = "none", -1 }, `scheduler.decay_step (--lr-decay-step) = -1: must be a step >= 1 with scheduler.kind "step" (and >= 0 otherwise)`},
		{func(c *Config) { c.Scheduler.MinLR = -1 }, "scheduler.min_lr (--min-lr) = -1: must be a number >= 0"},
		{func(c *Config) { c.Scheduler.Threshold = nan }, "scheduler.threshold (--lr-threshold) = NaN: must be a number >= 0"},
		{func(c *Config) { c.Run.Steps = 0 }, "run.steps (--steps) = 0: must be an integer >= 1"},
		{func(c *Config) { c.Run.LogEvery = 0 }, "run.log_every (--log-every) = 0: must be an integer >= 1"},
		{func(c *Config) { c.Run.CheckpointEvery = -1 }, "run.checkpoint_every (--checkpoint-every) = -1: must be an integer >= 0 (0: only at the end)"},
		{func(c *Config) { c.Run.KeepCheckpoints = -1 }, "run.keep_checkpoints (--keep-checkpoints) = -1: must be an integer >= 0 (0: keep all)"},
		{func(c *Config) { c.Run.KeepBest, c.Run.EvalEvery = "eval_grid_units", 0 }, "run.keep_best (--keep-best) = eval_grid_units: is an evaluation key, and run.eval_every (--eval-every) is 0: no step is evaluated; set it, or choose a training key such as loss"},
		{func(c *Config) { c.Run.EvalEvery = -1 }, "run.eval_every (--eval-every) = -1: must be an integer >= 0 (0: no evaluation)"},
		{func(c *Config) { c.Run.EvalArena = 0.1 }, "run.eval_arena (--eval-arena) = 0.1: must be an arena side from 0.2 to 100 metres"},
		{func(c *Config) { c.Run.EvalWalks = "all" }, `run.eval_walks (--eval-walks) = all: must be "standard", "training" or "both"`},
		{func(c *Config) { c.Run.EvalTrajectories = 0 }, "run.eval_trajectories (--eval-trajectories) = 0: must be an integer from 1 to 100000"},
		{func(c *Config) { c.Run.Device = "cuda:x" }, `run.device (--device) = cuda:x: must be "cpu" or "cuda:N" (e.g. cuda:0)`},
		{func(c *Config) { c.GPU.GEMM = "magic" }, `gpu.gemm (--gpu-gemm) = "magic": must be one of ` + strings.Join(GEMMKinds, ", ")},
	} {
		cfg, _ := Preset("demo")
		c.mut(&cfg)
		if err := cfg.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("Validate: %v\nwant %s", err, c.want)
		}
	}
}

// Bad values of the loss and gpu sections are reported together with the
// others, every one of them, not the first of each section only.
func TestValidateReportsEveryLossAndGPUValue(t *testing.T) {
	c, _ := Preset("smoke")
	c.Loss.SigmaG, c.Loss.LambdaCap, c.Loss.LambdaCI, c.Loss.CIBins = 0, -1, -2, -3
	c.Optimizer.LR = -1
	c.GPU.GEMM, c.GPU.Pair = "foo", "bar"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{"loss.sigma_g (--sigma-g) = 0", "loss.lambda_cap (--lambda-cap) = -1", "loss.lambda_ci (--lambda-ci) = -2",
		"loss.ci_bins (--ci-bins) = -3", "optimizer.lr (--lr) = -1", `gpu.gemm (--gpu-gemm) = "foo"`, `gpu.pair (--gpu-pair) = "bar"`}
	msg := err.Error()
	last := -1
	for _, w := range want {
		i := strings.Index(msg, w)
		if i < 0 {
			t.Errorf("%q missing from %q", w, msg)
			continue
		}
		if i < last {
			t.Errorf("%q out of order in %q", w, msg)
		}
		last = i
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
}

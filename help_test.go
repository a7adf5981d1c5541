package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gridgpu/gridgpu/train"
)

// helpPages is every help page: the app's and each command's (and
// subcommand's), as "gridgpu ARGS --help" runs them.
func helpPages(t *testing.T) map[string]string {
	t.Helper()
	pages := map[string]string{}
	var visit func(args []string)
	visit = func(args []string) {
		code, stdout, stderr := runCLI(t, append(args, "--help")...)
		name := strings.Join(append([]string{"gridgpu"}, args...), " ")
		if code != 0 || stdout == "" {
			t.Errorf("%s --help: exit status %d, stderr %q", name, code, stderr)
		}
		pages[name] = stdout
	}
	visit(nil)
	for _, c := range commands() {
		visit([]string{c.Name})
		for _, sub := range c.Subcommands {
			visit([]string{c.Name, sub.Name})
		}
	}
	return pages
}

// Every help page fits 80 columns, and every command's one-line summary
// stays on one line both in the app's command list and in its NAME line.
func TestHelpFits80Columns(t *testing.T) {
	for name, page := range helpPages(t) {
		for i, line := range strings.Split(page, "\n") {
			if n := utf8.RuneCountInString(line); n > 80 {
				t.Errorf("%s --help, line %d is %d columns wide:\n%s", name, i+1, n, line)
			}
		}
		if _, rest, ok := strings.Cut(page, "NAME:\n"); ok {
			if second := strings.SplitN(rest, "\n", 3)[1]; strings.TrimSpace(second) != "" {
				t.Errorf("%s --help: the NAME line wraps (shorten the command's Usage):\n%s", name, rest[:strings.Index(rest, "\n\n")])
			}
		}
	}
}

// The wrapping keeps the layout: a flag's usage continues under its usage
// column, a command line under its first argument, a bracketed group of
// the usage line stays whole, and a description's paragraph is reflowed.
func TestWrapHelp(t *testing.T) {
	cases := []struct {
		name, page, want string
	}{
		{"flag", "OPTIONS:\n   --lr value  AdamW learning rate (paper: 2e-5) [optimizer.lr] (default: 0.0003; paper, tiny, small, medium: 2e-5)",
			"OPTIONS:\n   --lr value  AdamW learning rate (paper: 2e-5) [optimizer.lr] (default:\n               0.0003; paper, tiny, small, medium: 2e-5)"},
		{"usage", "USAGE:\n   gridgpu states --checkpoint F --out S.npz [--arena L] [--walks standard|training] [--samples K]",
			"USAGE:\n   gridgpu states --checkpoint F --out S.npz [--arena L]\n                  [--walks standard|training] [--samples K]"},
		{"name", "NAME:\n   gridgpu - train and analyse self-supervised grid-cell networks (Schaeffer, Khona et al., NeurIPS 2023)",
			"NAME:\n   gridgpu - train and analyse self-supervised grid-cell networks (Schaeffer,\n             Khona et al., NeurIPS 2023)"},
		{"prose", "DESCRIPTION:\n   " + reflow("One two three four five six seven eight nine ten eleven twelve\nthirteen fourteen fifteen sixteen."),
			"DESCRIPTION:\n   One two three four five six seven eight nine ten eleven twelve thirteen\n   fourteen fifteen sixteen."},
		{"short lines stay", "DESCRIPTION:\n   a  b\n\n      indented  table", "DESCRIPTION:\n   a  b\n\n      indented  table"},
	}
	for _, c := range cases {
		if got := wrapHelp(c.page, 80); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
	if got := reflow("para one\nstill one\n\n   kept\n   as is\nnext"); got != "para one still one\n\n   kept\n   as is\nnext" {
		t.Errorf("reflow: %q", got)
	}
}

// A hyperparameter flag shows the default of the preset that train uses
// without --preset, then the presets that differ; a loss flag, that the
// checkpoint's value counts; no flag says "from the preset" any more.
func TestFlagDefaultsShowPresetValues(t *testing.T) {
	pages := helpPages(t)
	flat := func(page string) string { return strings.Join(strings.Fields(page), " ") }
	cases := []struct {
		page string
		want []string
	}{
		{"gridgpu train", []string{
			"[optimizer.lr] (default: 0.0003; paper, tiny, small, medium: 2e-5; smoke: 0.003)",
			"[run.steps] (default: 12_000; paper, tiny, small, medium: 2_000_000; smoke: 200; grids: 30_000)",
			"[model.units] (default: 64; paper, medium, grids: 128; smoke, tiny: 32)",
			"[run.device] (default: cpu)",
			"[data.velocities] (default: disk; paper, smoke, tiny, small, medium: box)",
			`(default: "demo")`,
		}},
		{"gridgpu landscape", []string{"[loss.sigma_g] (default: 0.25; paper, smoke, tiny, small, medium: 0.4)"}},
		{"gridgpu loss", []string{"[loss.sigma_g] (default: the checkpoint's, else 0.4, the paper preset's)"}},
		{"gridgpu bench", []string{"[gpu.gemm] (default: auto)", "[gpu.pair] (default: tiled)"}},
	}
	for _, c := range cases {
		page := flat(pages[c.page])
		for _, w := range c.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s --help lacks %q", c.page, w)
			}
		}
	}
	for name, page := range pages {
		if strings.Contains(flat(page), "from the preset") {
			t.Errorf("%s --help still says \"from the preset\"", name)
		}
	}
	// The first value is the default preset's, for every field.
	demo, err := train.Preset(defaultPreset)
	if err != nil {
		t.Fatal(err)
	}
	show := presetDefaults(defaultPreset, train.PresetNames)
	for _, f := range train.Fields() {
		first, _, _ := strings.Cut(show(f), ";")
		if want := formatValue(f.Get(&demo)); first != want {
			t.Errorf("--%s: help shows %q first, the %s preset has %s", f.Flag, first, defaultPreset, want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{2e-5, "2e-5"}, {1e-8, "1e-8"}, {3e-4, "0.0003"}, {0.25, "0.25"}, {1e21, "1e21"},
		{8000, "8000"}, {int64(2_000_000), "2_000_000"}, {10000, "10_000"}, {-123456, "-123_456"},
		{uint64(7), "7"}, {"disk", "disk"}, {"", `""`}, {true, "true"},
	}
	for _, c := range cases {
		if got := formatValue(c.v); got != c.want {
			t.Errorf("formatValue(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/internal/testfs"
)

// An unknown flag names the nearest flag of its command when one is close,
// and nothing when none is.
func TestUnknownFlagSuggestsNearest(t *testing.T) {
	cases := []struct {
		args      []string
		want, not string
	}{
		{[]string{"train", "--lamda-cap", "1"}, "unknown flag --lamda-cap (did you mean --lambda-cap?); run 'gridgpu train --help' for the options", ""},
		{[]string{"train", "--step", "5"}, "unknown flag --step (did you mean --steps?)", ""},
		{[]string{"train", "--sigma_g=0.3"}, "unknown flag --sigma_g (did you mean --sigma-g?)", ""},
		{[]string{"analyze", "--checkpont", "x"}, "(did you mean --checkpoint?)", ""},
		{[]string{"loss", "--lambda-sepp", "1"}, "(did you mean --lambda-sep?)", ""},
		{[]string{"--verison"}, "unknown flag --verison (did you mean --version?); run 'gridgpu --help'", ""},
		{[]string{"train", "--frobnicate"}, "unknown flag --frobnicate; run", "did you mean"},
		{[]string{"export", "--xy"}, "unknown flag --xy; run", "did you mean"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
		if code != exitUsage {
			t.Errorf("%v: exit status %d, want %d", c.args, code, exitUsage)
		}
		if c.not != "" && strings.Contains(stderr, c.not) {
			t.Errorf("%v: %q has %q", c.args, stderr, c.not)
		}
	}
}

// Integer flags take Go's integer syntax and whole numbers in float
// notation; anything else is refused with how to write an integer.
func TestIntValue(t *testing.T) {
	cases := []struct {
		in       string
		unsigned bool
		want     string // the value, or the error
	}{
		{"2000000", false, "2000000"},
		{"2_000_000", false, "2000000"},
		{"1e9", false, "1000000000"},
		{"2.5e6", false, "2500000"},
		{"0x10", false, "16"},
		{"-3", false, "-3"},
		{"1e3", true, "1000"},
		{"18446744073709551615", true, "18446744073709551615"},
		{"1.5", false, "not an integer (write it as 2000000, 2_000_000 or 2e6)"},
		{"many", false, "not an integer (write it as 2000000, 2_000_000 or 2e6)"},
		{"2,000,000", false, "not an integer"},
		{"NaN", false, "not an integer"},
		{"-1", true, "not an integer >= 0"},
		{"1e19", false, "out of range for an integer"},
		{"1e20", true, "out of range for an integer >= 0"},
	}
	for _, c := range cases {
		v := &intValue{unsigned: c.unsigned, bits: 64}
		got := ""
		if err := v.Set(c.in); err != nil {
			got = err.Error()
		} else {
			got = v.String()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("Set(%q) (unsigned %v): %q, want %q", c.in, c.unsigned, got, c.want)
		}
	}
}

// --steps 1e9 and --steps 2_000_000 are step counts; --steps 1.5 is
// refused with how to write one.
func TestIntegerFlagForms(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	for arg, want := range map[string]string{"1e9": "steps: 1000000000", "2_000_000": "steps: 2000000"} {
		code, stdout, stderr := runCLI(t, "train", "--dry-run", "--preset", "smoke", "--steps", arg, "--seed", "1e3", "--out", out)
		if code != 0 {
			t.Errorf("--steps %s: exit status %d: %s", arg, code, stderr)
		}
		if !strings.Contains(stdout, want) || !strings.Contains(stdout, "seed: 1000") {
			t.Errorf("--steps %s --seed 1e3: the config lacks %q or seed: 1000:\n%s", arg, want, stdout)
		}
	}
	args := []string{"train", "--preset", "smoke", "--steps", "1.5", "--out", out}
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, `invalid value "1.5" for flag --steps: not an integer (write it as 2000000, 2_000_000 or 2e6)`)
}

// A config file's mistakes and a command line's bad values are each
// reported at once, in one line that names every key.
func TestConfigMistakesCLI(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string { return testfs.WriteFile(t, dir, name, text) }
	fast := write("fast.yaml", "optimizer:\n  lr: \"fast\"\n")
	two := write("two.yaml", "model:\n  unit: 8\nrun:\n  steps: many\n")
	out := filepath.Join(dir, "run")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--config", fast, "--out", out}, "config file " + fast + `: line 2: optimizer.lr: "fast" is not a number (float)`},
		{[]string{"train", "--config", two, "--out", out}, `line 2: unknown key "unit" in section model; did you mean model.units?; line 4: run.steps: "many" is not an integer`},
		{[]string{"train", "--preset", "smoke", "--lr", "-1", "--device", "tpu", "--out", out},
			`optimizer.lr (--lr) = -1: must be a positive number; run.device (--device) = tpu: must be "cpu" or "cuda:N"`},
		{[]string{"landscape", "--config", fast}, `optimizer.lr: "fast" is not a number (float)`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused train created its run directory")
	}
}

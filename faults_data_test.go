package main

// More cases of the fault probe in issue 19: config files with more than
// one document or an infinite integer, checkpoints of another run, damaged
// metrics.jsonl on resume, reports published whole, and analyses too big
// for the machine.

import (
	"os"
	"path/filepath"
	"testing"
)

// F23, F24: a config file with a second YAML document, and an infinite or
// out-of-range float for an integer key, are refused in one line naming
// the file and the line, as -1 and .inf are.
func TestConfigFileOneDocumentFiniteIntegers(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, text, want string }{
		{"two.yaml", "run: {steps: 5}\n---\nrun: {seed: 5}\n", "line 2: a second YAML document (after ---); a config file holds one document"},
		{"seed.yaml", "run: {seed: -.inf}\n", `line 1: run.seed: "-.inf" is not an integer >= 0`},
		{"steps.yaml", "run: {steps: -.inf}\n", `line 1: run.steps: "-.inf" is not an integer`},
		{"huge.yaml", "run: {log_every: 1e19}\n", `line 1: run.log_every: "1e19" is out of range for an integer`},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"train", "--preset", "smoke", "--config", p, "--out", filepath.Join(dir, "run")}
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, "config file "+p+": "+c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Error("a refused config file left a run directory")
	}
}

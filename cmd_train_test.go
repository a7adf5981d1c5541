package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

// latestCheckpoint is the checkpoint run's latest pointer names.
func latestCheckpoint(t *testing.T, run string) string {
	t.Helper()
	p, err := rundir.ResolveCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadLatest reads run's latest checkpoint whole.
func loadLatest(t *testing.T, run string) (string, *train.Checkpoint) {
	t.Helper()
	p := latestCheckpoint(t, run)
	ck, err := train.LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, ck
}

// TestTrainDryRun: --dry-run prints the effective config (a usable config
// file), the memory estimate and the measured time, and writes nothing.
func TestTrainDryRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, "train", "--dry-run", "--preset", "smoke", "--steps", "50", "--lr", "0.001", "--out", out)
	if code != 0 {
		t.Fatalf("dry run: %d %s", code, stderr)
	}
	for _, want := range []string{"# memory: about ", "# time: ", " a step (", "the whole run about ", "steps: 50", "lr: 0.001"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "note:") {
		t.Errorf("a 50-step smoke run has a note about its length:\n%s", stdout)
	}
	cfg, _ := train.Preset("paper")
	if err := train.ApplyYAML(&cfg, []byte(stdout), "dry-run output"); err != nil {
		t.Errorf("the dry run's output is not a config file: %v", err)
	} else if cfg.Run.Steps != 50 || cfg.Optimizer.LR != 0.001 || cfg.Model.Units != 32 {
		t.Errorf("config read back: steps %d, lr %g, units %d", cfg.Run.Steps, cfg.Optimizer.LR, cfg.Model.Units)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the dry run created %s", out)
	}
}

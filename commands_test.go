package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHelpListsCommands: the top-level help lists every command once, in
// the order of commands().
func TestHelpListsCommands(t *testing.T) {
	code, stdout, _ := runCLI(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit status %d", code)
	}
	_, list, ok := strings.Cut(stdout, "COMMANDS:")
	if !ok {
		t.Fatalf("--help has no COMMANDS section:\n%s", stdout)
	}
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "   ") && len(f) > 1 && !strings.HasPrefix(f[0], "-") {
			names = append(names, f[0])
		}
	}
	var want []string
	for _, c := range commands() {
		want = append(want, c.Name)
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("--help lists %v, want %v", names, want)
	}
}

// TestBenchWritesToAppWriter: bench's JSON goes to the app's writer, so
// that it can be captured (and nothing else does).
func TestBenchWritesToAppWriter(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "--preset", "tiny", "--iters", "1", "--warmup", "0", "--threads", "1")
	if code != 0 {
		t.Fatalf("bench: exit status %d: %s", code, stderr)
	}
	var out struct {
		SecondsPerStep float64 `json:"seconds_per_step"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || !(out.SecondsPerStep > 0) {
		t.Errorf("bench output %q: %v (seconds_per_step %g)", stdout, err, out.SecondsPerStep)
	}
}

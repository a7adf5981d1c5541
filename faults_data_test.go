package main

// More cases of the fault probe in issue 19: config files with more than
// one document or an infinite integer, checkpoints of another run, damaged
// metrics.jsonl on resume, reports published whole, and analyses too big
// for the machine.

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
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
		p := testfs.WriteFile(t, dir, c.name, c.text)
		args := []string{"train", "--preset", "smoke", "--config", p, "--out", filepath.Join(dir, "run")}
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, "config file "+p+": "+c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Error("a refused config file left a run directory")
	}
}

// F13: another run's checkpoint placed in D/checkpoints, with latest
// pointing at it, is refused on resume in one line naming both runs' ids;
// D's files stay as they were.
func TestResumeRefusesForeignCheckpoint(t *testing.T) {
	sweepTest(t)
	root := t.TempDir()
	D, other := filepath.Join(root, "D"), filepath.Join(root, "other")
	for _, args := range [][]string{
		append(append([]string{"train"}, tinyTrain...), "--steps", "4", "--out", D),
		append(append([]string{"train"}, tinyTrain...), "--steps", "6", "--seed", "5", "--out", other),
	} {
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	idD, _ := train.RunIDOf(D)
	idOther, _ := train.RunIDOf(other)
	if idD == "" || idOther == "" || idD == idOther {
		t.Fatalf("run ids %q and %q: want two different ones", idD, idOther)
	}
	foreign := filepath.Join(D, "checkpoints", rundir.CheckpointName(6))
	b, err := os.ReadFile(filepath.Join(other, "checkpoints", rundir.CheckpointName(6)))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(foreign, b, 0o644)
	os.WriteFile(filepath.Join(D, "checkpoints", rundir.LatestFile), []byte(rundir.CheckpointName(6)+"\n"), 0o644)
	files := []string{"config.yaml", rundir.HistoryFile, "metrics.jsonl", filepath.Join("checkpoints", rundir.LatestFile)}
	before := snapshot(D, files...)
	args := []string{"train", "--resume", D, "--steps", "10"}
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, "checkpoint "+foreign+" belongs to run "+idOther+", but "+D+" is run "+idD+" (config-history.yaml): it was copied from another run")
	sameSnapshot(t, "refused resume", before, snapshot(D, files...))
}

// F22: a resume does not silently drop metrics.jsonl lines: garbage in the
// middle refuses it in one line naming the file and the line, with the
// file as it was; a last line cut short by a crash is dropped and stderr
// says so, with its length.
func TestResumeKeepsMetricsLines(t *testing.T) {
	sweepTest(t)
	D := filepath.Join(t.TempDir(), "D")
	if code, _, stderr := runCLI(t, append(append([]string{"train"}, tinyTrain...), "--steps", "4", "--log-every", "1", "--out", D)...); code != 0 {
		t.Fatalf("train: %d %s", code, stderr)
	}
	mp := filepath.Join(D, "metrics.jsonl")
	orig, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(orig), "\n")
	damaged := first + "\nnot json at all\n" + rest
	os.WriteFile(mp, []byte(damaged), 0o644)
	args := []string{"train", "--resume", D, "--steps", "6"}
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, mp+" line 2 is not a metrics record")
	if b, _ := os.ReadFile(mp); string(b) != damaged {
		t.Error("the refused resume changed metrics.jsonl")
	}

	os.WriteFile(mp, append(orig, `{"step": 5, "lo`...), 0o644)
	code, _, stderr = runCLI(t, args...)
	if code != 0 {
		t.Fatalf("resume after a cut-short last line: %d %s", code, stderr)
	}
	if !strings.Contains(stderr, mp+": dropped its last line, 15 bytes without an end of line") {
		t.Errorf("stderr does not name the dropped line:\n%s", stderr)
	}
	b, _ := os.ReadFile(mp)
	if n := strings.Count(string(b), "\n"); n != 6 || !strings.HasPrefix(string(b), string(orig)) {
		t.Errorf("metrics.jsonl after the resume (%d lines):\n%s", n, b)
	}
}

// F3, F20, F21: analyze --overwrite publishes the report whole: a second
// analysis with fewer arenas leaves none of the first one's figures, an
// --out that is a symbolic link stays one (the report goes where it
// points), nothing is left beside the report, and --overwrite refuses a
// directory that holds more than a report (it replaces the whole
// directory). states follows a symbolic --out too.
func TestAnalyzePublishesWholeReport(t *testing.T) {
	dir := t.TempDir()
	ck := modelFile(t, dir)
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(dir, "report")
	if err := os.Symlink("real", link); err != nil {
		t.Skip(err)
	}
	small := []string{"--bins", "10", "--trajectories", "4", "--steps", "50", "--distance-samples", "50"}
	for _, args := range [][]string{
		append([]string{"analyze", "--checkpoint", ck, "--out", link, "--arena", "1,2"}, small...),
		append([]string{"analyze", "--checkpoint", ck, "--out", link, "--arena", "1", "--overwrite"}, small...),
	} {
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%v: --out is no longer a symbolic link", args)
		}
	}
	if old, _ := filepath.Glob(filepath.Join(real, "*_2m*")); len(old) > 0 {
		t.Errorf("the report of one arena keeps the old arena's files: %v", old)
	}
	var sum struct {
		Arenas []json.RawMessage `json:"arenas"`
	}
	b, _ := os.ReadFile(filepath.Join(real, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil || len(sum.Arenas) != 1 {
		t.Errorf("summary.json: %d arenas (%v), want 1", len(sum.Arenas), err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "model.safetensors real report" {
		t.Errorf("beside the report: %v", names)
	}

	run := filepath.Join(dir, "run")
	os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755)
	os.WriteFile(filepath.Join(run, "metrics.jsonl"), []byte("{}\n"), 0o644)
	args := append([]string{"analyze", "--checkpoint", ck, "--out", run, "--overwrite", "--arena", "1"}, small...)
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, "--out "+run+" holds checkpoints and 1 more, which a report does not; --overwrite replaces the whole report directory")
	if _, err := os.Stat(filepath.Join(run, "metrics.jsonl")); err != nil {
		t.Error("the refused analysis touched the run directory")
	}

	npz := filepath.Join(dir, "states-real.npz")
	os.WriteFile(npz, nil, 0o644)
	slink := filepath.Join(dir, "states.npz")
	os.Symlink("states-real.npz", slink)
	sargs := []string{"states", "--checkpoint", ck, "--out", slink, "--overwrite", "--bins", "10", "--trajectories", "4", "--steps", "50", "--samples", "50"}
	if code, _, stderr := runCLI(t, sargs...); code != 0 {
		t.Fatalf("states: exit %d\n%s", code, stderr)
	}
	if st, err := os.Lstat(slink); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Error("states replaced its symbolic --out with a file")
	}
	if st, err := os.Stat(npz); err != nil || st.Size() == 0 {
		t.Errorf("states did not write the file its --out points to: %v", err)
	}
}

// F5, F6: analyze and states refuse, before any work and in one line, an
// analysis the machine cannot hold (--steps 1000000000) or that cannot end
// within a week (--trajectories 1e15), naming the flag and the largest
// value of it that fits; the parents of --out they made are removed again.
func TestAnalysisTooBigForTheMachine(t *testing.T) {
	old := machineMemory
	machineMemory = func() (float64, string) { return 4 << 30, "available" }
	defer func() { machineMemory = old }()
	dir := t.TempDir()
	ck := modelFile(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--checkpoint", ck, "--out", filepath.Join(dir, "new", "report"), "--steps", "1000000000"},
			"--steps 1000000000: the analysis needs about"},
		{[]string{"analyze", "--checkpoint", ck, "--out", filepath.Join(dir, "new", "report"), "--steps", "1e9", "--workers", "2"},
			"but this machine has 4.0 GiB available; the most that fits is --steps"},
		{[]string{"states", "--checkpoint", ck, "--out", filepath.Join(dir, "s.npz"), "--steps", "1000000000"},
			"--steps 1000000000: the analysis needs about"},
		{[]string{"analyze", "--checkpoint", ck, "--out", filepath.Join(dir, "new", "report"), "--trajectories", "1e15"},
			"--trajectories 1000000000000000: the analysis would take at least"},
		{[]string{"states", "--checkpoint", ck, "--out", filepath.Join(dir, "s.npz"), "--trajectories", "1_000_000_000_000_000"},
			"over the limit of a week; the most that can end within a week is --trajectories"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	for _, p := range []string{"new", "s.npz"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("a refused analysis left %s", p)
		}
	}
}

// The plain integer flags of analyze, states, sweep, bench and landscape
// (those that are not config keys) take 1000, 1_000 and 1e3 alike, as the
// config flags do, and refuse 1.5 saying how to write an integer.
func TestPlainIntegerFlagsTakeExponents(t *testing.T) {
	for _, cmd := range []*cli.Command{analyzeCommand(), statesCommand(), sweepCommand(), benchCommand(), landscapeCommand()} {
		for _, f := range cmd.Flags {
			switch f.(type) {
			case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
				t.Errorf("%s --%s is a plain urfave/cli integer flag: it refuses 1e3", cmd.Name, f.Names()[0])
				continue
			}
			if !isIntFlag(f) {
				continue
			}
			name := f.Names()[0]
			for _, v := range []string{"1000", "1_000", "1e3", "1.0e3"} {
				var got uint64
				app := &cli.App{Name: "gridgpu", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
					Name: cmd.Name, Flags: cmd.Flags,
					Action: func(c *cli.Context) error { got = c.Uint64(name); return nil },
				}}}
				if err := app.Run([]string{"gridgpu", cmd.Name, "--" + name, v}); err != nil || got != 1000 {
					t.Errorf("%s --%s %s: %d, %v; want 1000", cmd.Name, name, v, got, err)
				}
			}
			args := []string{cmd.Name, "--" + name, "1.5"}
			code, _, stderr := runCLI(t, args...)
			oneLine(t, args, code, stderr, `invalid value "1.5" for flag --`+name+": not an integer")
		}
	}
}

package rundir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/internal/testfs"
)

func TestPointerFiles(t *testing.T) {
	dir := t.TempDir()
	name := CheckpointName(40)
	os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
	if err := WriteLatest(dir, name); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LatestFile)); string(b) != name+"\n" {
		t.Errorf("latest holds %q", b)
	}
	if got, step, err := Latest(dir); err != nil || got != name || step != 40 {
		t.Errorf("Latest = %s, %d, %v", got, step, err)
	}
	for _, b := range []Best{{name, "loss", 0.012345678901234567}, {name, "eval_grid_units", 12}, {name, "ci", 1e-300}} {
		if err := WriteBest(dir, b); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadBest(dir); err != nil || got != b {
			t.Errorf("ReadBest = %+v, %v; want %+v", got, err, b)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != name+"\nci 1e-300\n" {
		t.Errorf("best holds %q", b)
	}
	if got, rest, err := ReadPointer(filepath.Join(dir, BestFile)); err != nil || got != name || rest != "ci 1e-300\n" {
		t.Errorf("ReadPointer(best) = %q, %q, %v", got, rest, err)
	}
}

func TestPointerErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		latest  string // the latest pointer's content
		best    string // the best pointer's content ("": the same as latest)
		want    string // in the error of ReadPointer (latest)
		latestE string // in the error of Latest ("": none)
		bestE   string // in the error of ReadBest
	}{
		{"empty", "", "", "does not name a checkpoint", "does not name", "does not name"},
		{"blank line", "\n" + CheckpointName(1) + "\n", "", "does not name a checkpoint", "does not name", "does not name"},
		{"a path", "../" + CheckpointName(1) + "\n", "", "does not name a checkpoint", "does not name", "does not name"},
		{"dot dot", "..\n", "", "does not name a checkpoint", "does not name", "does not name"},
		{"NUL", "a\x00b\n", "", "does not name a checkpoint", "does not name", "does not name"},
		{"huge", strings.Repeat("x", MaxPointerBytes+1), "", "over the limit", "over the limit", "over the limit"},
		{"not a checkpoint name", "model.safetensors\n", "model.safetensors\nloss 1\n", "", "not a checkpoint of the form step-00000000.safetensors", ""},
		{"missing file", CheckpointName(9) + "\n", CheckpointName(9) + "\nloss\n", "", "no such file", "no key and value"},
		{"bad value", CheckpointName(1) + "\n", CheckpointName(1) + "\nloss one\n", "", "", `the value of "loss" is "one", not a number`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CheckpointName(1)), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, LatestFile), []byte(c.latest), 0o644)
		best := c.best
		if best == "" {
			best = c.latest
		}
		os.WriteFile(filepath.Join(dir, BestFile), []byte(best), 0o644)
		check := func(what string, err error, want string) {
			t.Helper()
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("%s: %s: %v, want an error with %q", c.name, what, err, want)
			}
			if err != nil && (len(err.Error()) > 400 || strings.Contains(err.Error(), "\n")) {
				t.Errorf("%s: %s: error of %d bytes or more than one line: %.400q", c.name, what, len(err.Error()), err)
			}
		}
		_, _, err := ReadPointer(filepath.Join(dir, LatestFile))
		check("ReadPointer", err, c.want)
		_, _, err = Latest(dir)
		check("Latest", err, c.latestE)
		_, err = ReadBest(dir)
		check("ReadBest", err, c.bestE)
	}
	if _, _, err := Latest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("no pointer: %v", err)
	}
}

func TestResolveCheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	ck := CheckpointsPath(run)
	os.MkdirAll(ck, 0o755)
	first, newest := filepath.Join(ck, CheckpointName(2)), filepath.Join(ck, CheckpointName(4))
	os.WriteFile(first, []byte("x"), 0o644)
	os.WriteFile(newest, []byte("x"), 0o644)
	WriteLatest(ck, CheckpointName(4))
	WriteBest(ck, Best{CheckpointName(2), "loss", 1})

	// A run without a best pointer.
	plain := filepath.Join(dir, "plain")
	os.MkdirAll(CheckpointsPath(plain), 0o755)
	os.WriteFile(filepath.Join(CheckpointsPath(plain), CheckpointName(1)), []byte("x"), 0o644)
	WriteLatest(CheckpointsPath(plain), CheckpointName(1))

	// A folder of checkpoints that is not called checkpoints/.
	flat := filepath.Join(dir, "flat")
	os.MkdirAll(flat, 0o755)
	os.WriteFile(filepath.Join(flat, CheckpointName(3)), []byte("x"), 0o644)
	WriteLatest(flat, CheckpointName(3))

	// Symbolic links through a pointer: out of the run, into it.
	outside := filepath.Join(dir, "secret")
	os.WriteFile(outside, []byte("password=hunter2"), 0o644)
	escape := filepath.Join(dir, "escape")
	os.MkdirAll(CheckpointsPath(escape), 0o755)
	os.Symlink(outside, filepath.Join(CheckpointsPath(escape), CheckpointName(1)))
	WriteLatest(CheckpointsPath(escape), CheckpointName(1))
	inside := filepath.Join(dir, "inside")
	os.MkdirAll(CheckpointsPath(inside), 0o755)
	os.WriteFile(filepath.Join(inside, "model.safetensors"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(inside, "model.safetensors"), filepath.Join(CheckpointsPath(inside), CheckpointName(1)))
	WriteLatest(CheckpointsPath(inside), CheckpointName(1))
	missing := filepath.Join(dir, "missing")
	os.MkdirAll(CheckpointsPath(missing), 0o755)
	WriteLatest(CheckpointsPath(missing), CheckpointName(1))
	dangling := filepath.Join(dir, "dangling")
	os.MkdirAll(CheckpointsPath(dangling), 0o755)
	os.Symlink(filepath.Join(dir, "gone"), filepath.Join(CheckpointsPath(dangling), CheckpointName(1)))
	WriteLatest(CheckpointsPath(dangling), CheckpointName(1))

	// Pointers that are not one.
	huge := t.TempDir()
	os.WriteFile(filepath.Join(huge, LatestFile), []byte(strings.Repeat("x", 1<<20)), 0o644)
	odd := t.TempDir()
	os.WriteFile(filepath.Join(odd, LatestFile), []byte("../"+strings.Repeat("y", 3000)), 0o644)
	fifo := t.TempDir()
	testfs.FIFO(t, fifo, LatestFile)

	for _, c := range []struct {
		arg  string
		want string // the checkpoint, or "error: " and a part of the message
	}{
		{run, newest},
		{run + "/", newest},
		{ck, newest},
		{filepath.Join(ck, LatestFile), newest},
		{filepath.Join(run, LatestFile), newest},
		{filepath.Join(ck, BestFile), first},
		{filepath.Join(run, BestFile), first},
		{first, first},
		{filepath.Join(dir, "loose.safetensors~"), "error: no such file or directory"},
		{flat, filepath.Join(flat, CheckpointName(3))},
		{inside, filepath.Join(CheckpointsPath(inside), CheckpointName(1))},
		{missing, filepath.Join(CheckpointsPath(missing), CheckpointName(1))}, // the reader reports it
		{dangling, "error: is a symbolic link that cannot be followed: no such file or directory"},
		{filepath.Join(plain, BestFile), "error: has no best checkpoint (checkpoints/best); it is kept when the run trains with run.keep_best"},
		{filepath.Join(dir, "nope"), "error: checkpoint " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{filepath.Join(dir, "nope", LatestFile), "error: no such file or directory"},
		{t.TempDir(), "error: is a directory without a latest pointer"},
		{escape, "error: symbolic link to a file outside the run directory"},
		{huge, "error: over the limit"},
		{odd, "error: does not name a checkpoint"},
	} {
		got, err := ResolveCheckpoint(c.arg)
		if want, ok := strings.CutPrefix(c.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) || len(err.Error()) > 400 {
				t.Errorf("ResolveCheckpoint(%s) = %s, %.400v; want an error with %q", c.arg, got, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "password") {
				t.Errorf("ResolveCheckpoint(%s) quotes the file: %v", c.arg, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ResolveCheckpoint(%s) = %s, %v; want %s", c.arg, got, err, c.want)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := ResolveCheckpoint(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("FIFO pointer: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ResolveCheckpoint hangs on a FIFO")
	}
}

package rundir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCheckpointNameRoundTrip(t *testing.T) {
	for _, step := range []int64{0, 1, 7, 12000, 99999999, 100000000, 1<<62 + 3} {
		name := CheckpointName(step)
		if got, ok := CheckpointStep(name); !ok || got != step {
			t.Errorf("CheckpointStep(%q) = %d, %t; want %d", name, got, ok, step)
		}
		pic := EvalPictureName(step)
		if got, ok := stepOf(pic, pictureExt); !ok || got != step {
			t.Errorf("step of picture %q = %d, %t; want %d", pic, got, ok, step)
		}
		if _, ok := CheckpointStep(pic); ok {
			t.Errorf("picture %q taken for a checkpoint", pic)
		}
	}
	if CheckpointName(7) != "step-00000007.safetensors" || EvalPictureName(7) != "step-00000007.png" {
		t.Errorf("names %q, %q", CheckpointName(7), EvalPictureName(7))
	}
	for _, name := range []string{
		"", "latest", "best", "step-.safetensors", "step-7.safetensors", "step-000000007.safetensors",
		"step-+0000007.safetensors", "step--0000007.safetensors", "step-0000000x.safetensors",
		"step-00000007.safetensor", "step-00000007.safetensors.tmp-123", ".step-00000007.safetensors.tmp-1",
		"STEP-00000007.safetensors", "step-99999999999999999999.safetensors",
	} {
		if step, ok := CheckpointStep(name); ok {
			t.Errorf("CheckpointStep(%q) = %d, want no checkpoint name", name, step)
		}
	}
}

func TestListCheckpointsAndPictures(t *testing.T) {
	run := t.TempDir()
	ck, ev := CheckpointsPath(run), EvalPath(run)
	if names, err := ListCheckpoints(ck); err != nil || names != nil {
		t.Fatalf("missing folder: %v, %v", names, err)
	}
	os.MkdirAll(ck, 0o755)
	os.MkdirAll(ev, 0o755)
	for _, n := range []string{CheckpointName(100000000), CheckpointName(12), CheckpointName(3), "step-5.safetensors",
		"." + CheckpointName(13) + ".tmp-99", LatestFile, BestFile, "model.safetensors", EvalPictureName(4)} {
		os.WriteFile(filepath.Join(ck, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(ck, CheckpointName(20)), 0o755) // a folder is no checkpoint
	for _, s := range []int64{2000, 100, 40000} {
		os.WriteFile(filepath.Join(ev, EvalPictureName(s)), nil, 0o644)
	}
	os.WriteFile(filepath.Join(ev, "step-1.png"), nil, 0o644)

	names, err := ListCheckpoints(ck)
	want := []string{CheckpointName(3), CheckpointName(12), CheckpointName(100000000)}
	if err != nil || !reflect.DeepEqual(names, want) {
		t.Errorf("ListCheckpoints = %v, %v; want %v (by step)", names, err, want)
	}
	pics, err := ListEvalPictures(run)
	want = []string{EvalPictureName(100), EvalPictureName(2000), EvalPictureName(40000)}
	if err != nil || !reflect.DeepEqual(pics, want) {
		t.Errorf("ListEvalPictures = %v, %v; want %v", pics, err, want)
	}
}

func TestRunDirectoryOf(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	ck := CheckpointsPath(run)
	os.MkdirAll(ck, 0o755)
	file := filepath.Join(ck, CheckpointName(5))
	loose := filepath.Join(dir, "model.safetensors")
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	for _, c := range []struct {
		arg, resolved string
		want          string // Find
		of            string // OfCheckpoint(resolved)
	}{
		{file, file, run, run},
		{filepath.Join(ck, LatestFile), file, run, run},
		{run, file, run, run},
		{ck, file, run, run},
		{run, "", run, ""},
		{ck + "/", "", run, ""},
		{other, "", "", ""},
		{loose, loose, "", dir},
	} {
		if got := Find(c.arg, c.resolved); got != c.want {
			t.Errorf("Find(%s, %s) = %q, want %q", c.arg, c.resolved, got, c.want)
		}
		if c.resolved != "" {
			if got := OfCheckpoint(c.resolved); got != c.of {
				t.Errorf("OfCheckpoint(%s) = %q, want %q", c.resolved, got, c.of)
			}
		}
	}
	// A loose checkpoint beside a metrics.jsonl (or config.yaml) is in
	// that run.
	os.WriteFile(MetricsPath(dir), nil, 0o644)
	if got := Find(loose, loose); got != dir {
		t.Errorf("Find beside metrics.jsonl = %q", got)
	}
	os.WriteFile(ConfigPath(other), nil, 0o644)
	if got := Find(other, ""); got != other {
		t.Errorf("Find of a folder with config.yaml = %q", got)
	}
}

func TestHoldsAndSameDir(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		metrics string // "-": none
		ck      []string
		want    string
	}{
		{"empty", "-", nil, ""},
		{"empty metrics", "", nil, ""},
		{"metrics", "{\"step\":1}\n", nil, MetricsFile},
		{"empty checkpoints/", "-", []string{}, ""},
		{"checkpoints", "-", []string{LatestFile}, CheckpointDir + "/"},
		{"both", "x", []string{"anything"}, MetricsFile + " and " + CheckpointDir + "/"},
	} {
		run := filepath.Join(dir, c.name)
		os.MkdirAll(run, 0o755)
		if c.metrics != "-" {
			os.WriteFile(MetricsPath(run), []byte(c.metrics), 0o644)
		}
		if c.ck != nil {
			os.MkdirAll(CheckpointsPath(run), 0o755)
			for _, n := range c.ck {
				os.WriteFile(filepath.Join(CheckpointsPath(run), n), nil, 0o644)
			}
		}
		if got := Holds(run); got != c.want {
			t.Errorf("%s: Holds = %q, want %q", c.name, got, c.want)
		}
	}
	a := filepath.Join(dir, "both")
	link := filepath.Join(dir, "link")
	os.Symlink(a, link)
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{a, a + "/", true},
		{a, link, true},
		{a, filepath.Join(dir, "metrics"), false},
		{filepath.Join(dir, "nope"), filepath.Join(dir, ".", "nope"), true},
		{filepath.Join(dir, "nope"), filepath.Join(dir, "nope2"), false},
	} {
		if got := SameDir(c.a, c.b); got != c.want {
			t.Errorf("SameDir(%s, %s) = %t", c.a, c.b, got)
		}
	}
}

func TestReadConfig(t *testing.T) {
	run := t.TempDir()
	if _, err := ReadConfig(run); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing config.yaml: %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(ConfigPath(run), []byte("run:\n  steps: 3\n"), 0o644)
	if b, err := ReadConfig(run); err != nil || string(b) != "run:\n  steps: 3\n" {
		t.Errorf("ReadConfig = %q, %v", b, err)
	}
	os.Remove(ConfigPath(run))
	os.Mkdir(ConfigPath(run), 0o755)
	if _, err := ReadConfig(run); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("config.yaml a folder: %v", err)
	}
}

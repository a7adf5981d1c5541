package train

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/rundir"
)

// stripRunID rewrites the checkpoint at path without its run_id metadata,
// as checkpoints written before run ids are.
func stripRunID(t *testing.T, path string) {
	t.Helper()
	testutil.RewriteSafetensors(t, path, path, func(_ []data.Tensor, meta map[string]string) {
		delete(meta, "run_id")
	})
}

// stripHistoryIDs removes the run ids from dir's config-history.yaml, as a
// run started before run ids has it.
func stripHistoryIDs(t *testing.T, dir string) {
	t.Helper()
	h, err := ReadHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		h[i].RunID = ""
	}
	if err := writeHistory(dir, h); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint carries its run's id, and a resume refuses one from another
// run (issue 19 F13: copied into the run's checkpoints/ with latest
// pointing at it), naming both ids, before anything in the run directory
// changes. Checkpoints and runs from before run ids still resume.
func TestResumeRefusesAnotherRunsCheckpoint(t *testing.T) {
	useFake(t, nil)
	cases := []struct {
		name string
		// prepare returns the checkpoint to resume run D from; other is
		// another finished run.
		prepare func(t *testing.T, D, other string) string
		refused bool
	}{
		{"own checkpoint", func(t *testing.T, D, other string) string {
			return filepath.Join(D, "checkpoints", rundir.CheckpointName(4))
		}, false},
		{"another run's checkpoint copied in", func(t *testing.T, D, other string) string {
			p := filepath.Join(D, "checkpoints", rundir.CheckpointName(6))
			copyFile(t, filepath.Join(other, "checkpoints", rundir.CheckpointName(6)), p)
			if err := data.WriteFileAtomic(filepath.Join(D, "checkpoints", rundir.LatestFile), []byte(rundir.CheckpointName(6)+"\n")); err != nil {
				t.Fatal(err)
			}
			return p
		}, true},
		{"own checkpoint from before run ids", func(t *testing.T, D, other string) string {
			p := filepath.Join(D, "checkpoints", rundir.CheckpointName(4))
			stripRunID(t, p)
			return p
		}, false},
		{"run and checkpoint from before run ids", func(t *testing.T, D, other string) string {
			p := filepath.Join(D, "checkpoints", rundir.CheckpointName(4))
			stripRunID(t, p)
			stripHistoryIDs(t, D)
			return p
		}, false},
		{"run from before run ids, its own checkpoint with an id", func(t *testing.T, D, other string) string {
			stripHistoryIDs(t, D)
			return filepath.Join(D, "checkpoints", rundir.CheckpointName(4))
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			D, other := filepath.Join(root, "D"), filepath.Join(root, "other")
			cfg := testConfig(t, 4)
			if _, err := Run(context.Background(), cfg, Options{Out: D}); err != nil {
				t.Fatal(err)
			}
			oc := cfg
			oc.Run.Seed, oc.Run.Steps = 5, 6
			if _, err := Run(context.Background(), oc, Options{Out: other}); err != nil {
				t.Fatal(err)
			}
			idD, err := RunIDOf(D)
			if err != nil || idD == "" {
				t.Fatalf("run id of D: %q, %v", idD, err)
			}
			idOther, _ := RunIDOf(other)
			if idOther == "" || idOther == idD {
				t.Fatalf("run ids %q and %q: want two different ones", idD, idOther)
			}
			if ck, err := LoadCheckpoint(filepath.Join(D, "checkpoints", rundir.CheckpointName(4))); err != nil || ck.RunID != idD {
				t.Fatalf("D's checkpoint records run id %q (%v), want %q", ck.RunID, err, idD)
			}

			p := c.prepare(t, D, other)
			ck, err := LoadCheckpoint(p)
			if err != nil {
				t.Fatal(err)
			}
			before := dirSnapshot(t, D)
			c2 := ck.Config
			c2.Run.Steps = 10
			_, err = Run(context.Background(), c2, Options{Out: D, Resume: ck, ResumePath: p})
			if c.refused {
				if err == nil {
					t.Fatal("resumed from another run's checkpoint")
				}
				msg := err.Error()
				for _, w := range []string{"checkpoint " + p + " belongs to run " + idOther, "but " + D + " is run " + idD, "copied from another run"} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q lacks %q", msg, w)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error is not one line: %q", msg)
				}
				if after := dirSnapshot(t, D); after != before {
					t.Errorf("the refused resume changed D:\nbefore %s\nafter  %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			// The run goes on with one id, recorded in its history and
			// its new checkpoints.
			id, err := RunIDOf(D)
			if err != nil || id == "" {
				t.Fatalf("run id after the resume: %q, %v", id, err)
			}
			last, err := LoadCheckpoint(filepath.Join(D, "checkpoints", rundir.CheckpointName(10)))
			if err != nil || last.RunID != id {
				t.Errorf("the resumed run's checkpoint records run id %q (%v), want %q", last.RunID, err, id)
			}
			if ck.RunID != "" && id != ck.RunID {
				t.Errorf("run id %q after resuming a checkpoint of run %q", id, ck.RunID)
			}
		})
	}
}

// A resume into a new directory starts a run of its own there: a new id.
func TestResumeIntoNewDirectoryGetsNewRunID(t *testing.T) {
	useFake(t, nil)
	root := t.TempDir()
	A, B := filepath.Join(root, "A"), filepath.Join(root, "B")
	p, ck := runAndLoad(t, A, 4)
	c := ck.Config
	c.Run.Steps = 6
	if _, err := Run(context.Background(), c, Options{Out: B, Resume: ck, ResumePath: p}); err != nil {
		t.Fatal(err)
	}
	idA, _ := RunIDOf(A)
	idB, err := RunIDOf(B)
	if err != nil || idB == "" || idB == idA {
		t.Errorf("run ids: A %q, B %q (%v); want B's own", idA, idB, err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirSnapshot describes every file under dir: name, size and content hash.
func dirSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		raw, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %x\n", rel, len(raw), sha256.Sum256(raw))
		return nil
	})
	return b.String()
}

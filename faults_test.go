package main

// Cases of the fault probe in issue 19.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// F4, F18, F19: export refuses an existing --out without --overwrite,
// refuses the checkpoint itself (by any name) always, and removes the
// temporaries an export killed while writing the same file left.
func TestExportNeverDestroysCheckpoint(t *testing.T) {
	fx := newHostileFixture(t)
	orig, err := os.ReadFile(fx.ck)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(fx.dir, "link.npz")
	os.Symlink(fx.ck, link)
	hard := filepath.Join(fx.dir, "hard.npz")
	os.Link(fx.ck, hard)
	for _, args := range [][]string{
		{"export", "--checkpoint", fx.ck, "--out", fx.ck},
		{"export", "--checkpoint", fx.ck, "--out", fx.ck, "--overwrite"},
		{"export", "--checkpoint", fx.run, "--out", fx.ck, "--overwrite", "--format", "npz"},
		{"export", "--checkpoint", fx.ck, "--out", link, "--overwrite"},
		{"export", "--checkpoint", fx.ck, "--out", hard, "--overwrite"},
		{"export", "--checkpoint", fx.ck, "--out", filepath.Join(fx.run, "checkpoints", ".", filepath.Base(fx.ck)), "--overwrite"},
	} {
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, "is the checkpoint being exported")
	}
	if now, _ := os.ReadFile(fx.ck); !bytes.Equal(now, orig) {
		t.Fatal("the checkpoint changed")
	}

	out := filepath.Join(fx.dir, "model.npz")
	stale := filepath.Join(fx.dir, ".model.npz.tmp-123456")
	other := filepath.Join(fx.dir, ".other.npz.tmp-123456")
	for _, f := range []string{stale, other} {
		os.WriteFile(f, make([]byte, 100), 0o600)
		past := time.Now().Add(-time.Hour)
		os.Chtimes(f, past, past)
	}
	if code, _, stderr := runCLI(t, "export", "--checkpoint", fx.ck, "--out", out); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale temporary of model.npz survived the export")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another file's temporary was removed")
	}
	os.WriteFile(out, []byte("keep"), 0o644)
	args := []string{"export", "--checkpoint", fx.ck, "--out", out}
	code, _, stderr := runCLI(t, args...)
	oneLine(t, args, code, stderr, "--out "+out+": exists; choose another name or pass --overwrite")
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Error("the refused export replaced --out")
	}
	if code, _, stderr := runCLI(t, append(args, "--overwrite")...); code != 0 {
		t.Fatalf("export --overwrite: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) == "keep" {
		t.Error("export --overwrite left --out as it was")
	}
}

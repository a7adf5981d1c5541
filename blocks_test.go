package main

import (
	"path/filepath"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/train"
)

// TestBlocksStayBlockDiagonal trains a few steps with model.blocks = 2 and
// checks the last layer of the final checkpoint: every entry that makes an
// off-diagonal block of W(v) is exactly zero (in the weight rows and the
// bias), and the diagonal blocks have trained (they differ from a dense
// run's values would be too weak a check: they must be non-zero).
func TestBlocksStayBlockDiagonal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--blocks", "2", "--steps", "5",
		"--log-every", "1", "--checkpoint-every", "0", "--init", "identity", "--out", dir)
	if code != 0 {
		t.Fatalf("train --blocks 2: exit %d: %s", code, stderr)
	}
	f, err := data.ReadSafetensors(latestCheckpoint(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	w, b := f.Tensors["mlp.4.weight"], f.Tensors["mlp.4.bias"]
	const N, H = 32, 64 // the smoke preset
	if len(b.F32) != N*N || len(w.F32) != N*N*H {
		t.Fatalf("last layer has %d and %d values, want N*N = %d and N*N*H = %d", len(b.F32), len(w.F32), N*N, N*N*H)
	}
	var offNonZero, onNonZero int
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			r := i*N + j
			nz := b.F32[r] != 0
			for _, v := range w.F32[r*H : (r+1)*H] {
				nz = nz || v != 0
			}
			if (i < N/2) != (j < N/2) {
				if nz {
					offNonZero++
				}
			} else if nz {
				onNonZero++
			}
		}
	}
	if offNonZero != 0 {
		t.Errorf("%d entries of W(v)'s off-diagonal blocks are non-zero after training", offNonZero)
	}
	if onNonZero != N*N/2 {
		t.Errorf("%d of the %d diagonal-block entries are non-zero", onNonZero, N*N/2)
	}
	// A block count that does not divide N is refused in one line.
	code, _, stderr = runCLI(t, "train", "--preset", "smoke", "--blocks", "3", "--out", filepath.Join(t.TempDir(), "x"))
	oneLine(t, []string{"train", "--blocks", "3"}, code, stderr, "model.blocks (--blocks) = 3: must be a divisor of model.units = 32")
}

// TestBlockNormTravelsWithTheCheckpoint trains with model.block_norm and
// checks that both checkpoint readers hand analysis a model that normalises
// in the trained blocks, and that a resume cannot change the block
// structure (the tensors would then mean another network).
func TestBlockNormTravelsWithTheCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--blocks", "2", "--block-norm", "--steps", "3",
		"--log-every", "1", "--checkpoint-every", "0", "--out", dir)
	if code != 0 {
		t.Fatalf("train --blocks 2 --block-norm: exit %d: %s", code, stderr)
	}
	path, ck := loadLatest(t, dir)
	p, _, err := train.LoadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Params.NormBlocks != 2 || p.NormBlocks != 2 {
		t.Errorf("NormBlocks: LoadCheckpoint %d, LoadParams %d, want 2", ck.Params.NormBlocks, p.NormBlocks)
	}
	code, _, stderr = runCLI(t, "train", "--resume", dir, "--steps", "5", "--blocks", "4")
	oneLine(t, []string{"train", "--resume", "--blocks", "4"}, code, stderr, "--blocks/--block-norm cannot change on resume")
	code, _, stderr = runCLI(t, "train", "--resume", dir, "--steps", "5", "--block-norm=false")
	oneLine(t, []string{"train", "--resume", "--block-norm=false"}, code, stderr, "--blocks/--block-norm cannot change on resume")
}

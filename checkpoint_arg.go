package main

import (
	"archive/zip"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// checkNotExport refuses a --checkpoint that is a zip archive: what
// 'gridgpu export' writes (.npz for NumPy, .pt for PyTorch) holds the model
// tensors without the config and optimiser state of a checkpoint, and is
// not the safetensors file that analyze, loss and states read. The error
// says so and names the file to pass instead: the checkpoint of the run
// directory the export sits in (as scripts/demo.sh leaves it), or where a
// run keeps its checkpoints. Anything else is left to the checkpoint reader.
func checkNotExport(path string) error {
	// Only regular files are looked into (opening a FIFO would block);
	// the checkpoint reader reports the others.
	f, size, err := data.OpenRegular(path, "checkpoint", 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil
	}
	if m := string(magic[:]); m != "PK\x03\x04" && m != "PK\x05\x06" {
		return nil
	}
	what := "a zip archive (a NumPy .npz or PyTorch .pt file), not a safetensors checkpoint"
	if isExportedNPZ(f, size) {
		what = "a model exported by 'gridgpu export' (NumPy .npz, for Python), not a checkpoint"
	} else if ext := strings.ToLower(filepath.Ext(path)); ext == ".pt" || ext == ".pth" {
		what = "a PyTorch file (as 'gridgpu export' writes), not a checkpoint"
	}
	instead := "the checkpoint it was exported from (RUN/checkpoints/step-N.safetensors, or the run directory RUN)"
	dir := filepath.Dir(path)
	if ck, err := rundir.ResolveCheckpoint(dir); err == nil {
		instead = fmt.Sprintf("the run's checkpoint %s (or the run directory %s)", ck, dir)
	}
	return fmt.Errorf("--checkpoint %s is %s: pass %s", path, what, instead)
}

// isExportedNPZ reports whether the zip archive r holds the model tensors
// as 'gridgpu export' names them (mlp.0.weight.npy, ..., g0.npy).
func isExportedNPZ(r io.ReaderAt, size int64) bool {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return false
	}
	names := map[string]bool{}
	for i, f := range zr.File {
		if i == 64 {
			break // an export has a handful of entries
		}
		names[strings.TrimSuffix(f.Name, ".npy")] = true
	}
	for _, n := range graph.ParamNames {
		if !names[n] {
			return false
		}
	}
	return true
}

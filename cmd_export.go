package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

func exportCommand() *cli.Command {
	return newCommand("export", "write a checkpoint's model tensors to .npz (NumPy) or .pt",
		"gridgpu export --checkpoint F --out F.npz|F.pt [--format npz|pt] [--overwrite]",
		exportAction,
		checkpointFlag("(required) safetensors checkpoint `F`"),
		outFlag("(required) output `F.npz` or F.pt"),
		&cli.StringFlag{Name: "format", Usage: "`npz` or pt (default: pt when --out ends in .pt or .pth, else npz)"},
		overwriteFlag("replace --out if it exists (never the checkpoint being exported)"),
	)
}

func exportAction(c *cli.Context) error {
	if err := requireFlags(c, "checkpoint", "out"); err != nil {
		return err
	}
	out := c.String("out")
	format := c.String("format")
	if format == "" {
		format = "npz"
		if ext := strings.ToLower(filepath.Ext(out)); ext == ".pt" || ext == ".pth" {
			format = "pt"
		}
	}
	if format != "npz" && format != "pt" {
		return usagef("--format %q: want npz or pt", format)
	}
	ckpt, err := rundir.ResolveCheckpoint(c.String("checkpoint"))
	if err != nil {
		return err
	}
	if err := checkOutFile(out, c.Bool("overwrite"), "the checkpoint being exported", ckpt); err != nil {
		return err
	}
	p, _, err := train.LoadParams(ckpt)
	if err != nil {
		return err
	}
	// Temporaries of an earlier export of out that was killed
	// while writing it (one of ours now is younger).
	data.RemoveStaleTempsOf(out, data.ProcessStart)
	tensors := train.ParamTensors("", p)
	if format == "pt" {
		err = data.WriteTorch(out, tensors)
	} else {
		arrays := make([]data.Array, len(tensors))
		for i, t := range tensors {
			arrays[i] = data.Array{Name: t.Name, Shape: t.Shape, F32: t.F32}
		}
		err = data.WriteNPZ(out, arrays)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s (%s): %d tensors, N=%d, H=%d\n", out, format, len(tensors), p.N, p.H)
	return nil
}

// checkOutFile refuses an --out file that exists (unless overwrite) or
// that is one of the command's input checkpoints (always: their run could
// no longer resume), with the wording analyze and states use; what names
// the inputs in the message ("the checkpoint being exported").
func checkOutFile(out string, overwrite bool, what string, inputs ...string) error {
	lst, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	for _, in := range inputs {
		if sameFile(out, in) {
			return usagef("--out %s: is %s (%s); choose another name", out, what, in)
		}
	}
	if st, err := os.Stat(out); lst.IsDir() || (err == nil && st.IsDir()) {
		return usagef("--out %s: is a directory; give a file name", out)
	}
	if !overwrite {
		return usagef("--out %s: exists; choose another name or pass --overwrite", out)
	}
	return nil
}

// sameFile reports whether a and b are one file: by identity (through
// symlinks and hard links), else by cleaned absolute path with symlinks
// resolved.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return canonical(a) == canonical(b)
}

func canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	return filepath.Clean(p)
}

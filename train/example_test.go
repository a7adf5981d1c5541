package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

// A short run writes checkpoints into its run directory;
// rundir.ResolveCheckpoint finds the newest one (through checkpoints/latest) and LoadCheckpoint
// reads the whole training state back. Resuming from it continues the run
// exactly: the result is the same, bit for bit, as a run that was never
// stopped.
func ExampleLoadCheckpoint() {
	dir, err := os.MkdirTemp("", "gridgpu-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg, _ := train.Preset("smoke")
	cfg.Model.Units, cfg.Model.Hidden = 8, 16
	cfg.Data.BatchSize, cfg.Data.SeqLen = 4, 6
	cfg.Run.Steps, cfg.Run.CheckpointEvery = 4, 2
	run := func(out string, cfg train.Config, resume *train.Checkpoint) {
		if _, err := train.Run(context.Background(), cfg, train.Options{Out: out, Resume: resume}); err != nil {
			fmt.Println(err)
		}
	}

	split := filepath.Join(dir, "split")
	run(split, cfg, nil)
	path, err := rundir.ResolveCheckpoint(split)
	if err != nil {
		fmt.Println(err)
		return
	}
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(path))
	fmt.Printf("step %d of %d, N=%d H=%d, AdamW step %d\n", ck.Step, ck.Config.Run.Steps, ck.Params.N, ck.Params.H, ck.Opt.Step)
	// LoadParams reads only the model, as loss, export and analyze do.
	p, meta, _ := train.LoadParams(path)
	fmt.Println("model tensors as in the checkpoint:", reflect.DeepEqual(p, ck.Params), meta["format"])

	// Continue to step 8, and compare with 8 steps in one go.
	more := ck.Config
	more.Run.Steps = 8
	run(split, more, ck)
	whole := filepath.Join(dir, "whole")
	run(whole, more, nil)
	a, _ := train.LoadCheckpoint(filepath.Join(split, "checkpoints", rundir.CheckpointName(8)))
	b, _ := train.LoadCheckpoint(filepath.Join(whole, "checkpoints", rundir.CheckpointName(8)))
	fmt.Println("resumed run equals the uninterrupted one:", reflect.DeepEqual(a.Params, b.Params) && reflect.DeepEqual(a.Opt, b.Opt))
	// Output:
	// step-00000004.safetensors
	// step 4 of 4, N=8 H=16, AdamW step 4
	// model tensors as in the checkpoint: true gridgpu-checkpoint-1
	// resumed run equals the uninterrupted one: true
}

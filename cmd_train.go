package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/analysis/report"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/runlock"
	"github.com/gridgpu/gridgpu/internal/statusline"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

func trainCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML config file `FILE` (sections model, data, loss, optimizer, scheduler, run, gpu; unknown keys are errors); applied over the preset"},
		&cli.StringFlag{Name: "preset", Aliases: []string{"p"}, Value: defaultPreset, Usage: "starting configuration: " + strings.Join(train.PresetNames, ", ") + " (demo: minutes on a CPU; paper: weeks on a GPU)"},
		outFlag("run directory `DIR` for config.yaml, metrics.jsonl and checkpoints/ (default with --resume: the checkpoint's run directory)"),
		&cli.StringFlag{Name: "resume", Aliases: []string{"r"}, Usage: "continue exactly from checkpoint `F` (or a run directory: its latest checkpoint); the config comes from the checkpoint, --config and flags override it"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the effective config, the estimated memory and the time a step (a few measured steps) and the whole run take, then exit without writing anything"},
	}
	flags = append(flags, configFlags(presetDefaults(defaultPreset, train.PresetNames))...)
	return newCommand("train", "train a model: config, metrics and checkpoints in DIR",
		"gridgpu train [--preset P] [--config F] [--device cpu|cuda:N] [--steps N] [--seed S] --out DIR [hyperparameter flags]\n   gridgpu train --resume F|DIR [--steps N] [flags]\n   gridgpu train --dry-run [the same flags]",
		trainAction, flags...)
}

// trainConfig is the effective config of a train command: the preset's,
// or with --resume the checkpoint's (ck, read from resumePath), then
// --config, the flags and the GPU environment overrides, validated.
func trainConfig(c *cli.Context) (cfg train.Config, ck *train.Checkpoint, resumePath string, err error) {
	if c.IsSet("resume") {
		if c.IsSet("preset") {
			return cfg, nil, "", usagef("--preset and --resume do not mix: a resumed run takes its config from the checkpoint (override single values with flags or --config)")
		}
		if resumePath, err = rundir.ResolveCheckpoint(c.String("resume")); err != nil {
			return cfg, nil, "", err
		}
		if ck, err = train.LoadCheckpoint(resumePath); err != nil {
			return cfg, nil, "", err
		}
		cfg = ck.Config
	} else if cfg, err = train.LoadConfig(c.String("preset"), ""); err != nil {
		return cfg, nil, "", err
	}
	if f := c.String("config"); f != "" {
		// Read here rather than by LoadConfig: only regular files of
		// sane size, so that /dev/zero or a FIFO cannot hang or exhaust
		// the process.
		src, err := data.ReadRegularFile(f, "config file", data.MaxConfigBytes)
		if err != nil {
			return cfg, nil, "", err
		}
		if err := train.ApplyYAML(&cfg, src, "config file "+f); err != nil {
			return cfg, nil, "", err
		}
	}
	applyConfigFlags(c, &cfg)
	// GRIDGPU_GEMM and GRIDGPU_PAIR (debugging) override the gpu section;
	// the overridden values are what config.yaml and checkpoints record.
	notes, err := train.ApplyGPUEnv(&cfg.GPU, cfg.Run.Device, os.Getenv)
	if err != nil {
		return cfg, nil, "", err
	}
	for _, n := range notes {
		fmt.Fprintf(c.App.ErrWriter, "gridgpu: %s; config.yaml and the checkpoints record the overridden value\n", n)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, "", err
	}
	return cfg, ck, resumePath, nil
}

// trainOut is the run directory a train command writes: --out, or with
// --resume and no --out the checkpoint's run. Resuming into another run's
// directory is refused.
func trainOut(c *cli.Context, ck *train.Checkpoint, resumePath string) (string, error) {
	out := c.String("out")
	if ck != nil {
		src := rundir.OfCheckpoint(resumePath)
		if out == "" {
			out = src
		} else if !rundir.SameDir(out, src) {
			if what := rundir.Holds(out); what != "" {
				return "", usagef("--out %s already holds another run (%s); resuming %s there would rewrite that run's files: choose a new or empty --out, or leave --out out to continue in %s", out, what, resumePath, src)
			}
		}
	}
	if out == "" {
		return "", usagef("no output directory: pass --out DIR")
	}
	return out, nil
}

func trainAction(c *cli.Context) (err error) {
	cfg, ck, resumePath, err := trainConfig(c)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		var start int64
		if ck != nil {
			start = ck.Step
		}
		return dryRun(c, &cfg, start)
	}
	if err := train.CheckConfigMemory(&cfg); err != nil {
		return err
	}
	if ck != nil && (cfg.Model.Units != ck.Config.Model.Units || cfg.Model.Hidden != ck.Config.Model.Hidden) {
		return usagef("checkpoint %s holds a model with units=%d, hidden=%d; --units/--hidden cannot change on resume", resumePath, ck.Config.Model.Units, ck.Config.Model.Hidden)
	}
	if ck != nil && (cfg.Model.Blocks != ck.Config.Model.Blocks || cfg.Model.NormBlocks() != ck.Config.Model.NormBlocks()) {
		return usagef("checkpoint %s holds a model with blocks=%d, block_norm=%t; --blocks/--block-norm cannot change on resume", resumePath, ck.Config.Model.Blocks, ck.Config.Model.BlockNorm)
	}
	out, err := trainOut(c, ck, resumePath)
	if err != nil {
		return err
	}
	// One writer per run directory, locked before anything is written
	// into it: a second train or resume of the same directory is refused
	// while this one runs.
	release, err := lockRunDir(out, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer func() { release(err != nil) }()
	// Temporary files of an earlier process killed in the middle of a
	// write are garbage: no reader ever sees them.
	for _, d := range []string{out, rundir.CheckpointsPath(out)} {
		data.RemoveStaleTemps(d, data.ProcessStart)
	}

	// Stop signals (internal/stopsig): the first SIGINT, SIGTERM or SIGHUP
	// asks the loop to stop after the current step and write a checkpoint.
	// A second one aborts at once, but only when it comes a second or more
	// after the first: sooner, it is the same stop delivered twice (timeout
	// and Slurm signal the process and then its group), and it is dropped.
	stderr := c.App.ErrWriter
	ctx, stopWatching := stopContext(stderr, func(s os.Signal) {
		fmt.Fprintf(stderr, "\ngridgpu: %s: finishing the current step and writing a checkpoint (Ctrl-C again, a second or more from now, aborts)\n", stopsig.Name(s))
	}, "gridgpu: second %s: aborting without a checkpoint; the last checkpoint written is kept\n")
	defer stopWatching()
	// SIGPIPE: a closed stdout or stderr pipe (train ... | head -1) does
	// not kill the run. Writes to it fail and are ignored, so the progress
	// goes quiet while training goes on to its end or to a stop signal,
	// writing checkpoints and metrics.jsonl as ever.
	defer stopsig.KeepGoingOnBrokenPipe()()

	opt := train.Options{Out: out, Resume: ck, ResumePath: resumePath, Log: stderr, Terminal: statusline.IsTerminal(stderr), EvalPicture: report.EvalPicturePNG}
	if ck == nil {
		opt.Preset = c.String("preset")
	}
	_, err = train.Run(ctx, cfg, opt)
	var ie *train.InterruptedError
	if errors.As(err, &ie) {
		s, ok := stopSignal(ctx)
		if !ok {
			s = os.Interrupt // not stopped by a signal: as if by Ctrl-C
		}
		err = stoppedBy(s, err.Error())
	}
	return err
}

// dryRun prints the effective config with the estimated memory and run time
// as YAML comments (so the output is a config file), measuring a few steps
// on the chosen device; nothing is written.
func dryRun(c *cli.Context, cfg *train.Config, start int64) error {
	w := c.App.Writer
	steps := cfg.Run.Steps - start
	if start == 0 && cfg.Model.InitFrom != "" {
		// The model a fresh run would start from must be there and fit.
		if _, err := train.InitialParams(cfg); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "# gridgpu train --dry-run: nothing was trained or written. The effective configuration:\n")
	w.Write(cfg.YAML())
	B, T, N, H, A := cfg.Data.BatchSize, cfg.Data.SeqLen, cfg.Model.Units, cfg.Model.Hidden, cfg.Optimizer.Accumulation
	fmt.Fprintf(w, "# size: B=%d T=%d N=%d H=%d, %d microbatch(es) per step, %d steps", B, T, N, H, A, steps)
	if start > 0 {
		fmt.Fprintf(w, " (from step %d to %d)", start, cfg.Run.Steps)
	}
	fmt.Fprintln(w)
	if dev, _ := train.ParseDevice(cfg.Run.Device); dev.IsCPU() {
		est := train.EstimateMemory(B, T, N, H, A, train.UseTrain)
		have, kind := train.MachineMemory()
		line := fmt.Sprintf("# memory: about %s (largest: %s)", data.FormatBytes(est.Bytes), est.Largest)
		if have > 0 {
			line += fmt.Sprintf("; this machine has %s %s", data.FormatBytes(have), kind)
		}
		fmt.Fprintln(w, line)
		if err := train.CheckConfigMemory(cfg); err != nil {
			fmt.Fprintln(w, "# time: not measured, the run does not fit in memory")
			return err
		}
	} else {
		fmt.Fprintf(w, "# memory: not estimated for %s (the estimate is of the CPU model; the GPU's own memory holds the model)\n", cfg.Run.Device)
	}
	tm, err := train.MeasureStep(cfg, 20*time.Second)
	if err != nil {
		fmt.Fprintln(w, "# time: not measured")
		return err
	}
	how := "one measured step"
	if tm.Steps > 1 {
		how = fmt.Sprintf("median of %d measured steps after the first", tm.Steps-1)
	}
	fmt.Fprintf(w, "# time: %s a step (%s, on %s), the whole run about %s",
		train.FormatSeconds(tm.Seconds), how, tm.Device, train.FormatSeconds(tm.Seconds*float64(steps)))
	if cfg.Run.EvalEvery > 0 {
		fmt.Fprintf(w, " plus the grid evaluations")
	}
	fmt.Fprintln(w)
	preset := ""
	if start == 0 {
		preset = c.String("preset")
	}
	if note := train.SlowRunNote(tm.Seconds, steps, tm.Device, preset); note != "" {
		fmt.Fprintln(w, "# "+note)
	}
	return nil
}

// lockRunDir takes the run directory's lock (internal/runlock), creating
// the directory if it does not exist yet. The lock is held until release,
// or until the process ends (kill -9 included: the kernel lets it go).
// release(failed) with failed true also removes the directory again when
// this call created it and nothing else has been written into it, so that a
// run refused later (a bad device, say) leaves no trace.
func lockRunDir(out string, stderr io.Writer) (release func(failed bool), err error) {
	existed := false
	if st, err := os.Stat(out); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("--out %s exists and is not a directory", out)
		}
		existed = true
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	lk, err := runlock.Exclusive(out, "run directory")
	if errors.Is(err, runlock.ErrUnsupported) {
		fmt.Fprintf(stderr, "gridgpu: note: %v; nothing stops a second process from writing into this run at the same time\n", err)
	} else if err != nil {
		return nil, err
	}
	return func(failed bool) {
		if failed && !existed {
			if ents, err := os.ReadDir(out); err == nil && len(ents) == 1 && ents[0].Name() == runlock.FileName {
				// Removed while still locked, so that no other
				// process can lock the file in between.
				os.Remove(filepath.Join(out, runlock.FileName))
				os.Remove(out)
			}
		}
		lk.Release()
	}, nil
}

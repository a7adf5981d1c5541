package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// Options are the parts of a training run that are not in Config.
type Options struct {
	// Out is the run directory: config.yaml, metrics.jsonl, checkpoints/
	// (its layout is package rundir's).
	Out string
	// Resume is a checkpoint file to continue from ("" for a fresh run).
	// Its parameters, optimiser, sampler and scheduler states replace the
	// fresh ones; cfg must describe the same model (N, H).
	Resume *Checkpoint
	// ResumePath is Resume's file, for messages.
	ResumePath string
	// Log receives progress lines (os.Stderr in the CLI); nil discards.
	Log io.Writer
	// Terminal selects the live one-line progress display (\r updates);
	// otherwise plain lines are written every LogInterval.
	Terminal bool
	// LogInterval is the time between plain progress lines (default 10 s).
	LogInterval time.Duration
	// Preset names the preset the config started from, for the log.
	Preset string
	// EvalPicture, if set, draws each in-training evaluation's ratemaps
	// into Out/eval (rundir.EvalDir); a picture that fails is reported
	// once and does not stop training.
	EvalPicture PictureFunc
}

// Metrics is one line of metrics.jsonl. The field order is fixed so that
// files diff cleanly; steps_per_sec and elapsed are the only fields that
// depend on timing.
type Metrics struct {
	Step int64   `json:"step"`
	Loss float64 `json:"loss"`
	// The unweighted terms, keyed by graph.TermSpecs (written after
	// "loss"), also those with weight zero (on the CPU; the CUDA engine
	// reports 0 for a zero weight); null where a term is undefined for the
	// step's microbatches (no far or no near pairs, no step short enough
	// for conformal isometry).
	Terms       graph.TermValues `json:"-"`
	ZeroFrac    float64          `json:"zero_frac"`
	LR          float64          `json:"lr"`
	GradNorm    float64          `json:"grad_norm"`
	StepsPerSec float64          `json:"steps_per_sec"`
	Elapsed     float64          `json:"elapsed"`
	// DeadUnits counts the units zero in every state of the step's
	// microbatches; null when the engine does not report it.
	DeadUnits *int `json:"dead_units"`
	// On the first line after a resume that changed the configuration:
	// the step resumed from and each changed key, "old -> new" (run.steps
	// left out; config-history.yaml has every change).
	ResumedAt     *int64            `json:"resumed_at,omitempty"`
	ConfigChanged map[string]string `json:"config_changed,omitempty"`
	// Device is the engine's Device() on the run's first line (step 1) and
	// on each resumed_at line: on the CUDA path the GPU and the kernels the
	// gpu section resolved to, e.g. "cuda:0 (NVIDIA H200; gemm auto: cublas
	// libcublas.so.12; pair tiled)".
	Device string `json:"device,omitempty"`
	// The grid evaluation's keys, on the lines of evaluated steps only.
	*EvalMetrics
}

// metricsFields is Metrics without its JSON methods.
type metricsFields Metrics

// MarshalJSON writes the fields in order, the terms after "loss".
func (m Metrics) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(metricsFields(m))
	if err != nil {
		return nil, err
	}
	return graph.InsertTermsJSON(b, "zero_frac", func(t graph.Term) any { return m.Terms[t] })
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*metricsFields)(m)); err != nil {
		return err
	}
	var keyed map[string]json.RawMessage
	if err := json.Unmarshal(b, &keyed); err != nil {
		return err
	}
	m.Terms = graph.TermValues{}
	for t, s := range graph.TermSpecs {
		if raw, ok := keyed[s.Key]; ok {
			if err := json.Unmarshal(raw, &m.Terms[t]); err != nil {
				return fmt.Errorf("metrics: %s: %w", s.Key, err)
			}
		}
	}
	return nil
}

// Result summarises a finished (or stopped) run.
type Result struct {
	Step           int64        // optimiser steps completed in total
	StepsThisRun   int64        // of which in this invocation
	Seconds        float64      // wall time of this invocation's steps
	Last           graph.Losses // losses of the last step
	LastCheckpoint string       // newest checkpoint written ("" if none)
	// BestCheckpoint is the best checkpoint by run.keep_best ("" when it is
	// off or no step was measured yet), BestValue its key's value.
	BestCheckpoint string
	BestValue      float64
}

// InterruptedError is returned when the context is cancelled: the current
// step was finished and a checkpoint written.
type InterruptedError struct {
	Cause      string // e.g. "SIGINT"
	Step       int64
	Checkpoint string
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted by %s after step %d; checkpoint %s written; continue with: gridgpu train --resume %s", e.Cause, e.Step, e.Checkpoint, e.Checkpoint)
}

// Run trains cfg as described in the package documentation. Cancelling ctx
// stops it cleanly after the current step (see InterruptedError; the
// cancellation cause, if an error, names the signal).
func Run(ctx context.Context, cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Out == "" {
		return nil, errors.New("no output directory: pass --out DIR")
	}
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	N, H, B, T := cfg.Model.Units, cfg.Model.Hidden, cfg.Data.BatchSize, cfg.Data.SeqLen
	ckDir := rundir.CheckpointsPath(opt.Out)
	metricsPath := rundir.MetricsPath(opt.Out)

	var start int64
	if ck := opt.Resume; ck != nil {
		if ck.Params.N != N || ck.Params.H != H {
			return nil, fmt.Errorf("checkpoint %s has N=%d, H=%d; the config asks for model.units=%d, model.hidden=%d", opt.ResumePath, ck.Params.N, ck.Params.H, N, H)
		}
		start = ck.Step
		if start >= cfg.Run.Steps {
			return nil, fmt.Errorf("checkpoint %s is at step %d, and run.steps (--steps) = %d: nothing to do; raise --steps to continue", opt.ResumePath, start, cfg.Run.Steps)
		}
	}
	// The run's id goes into its history and every checkpoint; a resume
	// goes on with the run directory's and refuses another run's
	// checkpoint (resumeRunID).
	runID := NewRunID()
	if opt.Resume != nil {
		var err error
		if runID, err = resumeRunID(opt.Out, opt.ResumePath, opt.Resume); err != nil {
			return nil, err
		}
	}
	// metrics.jsonl is read for a resume before anything is written: a
	// damaged line refuses the resume with the run directory as it was.
	var trim *metricsTrim
	if opt.Resume != nil {
		var err error
		if trim, err = readMetricsForResume(opt.Out, start, &opt.Resume.Config); err != nil {
			return nil, err
		}
	}

	// The engine comes first: a bad device should fail before any file is
	// written.
	init := graph.InitParamsSpec(N, H, cfg.Run.Seed, cfg.Model.InitSpec())
	if opt.Resume != nil {
		init = opt.Resume.Params
	}
	dev, err := ParseDevice(cfg.Run.Device)
	if err != nil {
		return nil, err
	}
	eng, err := NewEngine(EngineSpec{Device: dev, B: B, T: T, N: N, H: H, Loss: cfg.Loss, Opt: cfg.OptConfig(), Init: init, GPU: cfg.GPU, Blocks: cfg.Model.Blocks})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	if opt.Resume == nil {
		if err := checkFreshOut(opt.Out); err != nil {
			return nil, err
		}
	}
	sampler, err := cfg.Data.NewSampler(cfg.Run.Seed)
	if err != nil {
		return nil, err
	}
	sched := NewPlateau(&cfg)
	elapsedBefore := 0.0
	if ck := opt.Resume; ck != nil {
		if err := eng.SetOptState(ck.Opt); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", opt.ResumePath, err)
		}
		if err := sampler.SetState(ck.SamplerState); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", opt.ResumePath, err)
		}
		// Progress (best loss, patience count, current window, current
		// learning rate) comes from the checkpoint; the settings from the
		// effective config, so they can be changed on resume. A changed
		// optimizer.lr restarts the learning rate from the new value.
		s := *ck.Scheduler
		s.Enabled, s.Factor, s.Patience, s.Window, s.MinLR, s.Threshold, s.DecayStep = sched.Enabled, sched.Factor, sched.Patience, sched.Window, sched.MinLR, sched.Threshold, sched.DecayStep
		if ck.Config.Optimizer.LR != cfg.Optimizer.LR {
			s.LR = cfg.Optimizer.LR
		}
		if len(s.Losses) >= s.Window {
			s.Losses = s.Losses[:0]
		}
		sched = &s
		elapsedBefore = ck.Elapsed
	}

	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		return nil, err
	}
	header := "# Effective configuration of this run (gridgpu train --config this-file reproduces it).\n"
	var changes map[string]string
	if ck := opt.Resume; ck != nil {
		header = fmt.Sprintf("# Effective configuration of this run since step %d, where it was resumed; %s\n# holds the configuration of every part of the run and what changed.\n", start, rundir.HistoryFile)
		changes = ConfigChanges(&ck.Config, &cfg)
		if err := appendHistory(opt.Out, HistoryEntry{Step: start, Event: "resume", From: opt.ResumePath, Changes: changes, Config: cfg, RunID: runID}, &ck.Config); err != nil {
			return nil, err
		}
	} else if err := writeHistory(opt.Out, []HistoryEntry{{Step: 0, Event: "start", Config: cfg, RunID: runID}}); err != nil {
		return nil, err
	}
	cfgText := append([]byte(header), cfg.YAML()...)
	if err := data.WriteFileAtomic(rundir.ConfigPath(opt.Out), cfgText); err != nil {
		return nil, err
	}
	if opt.Resume != nil {
		if err := trim.apply(metricsPath, logw); err != nil {
			return nil, err
		}
	} else if err := os.WriteFile(metricsPath, nil, 0o644); err != nil {
		return nil, err
	}
	// The best checkpoint so far (run.keep_best), from the pointer or
	// metrics.jsonl of a resumed run.
	best, bestNote, err := restoreBest(opt.Out, cfg.Run.KeepBest, start)
	if err != nil {
		return nil, fmt.Errorf("the best checkpoint (run.keep_best): %w", err)
	}
	// The first metrics line after a resume names what the resume changed
	// (run.steps aside: every resume that continues a finished run sets it).
	var pendingResume *int64
	pendingChanges := map[string]string{}
	for k, v := range changes {
		if k != "run.steps" {
			pendingChanges[k] = v
		}
	}
	if len(pendingChanges) > 0 {
		pendingResume = &start
	}
	mf, err := os.OpenFile(metricsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()

	res := &Result{Step: start}
	if opt.Resume != nil {
		res.LastCheckpoint = opt.ResumePath
	}
	what := "training"
	if opt.Preset != "" {
		what += " (preset " + opt.Preset + ")"
	}
	if start > 0 {
		fmt.Fprintf(logw, "resuming %s from %s at step %d of %d: B=%d T=%d N=%d H=%d on %s, writing %s\n", what, opt.ResumePath, start, cfg.Run.Steps, B, T, N, H, eng.Device(), opt.Out)
	} else {
		fmt.Fprintf(logw, "%s: %d steps, B=%d T=%d N=%d H=%d, %d microbatch(es) per step, on %s, writing %s\n", what, cfg.Run.Steps, B, T, N, H, cfg.Optimizer.Accumulation, eng.Device(), opt.Out)
	}
	if bestNote != "" {
		fmt.Fprintln(logw, bestNote)
	}
	prog := newProgress(logw, opt.Terminal, opt.LogInterval, start, cfg.Run.Steps)

	// newBest is the value of run.keep_best's key at the current step when
	// it beats the best so far: that step gets a checkpoint, and the best
	// pointer moves to it.
	var newBest *float64

	checkpoint := func(step int64, elapsed float64) (string, error) {
		p, err := eng.Params()
		if err != nil {
			return "", err
		}
		st, err := eng.OptState()
		if err != nil {
			return "", err
		}
		ss, err := sampler.State()
		if err != nil {
			return "", err
		}
		sc := *sched
		sc.Losses = append([]float64(nil), sched.Losses...)
		path, err := commitCheckpoint(ckDir, &Checkpoint{Config: cfg, Step: step, Params: p, Opt: st, SamplerState: ss, Scheduler: &sc, Elapsed: elapsed, RunID: runID}, cfg.Run.KeepCheckpoints, best, newBest)
		if err != nil {
			return "", fmt.Errorf("step %d: writing checkpoint: %w", step, err)
		}
		return path, nil
	}

	t0 := time.Now()
	lastLogT, lastLogStep := t0, start
	step := start
	batches := make([]*data.Batch, cfg.Optimizer.Accumulation)
	lastCkStep := start
	evalStep := func(s int64) bool {
		e := int64(cfg.Run.EvalEvery)
		return e > 0 && (s%e == 0 || s == cfg.Run.Steps)
	}
	logStep := func(s int64) bool {
		return s%int64(cfg.Run.LogEvery) == 0 || s == 1 || s == cfg.Run.Steps || evalStep(s)
	}
	allTerms, _ := eng.(AllTermser)
	pictureFailed := false
	for step < cfg.Run.Steps {
		if ctx.Err() != nil {
			return res, interrupted(ctx, step, res, lastCkStep, checkpoint, elapsedBefore+time.Since(t0).Seconds(), prog)
		}
		for i := range batches {
			batches[i] = sampler.Next()
		}
		lr := sched.LRFor(step + 1)
		if allTerms != nil {
			// Every unweighted term, also those with weight zero, on the
			// steps that are logged only.
			allTerms.SetAllTerms(logStep(step + 1))
		}
		stepT0 := time.Now()
		st, err := eng.Step(batches, lr)
		stepSecs := time.Since(stepT0).Seconds()
		if err != nil {
			prog.finish()
			where := "no checkpoint has been written"
			if res.LastCheckpoint != "" {
				where = "the last good checkpoint is " + res.LastCheckpoint
			}
			return res, fmt.Errorf("step %d: %w; training stopped, %s", step+1, err, where)
		}
		step++
		res.Step, res.StepsThisRun, res.Last = step, step-start, st.Losses
		sched.Observe(st.Losses.Total)
		now := time.Now()
		elapsed := elapsedBefore + now.Sub(t0).Seconds()
		var ev *EvalMetrics
		if evalStep(step) {
			p, err := eng.Params()
			if err == nil {
				ev, err = Evaluate(ctx, p, &cfg)
			}
			if err != nil {
				prog.finish()
				return res, fmt.Errorf("step %d: %w", step, err)
			}
			prog.setEval(ev.GridUnits, N)
			if opt.EvalPicture != nil && !pictureFailed {
				if err := writeEvalPicture(opt.EvalPicture, opt.Out, step, ev); err != nil {
					pictureFailed = true
					prog.finish()
					fmt.Fprintf(logw, "warning: step %d: evaluation picture not written (%v); training goes on without pictures\n", step, err)
				}
			}
		}
		if logStep(step) {
			sps := float64(step-lastLogStep) / now.Sub(lastLogT).Seconds()
			lastLogT, lastLogStep = now, step
			if ev != nil {
				// The evaluation's time is not training time.
				lastLogT = time.Now()
			}
			l := st.Losses
			var dead *int
			if st.DeadUnits >= 0 {
				dead = &st.DeadUnits
			}
			m := Metrics{Step: step, Loss: l.Total,
				ZeroFrac: l.ZeroFrac, LR: lr, GradNorm: st.GradNorm, StepsPerSec: sps, Elapsed: elapsed, DeadUnits: dead, EvalMetrics: ev}
			for t := range l.Term {
				m.Terms[t] = &l.Term[t]
			}
			if st.Terms != nil {
				m.Terms = *st.Terms
			}
			if step == 1 {
				m.Device = eng.Device()
			}
			if pendingResume != nil {
				m.ResumedAt, m.ConfigChanged, m.Device = pendingResume, pendingChanges, eng.Device()
				pendingResume = nil
			}
			line, err := json.Marshal(m)
			if err != nil {
				return res, fmt.Errorf("step %d: metrics: %w", step, err)
			}
			if _, err := mf.Write(append(line, '\n')); err != nil {
				return res, fmt.Errorf("step %d: writing %s: %w", step, metricsPath, err)
			}
			if best != nil {
				if v, ok := metricValue(line, best.key); ok && best.better(v) {
					newBest = &v
				}
			}
		}
		if step == start+2 {
			// From the second step's time (the first warms the engine up):
			// a run of more than a day says so, once, at its start.
			if note := SlowRunNote(stepSecs, cfg.Run.Steps-start, eng.Device(), opt.Preset); note != "" {
				prog.finish()
				fmt.Fprintln(logw, note)
			}
		}
		prog.update(step, st.Losses, lr, now)
		if (cfg.Run.CheckpointEvery > 0 && step%int64(cfg.Run.CheckpointEvery) == 0) || step == cfg.Run.Steps || newBest != nil {
			path, err := checkpoint(step, elapsed)
			newBest = nil
			if err != nil {
				prog.finish()
				return res, err
			}
			res.LastCheckpoint, lastCkStep = path, step
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	prog.finish()
	bestText := ""
	if best != nil && best.name != "" {
		res.BestCheckpoint, res.BestValue = filepath.Join(ckDir, best.name), best.value
		bestText = fmt.Sprintf("; best checkpoint by %s: %s (%.6g, step %d)", best.key, res.BestCheckpoint, best.value, best.step)
	}
	fmt.Fprintf(logw, "done: step %d, loss %.6g, %.3g steps/s, checkpoint %s%s\n", step, res.Last.Total, float64(res.StepsThisRun)/res.Seconds, res.LastCheckpoint, bestText)
	return res, nil
}

// interrupted writes a checkpoint of the state after the last completed step
// (unless one was just written) and builds the error.
func interrupted(ctx context.Context, step int64, res *Result, lastCkStep int64, checkpoint func(int64, float64) (string, error), elapsed float64, prog *progress) error {
	prog.finish()
	cause := "a stop request"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		cause = c.Error()
	}
	if step != lastCkStep || res.LastCheckpoint == "" {
		path, err := checkpoint(step, elapsed)
		if err != nil {
			return fmt.Errorf("interrupted by %s after step %d, and the checkpoint failed: %w", cause, step, err)
		}
		res.LastCheckpoint = path
	}
	return &InterruptedError{Cause: cause, Step: step, Checkpoint: res.LastCheckpoint}
}

// checkFreshOut refuses to start a new run over an existing one.
func checkFreshOut(out string) error {
	if st, err := os.Stat(out); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s exists and is not a directory", out)
	}
	names, err := rundir.ListCheckpoints(rundir.CheckpointsPath(out))
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%s already holds a training run (%s); continue it with --resume %s, or choose another --out", out, filepath.Join(rundir.CheckpointDir, names[len(names)-1]), out)
	}
	if st, err := os.Stat(rundir.MetricsPath(out)); err == nil && st.Size() > 0 {
		return fmt.Errorf("%s already holds %s from another run; remove it or choose another --out", out, rundir.MetricsFile)
	}
	return nil
}

// metricsTrim is what a resume makes of metrics.jsonl (readMetricsForResume):
// the file's new content, and whether it changed.
type metricsTrim struct {
	keep    []byte
	changed bool
	// cut is the length of a last line cut short by a crash (no end of
	// line, not a record) that is dropped; 0 when there was none.
	cut int
}

// readMetricsForResume reads the run directory out's metrics.jsonl for a
// resume from step and works out its new content (see metricsTrim.apply);
// it writes nothing.
//
// Lines after step (written by a run that went on past the checkpoint
// being resumed) are dropped, so the file reads as one run. The line at
// step itself is dropped too where only the end of the earlier run (whose
// config is prev) put it there: step is not a logging step had that run
// gone on. And an evaluation made only because step was the earlier run's
// last is taken off its line. The file then reads as the uninterrupted
// run's.
//
// Lines are records and are never dropped for being unreadable: a line
// that is not a metrics record (garbage, a line damaged in the middle of
// the file) refuses the resume, naming the file and the line, with nothing
// changed. The one exception is the last line when it has no end of line
// and does not parse: a write cut short by a crash, which is dropped (cut
// says how many bytes; rundir.ReadMetrics). Blank lines hold nothing and
// are dropped.
func readMetricsForResume(out string, step int64, prev *Config) (*metricsTrim, error) {
	mf, err := rundir.ReadMetrics(out, rundir.MetricsOptions{MissingOK: true})
	if err != nil {
		return nil, err
	}
	evalStep := prev.Run.EvalEvery > 0 && step%int64(prev.Run.EvalEvery) == 0
	logStep := step%int64(max(prev.Run.LogEvery, 1)) == 0 || step == 1 || evalStep
	t := &metricsTrim{cut: mf.Cut}
	refuse := func(err error) error {
		return fmt.Errorf("%v; nothing was changed: repair or remove that line (or move the file aside) and resume again", err)
	}
	var keep bytes.Buffer
	for _, l := range mf.Lines {
		if l.Err != nil {
			return nil, refuse(l.Err)
		}
		var m struct {
			Eval *int64 `json:"eval_grid_units"`
		}
		if err := json.Unmarshal(l.Text, &m); err != nil {
			return nil, refuse(mf.NotRecord(l, err))
		}
		if l.Step > step || l.Step == step && !logStep {
			continue
		}
		line := l.Text
		if l.Step == step && m.Eval != nil && !evalStep {
			var full Metrics
			if err := json.Unmarshal(line, &full); err != nil {
				return nil, fmt.Errorf("%s line %d: %v; nothing was changed: repair or remove that line (or move the file aside) and resume again", mf.Path, l.N, err)
			}
			full.EvalMetrics = nil
			if line, err = json.Marshal(full); err != nil {
				return nil, err
			}
		}
		keep.Write(line)
		keep.WriteByte('\n')
	}
	t.keep = keep.Bytes()
	t.changed = !bytes.Equal(t.keep, mf.Raw)
	return t, nil
}

// apply writes the new content of metrics.jsonl (atomically) where it
// changed, and says on logw when a cut-short last line was dropped.
func (t *metricsTrim) apply(path string, logw io.Writer) error {
	if t == nil || !t.changed {
		return nil
	}
	if err := data.WriteFileAtomic(path, t.keep); err != nil {
		return err
	}
	if t.cut > 0 {
		fmt.Fprintf(logw, "%s: dropped its last line, %d bytes without an end of line that are not a metrics record: a write cut short when the run was stopped\n", path, t.cut)
	}
	return nil
}

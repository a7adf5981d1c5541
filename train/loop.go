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
	"github.com/gridgpu/gridgpu/internal/stopsig"
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
	return graph.MarshalTermsJSON(metricsFields(m), "zero_frac", func(t graph.Term) any { return m.Terms[t] })
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
//
// Its parts, in order: newTrainer checks the run and reads what a resume
// needs, writing nothing; startEngine builds the engine (a bad device
// fails before any file is written); newState and resume set up the
// sampler and scheduler, from the checkpoint on a resume; writeRunFiles
// writes the run directory's history, config.yaml and metrics.jsonl;
// begin starts the clock; trainStep takes each step, evaluated (evaluate),
// logged (logMetrics) and checkpointed (checkpointIfDue) as the config
// says; end closes a finished run, interrupted a stopped one.
func Run(ctx context.Context, cfg Config, opt Options) (*Result, error) {
	r, err := newTrainer(cfg, opt)
	if err != nil {
		return nil, err
	}
	if err := r.startEngine(); err != nil {
		return nil, err
	}
	defer r.eng.Close()
	if opt.Resume == nil {
		if err := checkFreshOut(opt.Out); err != nil {
			return nil, err
		}
	}
	if err := r.newState(); err != nil {
		return nil, err
	}
	if err := r.resume(); err != nil {
		return nil, err
	}
	if err := r.writeRunFiles(); err != nil {
		return nil, err
	}
	defer r.mf.Close()
	r.begin()
	for r.step < r.cfg.Run.Steps {
		stopsig.Yield()
		if ctx.Err() != nil {
			return r.res, r.interrupted(ctx)
		}
		if err := r.trainStep(ctx); err != nil {
			return r.res, err
		}
	}
	r.end()
	return r.res, nil
}

// trainer is the state of one Run.
type trainer struct {
	cfg  Config
	opt  Options
	logw io.Writer

	ckDir, metricsPath string
	start              int64        // the step resumed from; 0 for a fresh run
	runID              string       // the run's id (NewRunID, resumeRunID)
	trim               *metricsTrim // metrics.jsonl's new content on a resume

	eng           Engine
	allTerms      AllTermser // eng, where it computes every term on request
	sampler       *data.Sampler
	sched         *Plateau
	elapsedBefore float64 // training seconds before this invocation

	// best is the best checkpoint so far (run.keep_best; nil when off).
	// newBest is the value of its key at the current step when it beats
	// the best so far: that step gets a checkpoint, and the best pointer
	// moves to it.
	best     *bestTracker
	bestNote string
	newBest  *float64
	// changes are what a resume changed; the first metrics line after the
	// resume names them (pendingChanges, run.steps aside), at pendingResume.
	changes        map[string]string
	pendingResume  *int64
	pendingChanges map[string]string
	mf             *os.File // metrics.jsonl, appended to

	res           *Result
	prog          *progress
	batches       []*data.Batch
	step          int64 // optimiser steps completed
	t0, lastLogT  time.Time
	lastLogStep   int64
	lastCkStep    int64
	pictureFailed bool
}

// newTrainer checks cfg and opt and reads what a resume needs (the run id,
// the new content of metrics.jsonl); it writes nothing.
func newTrainer(cfg Config, opt Options) (*trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Out == "" {
		return nil, errors.New("no output directory: pass --out DIR")
	}
	r := &trainer{cfg: cfg, opt: opt, logw: opt.Log, ckDir: rundir.CheckpointsPath(opt.Out), metricsPath: rundir.MetricsPath(opt.Out)}
	if r.logw == nil {
		r.logw = io.Discard
	}
	N, H := cfg.Model.Units, cfg.Model.Hidden
	if ck := opt.Resume; ck != nil {
		if ck.Params.N != N || ck.Params.H != H {
			return nil, fmt.Errorf("checkpoint %s has N=%d, H=%d; the config asks for model.units=%d, model.hidden=%d", opt.ResumePath, ck.Params.N, ck.Params.H, N, H)
		}
		r.start = ck.Step
		if r.start >= cfg.Run.Steps {
			return nil, fmt.Errorf("checkpoint %s is at step %d, and run.steps (--steps) = %d: nothing to do; raise --steps to continue", opt.ResumePath, r.start, cfg.Run.Steps)
		}
	}
	// The run's id goes into its history and every checkpoint; a resume
	// goes on with the run directory's and refuses another run's
	// checkpoint (resumeRunID).
	r.runID = NewRunID()
	if opt.Resume != nil {
		var err error
		if r.runID, err = resumeRunID(opt.Out, opt.ResumePath, opt.Resume); err != nil {
			return nil, err
		}
		// metrics.jsonl is read for a resume before anything is
		// written: a damaged line refuses the resume with the run
		// directory as it was.
		if r.trim, err = readMetricsForResume(opt.Out, r.start, &opt.Resume.Config); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// startEngine builds the engine, with the checkpoint's parameters on a
// resume.
func (r *trainer) startEngine() error {
	c := &r.cfg
	N, H := c.Model.Units, c.Model.Hidden
	var init *graph.Params
	if r.opt.Resume != nil {
		init = r.opt.Resume.Params
	} else {
		var err error
		if init, err = InitialParams(c); err != nil {
			return err
		}
	}
	dev, err := ParseDevice(c.Run.Device)
	if err != nil {
		return err
	}
	r.eng, err = NewEngine(EngineSpec{Device: dev, B: c.Data.BatchSize, T: c.Data.SeqLen, N: N, H: H, Loss: c.Loss, Opt: c.OptConfig(), Init: init, GPU: c.GPU, Blocks: c.Model.Blocks, VelocitySets: c.Data.VelocitySets})
	if err != nil {
		return err
	}
	r.allTerms, _ = r.eng.(AllTermser)
	return nil
}

// newState makes a fresh run's sampler and scheduler.
func (r *trainer) newState() error {
	var err error
	if r.sampler, err = r.cfg.Data.NewSampler(r.cfg.Run.Seed); err != nil {
		return err
	}
	r.sched = NewPlateau(&r.cfg)
	return nil
}

// resume puts the checkpoint's optimiser, sampler and scheduler state and
// its training time in place of the fresh ones (nothing for a fresh run).
func (r *trainer) resume() error {
	ck := r.opt.Resume
	if ck == nil {
		return nil
	}
	if err := r.eng.SetOptState(ck.Opt); err != nil {
		return fmt.Errorf("checkpoint %s: %w", r.opt.ResumePath, err)
	}
	if err := r.sampler.SetState(ck.SamplerState); err != nil {
		return fmt.Errorf("checkpoint %s: %w", r.opt.ResumePath, err)
	}
	// Progress (best loss, patience count, current window, current
	// learning rate) comes from the checkpoint; the settings from the
	// effective config, so they can be changed on resume. A changed
	// optimizer.lr restarts the learning rate from the new value.
	s, sched := *ck.Scheduler, r.sched
	s.Enabled, s.Factor, s.Patience, s.Window, s.MinLR, s.Threshold, s.DecayStep = sched.Enabled, sched.Factor, sched.Patience, sched.Window, sched.MinLR, sched.Threshold, sched.DecayStep
	if ck.Config.Optimizer.LR != r.cfg.Optimizer.LR {
		s.LR = r.cfg.Optimizer.LR
	}
	if len(s.Losses) >= s.Window {
		s.Losses = s.Losses[:0]
	}
	r.sched = &s
	r.elapsedBefore = ck.Elapsed
	return nil
}

// writeRunFiles writes the run directory: checkpoints/, the history and
// config.yaml, metrics.jsonl (trimmed on a resume, empty for a fresh run,
// then open for appending), and sets up the best checkpoint so far.
func (r *trainer) writeRunFiles() error {
	cfg, out := &r.cfg, r.opt.Out
	if err := os.MkdirAll(r.ckDir, 0o755); err != nil {
		return err
	}
	header := "# Effective configuration of this run (gridgpu train --config this-file reproduces it).\n"
	if ck := r.opt.Resume; ck != nil {
		header = fmt.Sprintf("# Effective configuration of this run since step %d, where it was resumed; %s\n# holds the configuration of every part of the run and what changed.\n", r.start, rundir.HistoryFile)
		r.changes = ConfigChanges(&ck.Config, cfg)
		if err := appendHistory(out, HistoryEntry{Step: r.start, Event: "resume", From: r.opt.ResumePath, Changes: r.changes, Config: *cfg, RunID: r.runID}, &ck.Config); err != nil {
			return err
		}
	} else if err := writeHistory(out, []HistoryEntry{{Step: 0, Event: "start", Config: *cfg, RunID: r.runID}}); err != nil {
		return err
	}
	cfgText := append([]byte(header), cfg.YAML()...)
	if err := data.WriteFileAtomic(rundir.ConfigPath(out), cfgText); err != nil {
		return err
	}
	if r.opt.Resume != nil {
		if err := r.trim.apply(r.metricsPath, r.logw); err != nil {
			return err
		}
	} else if err := os.WriteFile(r.metricsPath, nil, 0o644); err != nil {
		return err
	}
	// The best checkpoint so far (run.keep_best), from the pointer or
	// metrics.jsonl of a resumed run.
	var err error
	if r.best, r.bestNote, err = restoreBest(out, cfg.Run.KeepBest, r.start); err != nil {
		return fmt.Errorf("the best checkpoint (run.keep_best): %w", err)
	}
	// The first metrics line after a resume names what the resume changed
	// (run.steps aside: every resume that continues a finished run sets it).
	r.pendingChanges = map[string]string{}
	for k, v := range r.changes {
		if k != "run.steps" {
			r.pendingChanges[k] = v
		}
	}
	if len(r.pendingChanges) > 0 {
		r.pendingResume = &r.start
	}
	r.mf, err = os.OpenFile(r.metricsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	return err
}

// begin says what the run is about to do and starts the clock.
func (r *trainer) begin() {
	cfg := &r.cfg
	B, T, N, H := cfg.Data.BatchSize, cfg.Data.SeqLen, cfg.Model.Units, cfg.Model.Hidden
	r.res = &Result{Step: r.start}
	if r.opt.Resume != nil {
		r.res.LastCheckpoint = r.opt.ResumePath
	}
	what := "training"
	if r.opt.Preset != "" {
		what += " (preset " + r.opt.Preset + ")"
	}
	if r.start > 0 {
		fmt.Fprintf(r.logw, "resuming %s from %s at step %d of %d: B=%d T=%d N=%d H=%d on %s, writing %s\n", what, r.opt.ResumePath, r.start, cfg.Run.Steps, B, T, N, H, r.eng.Device(), r.opt.Out)
	} else {
		fmt.Fprintf(r.logw, "%s: %d steps, B=%d T=%d N=%d H=%d, %d microbatch(es) per step, on %s, writing %s\n", what, cfg.Run.Steps, B, T, N, H, cfg.Optimizer.Accumulation, r.eng.Device(), r.opt.Out)
	}
	if r.bestNote != "" {
		fmt.Fprintln(r.logw, r.bestNote)
	}
	r.prog = newProgress(r.logw, r.opt.Terminal, r.opt.LogInterval, r.start, cfg.Run.Steps)
	r.t0 = time.Now()
	r.lastLogT, r.lastLogStep = r.t0, r.start
	r.step, r.lastCkStep = r.start, r.start
	r.batches = make([]*data.Batch, cfg.Optimizer.Accumulation)
}

// evalStep reports whether step s is evaluated.
func (r *trainer) evalStep(s int64) bool {
	e := int64(r.cfg.Run.EvalEvery)
	return e > 0 && (s%e == 0 || s == r.cfg.Run.Steps)
}

// logStep reports whether step s writes a metrics line.
func (r *trainer) logStep(s int64) bool {
	return s%int64(r.cfg.Run.LogEvery) == 0 || s == 1 || s == r.cfg.Run.Steps || r.evalStep(s)
}

// trainStep takes one optimiser step and evaluates, logs and checkpoints
// it as due.
func (r *trainer) trainStep(ctx context.Context) error {
	for i := range r.batches {
		r.batches[i] = r.sampler.Next()
	}
	lr := r.sched.LRFor(r.step + 1)
	if r.allTerms != nil {
		// Every unweighted term, also those with weight zero, on the
		// steps that are logged only.
		r.allTerms.SetAllTerms(r.logStep(r.step + 1))
	}
	stepT0 := time.Now()
	st, err := r.eng.Step(r.batches, lr)
	stepSecs := time.Since(stepT0).Seconds()
	if err != nil {
		r.prog.finish()
		where := "no checkpoint has been written"
		if r.res.LastCheckpoint != "" {
			where = "the last good checkpoint is " + r.res.LastCheckpoint
		}
		return fmt.Errorf("step %d: %w; training stopped, %s", r.step+1, err, where)
	}
	r.step++
	step := r.step
	r.res.Step, r.res.StepsThisRun, r.res.Last = step, step-r.start, st.Losses
	r.sched.Observe(st.Losses.Total)
	now := time.Now()
	elapsed := r.elapsedBefore + now.Sub(r.t0).Seconds()
	ev, err := r.evaluate(ctx)
	if err != nil {
		return err
	}
	if r.logStep(step) {
		if err := r.logMetrics(st, lr, now, elapsed, ev); err != nil {
			return err
		}
	}
	if step == r.start+2 {
		// From the second step's time (the first warms the engine up):
		// a run of more than a day says so, once, at its start.
		if note := SlowRunNote(stepSecs, r.cfg.Run.Steps-r.start, r.eng.Device(), r.opt.Preset); note != "" {
			r.prog.finish()
			fmt.Fprintln(r.logw, note)
		}
	}
	r.prog.update(step, st.Losses, lr, now)
	return r.checkpointIfDue(elapsed)
}

// evaluate runs the grid evaluation after the current step where it is
// due (nil metrics where it is not), and draws its picture.
func (r *trainer) evaluate(ctx context.Context) (*EvalMetrics, error) {
	step := r.step
	if !r.evalStep(step) {
		return nil, nil
	}
	p, err := r.eng.Params()
	var ev *EvalMetrics
	if err == nil {
		ev, err = Evaluate(ctx, p, &r.cfg)
	}
	if err != nil {
		r.prog.finish()
		return nil, fmt.Errorf("step %d: %w", step, err)
	}
	r.prog.setEval(ev.GridUnits, r.cfg.Model.Units)
	if r.opt.EvalPicture != nil && !r.pictureFailed {
		if err := writeEvalPicture(r.opt.EvalPicture, r.opt.Out, step, ev); err != nil {
			r.pictureFailed = true
			r.prog.finish()
			fmt.Fprintf(r.logw, "warning: step %d: evaluation picture not written (%v); training goes on without pictures\n", step, err)
		}
	}
	return ev, nil
}

// logMetrics appends the current step's line to metrics.jsonl (with ev,
// the step's evaluation, when not nil) and notes a new best.
func (r *trainer) logMetrics(st StepStats, lr float64, now time.Time, elapsed float64, ev *EvalMetrics) error {
	step := r.step
	sps := float64(step-r.lastLogStep) / now.Sub(r.lastLogT).Seconds()
	r.lastLogT, r.lastLogStep = now, step
	if ev != nil {
		// The evaluation's time is not training time.
		r.lastLogT = time.Now()
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
		m.Device = r.eng.Device()
	}
	if r.pendingResume != nil {
		m.ResumedAt, m.ConfigChanged, m.Device = r.pendingResume, r.pendingChanges, r.eng.Device()
		r.pendingResume = nil
	}
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("step %d: metrics: %w", step, err)
	}
	if _, err := r.mf.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("step %d: writing %s: %w", step, r.metricsPath, err)
	}
	if r.best != nil {
		if v, ok := metricValue(line, r.best.key); ok && r.best.better(v) {
			r.newBest = &v
		}
	}
	return nil
}

// checkpointIfDue writes a checkpoint of the current step where
// run.checkpoint_every, the run's last step or a new best asks for one.
func (r *trainer) checkpointIfDue(elapsed float64) error {
	step, every := r.step, int64(r.cfg.Run.CheckpointEvery)
	if !(every > 0 && step%every == 0 || step == r.cfg.Run.Steps || r.newBest != nil) {
		return nil
	}
	path, err := r.checkpoint(step, elapsed)
	r.newBest = nil
	if err != nil {
		r.prog.finish()
		return err
	}
	r.res.LastCheckpoint, r.lastCkStep = path, step
	return nil
}

// checkpoint commits the training state after step (commitCheckpoint).
func (r *trainer) checkpoint(step int64, elapsed float64) (string, error) {
	p, err := r.eng.Params()
	if err != nil {
		return "", err
	}
	st, err := r.eng.OptState()
	if err != nil {
		return "", err
	}
	ss, err := r.sampler.State()
	if err != nil {
		return "", err
	}
	sc := *r.sched
	sc.Losses = append([]float64(nil), r.sched.Losses...)
	path, err := commitCheckpoint(r.ckDir, &Checkpoint{Config: r.cfg, Step: step, Params: p, Opt: st, SamplerState: ss, Scheduler: &sc, Elapsed: elapsed, RunID: r.runID}, r.cfg.Run.KeepCheckpoints, r.best, r.newBest)
	if err != nil {
		return "", fmt.Errorf("step %d: writing checkpoint: %w", step, err)
	}
	return path, nil
}

// end finishes a run that reached run.steps: the result's time and best
// checkpoint, and the closing line.
func (r *trainer) end() {
	res := r.res
	res.Seconds = time.Since(r.t0).Seconds()
	r.prog.finish()
	bestText := ""
	if b := r.best; b != nil && b.name != "" {
		res.BestCheckpoint, res.BestValue = filepath.Join(r.ckDir, b.name), b.value
		bestText = fmt.Sprintf("; best checkpoint by %s: %s (%.6g, step %d)", b.key, res.BestCheckpoint, b.value, b.step)
	}
	fmt.Fprintf(r.logw, "done: step %d, loss %.6g, %.3g steps/s, checkpoint %s%s\n", r.step, res.Last.Total, float64(res.StepsThisRun)/res.Seconds, res.LastCheckpoint, bestText)
}

// interrupted writes a checkpoint of the state after the last completed step
// (unless one was just written) and builds the error.
func (r *trainer) interrupted(ctx context.Context) error {
	elapsed := r.elapsedBefore + time.Since(r.t0).Seconds()
	r.prog.finish()
	cause := "a stop request"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		cause = c.Error()
	}
	step, res := r.step, r.res
	if step != r.lastCkStep || res.LastCheckpoint == "" {
		path, err := r.checkpoint(step, elapsed)
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

// InitialParams is a fresh run's starting model (what training and a dry
// run of a fresh run start from): the random draw of
// model.init, or the tensors of model.init_from. A model read from a file
// must have the configured N and H, and W(v) block-diagonal when
// model.blocks asks for blocks (training only keeps it so); the
// normalisation blocks are the run's (model.block_norm), not the file's.
func InitialParams(c *Config) (*graph.Params, error) {
	N, H := c.Model.Units, c.Model.Hidden
	if c.Model.InitFrom == "" {
		return graph.InitParamsSpec(N, H, c.Run.Seed, c.Model.InitSpec()), nil
	}
	p, _, err := LoadParams(c.Model.InitFrom)
	if err != nil {
		return nil, fmt.Errorf("model.init_from: %w", err)
	}
	if p.N != N || p.H != H {
		return nil, fmt.Errorf("model.init_from %s holds a model with N=%d, H=%d, but the run has model.units=%d, model.hidden=%d: pass --units %d --hidden %d", c.Model.InitFrom, p.N, p.H, N, H, p.N, p.H)
	}
	if k := c.Model.Blocks; !graph.BlockDiagonal(p, k) {
		return nil, fmt.Errorf("model.init_from %s: its W(v) is not block-diagonal in %d blocks, which model.blocks keeps it; train it with --blocks 1, or start from a block-diagonal model (gridgpu join makes one)", c.Model.InitFrom, k)
	}
	p.NormBlocks = 0
	if k := c.Model.NormBlocks(); k > 1 {
		p.NormBlocks = k
	}
	return p, nil
}

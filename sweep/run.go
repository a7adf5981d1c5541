package sweep

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/runlock"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/internal/workpool"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

// Every point runs as two child processes of the gridgpu binary itself,
// "train --config F --out RUN" (or "train --resume RUN") and then "analyze
// --checkpoint RUN --out RUN/report", rather than by calling the training
// loop in this process. Reasons:
//
//   - the run directory is exactly what the train and analyze commands
//     write, because it is those commands that write it;
//   - parallel runs need their own thread counts (GOMAXPROCS is per
//     process) and their own CUDA contexts; separate processes give both,
//     and a crash or a CUDA error in one run cannot take the others down;
//   - interruption reuses the trainer's own SIGINT/SIGTERM/SIGHUP handling
//     (finish the step, write a checkpoint, exit 130/143/129): the sweep only
//     forwards the signal, and children live in their own process group so
//     that a terminal's Ctrl-C reaches them once, through the sweep;
//   - each attempt's output goes to a log file in the run directory.

// RunOptions control Run.
type RunOptions struct {
	Exe      string         // the gridgpu binary
	Out      string         // the sweep directory; runs go to Out/runs/NAME
	Parallel int            // runs at once (>= 1)
	Devices  []train.Device // devices to spread runs over; nil: each run's own run.device
	Threads  int            // GOMAXPROCS of each child; 0: this process's GOMAXPROCS divided among the parallel runs
	Log      io.Writer      // one line per event
	Env      []string       // extra environment of the children
	// Signals are forwarded to every running child; after the first, no
	// new run starts.
	Signals <-chan os.Signal
}

// Outcome summarises a Run.
type Outcome struct {
	Total       int
	Done        int      // finished (trained, and analysed if the sweep analyses)
	Skipped     int      // of Done: finished before this invocation
	Failed      []string // names
	Stopped     []string // names of runs stopped by a signal (checkpoint written)
	NotStarted  int      // runs left untouched because of a signal
	Signal      os.Signal
	TotalSecond float64
	// Errors holds each failed run's message, as the log printed it, by
	// name: Summary.MarkFailed puts it in the summary also where the run
	// directory could not record it (a directory that cannot be made).
	Errors map[string]string
}

type runner struct {
	spec *Spec
	opt  RunOptions
	n    int

	mu       sync.Mutex
	stopping bool
	sig      os.Signal
	running  map[*exec.Cmd]bool
	errors   map[string]string // name -> message, of the runs that failed
	logMu    sync.Mutex
}

func (r *runner) logf(format string, a ...any) {
	if r.opt.Log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.opt.Log, format+"\n", a...)
}

// Run trains and analyses the points, skipping finished runs and resuming
// interrupted ones. It returns when every point has been tried, or when a
// signal has stopped the running ones. Failures of single runs are in the
// Outcome (and their sweep-status.json), not in the error; the error is for
// problems that stop the whole sweep.
func Run(spec *Spec, pts []Point, opt RunOptions) (*Outcome, error) {
	if opt.Parallel < 1 {
		opt.Parallel = 1
	}
	if opt.Exe == "" {
		return nil, errors.New("sweep: no executable to run")
	}
	if err := os.MkdirAll(filepath.Join(opt.Out, RunsDir), 0o755); err != nil {
		return nil, err
	}
	r := &runner{spec: spec, opt: opt, n: len(pts), running: map[*exec.Cmd]bool{}, errors: map[string]string{}}
	t0 := time.Now()
	stopFwd := make(chan struct{})
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		r.forwardSignals(stopFwd)
	}()

	workers := min(opt.Parallel, len(pts))
	threads := opt.Threads
	if threads <= 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/max(1, workers))
	}
	tokens := deviceTokens(opt)

	out := &Outcome{Total: len(pts)}
	var outMu sync.Mutex
	workpool.Each(workers, len(pts), nil, func(_, i int) {
		res := r.point(&pts[i], tokens, threads)
		outMu.Lock()
		out.count(res, pts[i].Name)
		outMu.Unlock()
	})
	close(stopFwd)
	<-fwdDone
	r.mu.Lock()
	out.Signal = r.sig
	out.Errors = r.errors
	r.mu.Unlock()
	out.TotalSecond = time.Since(t0).Seconds()
	return out, nil
}

// forwardSignals passes each signal from r.opt.Signals to every running
// child, and stops new runs from starting at the first, until stop is
// closed.
func (r *runner) forwardSignals(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case s, ok := <-r.opt.Signals:
			if !ok {
				<-stop
				return
			}
			r.mu.Lock()
			first := !r.stopping
			r.stopping = true
			if r.sig == nil {
				r.sig = s
			}
			n := len(r.running)
			for c := range r.running {
				c.Process.Signal(s)
			}
			r.mu.Unlock()
			if first {
				r.logf("sweep: %s: stopping %d running run(s) after their current step (they write checkpoints); no new runs start. Again, a second or more from now, to abort them at once.", SignalName(s), n)
			} else {
				r.logf("sweep: %s again: aborting the running runs", SignalName(s))
			}
		}
	}
}

// deviceTokens are the device tokens that runs take to train: a GPU takes
// one run at a time, the CPU (or a run's own configured device) up to
// Parallel. The zero Device stands for the run's own.
func deviceTokens(opt RunOptions) chan train.Device {
	tokens := make(chan train.Device, opt.Parallel*max(1, len(opt.Devices)))
	if len(opt.Devices) == 0 {
		for i := 0; i < opt.Parallel; i++ {
			tokens <- train.Device{}
		}
	}
	for _, d := range opt.Devices {
		k := 1
		if d.IsCPU() {
			k = opt.Parallel
		}
		for i := 0; i < k; i++ {
			tokens <- d
		}
	}
	return tokens
}

// count adds a run that ended in state res (what runner.point returns) to
// the outcome.
func (out *Outcome) count(res, name string) {
	switch res {
	case StateDone:
		out.Done++
	case "skipped":
		out.Done++
		out.Skipped++
	case StateFailed:
		out.Failed = append(out.Failed, name)
	case StateInterrupted:
		out.Stopped = append(out.Stopped, name)
	case StatePending:
		out.NotStarted++
	}
}

func (r *runner) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// point brings one run as far as it can go: train (fresh or resumed), then
// analyse. It returns the state it ended in, "skipped" for a run finished
// before, or StatePending for one not started because of a signal.
func (r *runner) point(p *Point, tokens chan train.Device, threads int) string {
	dir := RunDir(r.opt.Out, p.Name)
	tag := fmt.Sprintf("[%d/%d] %s", p.Index+1, r.n, p.Name)
	if r.isStopping() {
		return StatePending
	}
	busy := r.waitForRunDir(dir, tag)
	if busy == errStopped {
		return StatePending
	}
	pr := r.newPointRun(p, dir, tag, threads)
	analyze := r.spec.Analyze != nil
	ck := checkpointStep(dir)
	if busy != nil {
		return pr.fail("train", busy.Error(), "")
	}
	if state, ended := pr.skipFinished(ck, analyze); ended {
		return state
	}
	if msg := pr.checkDir(ck); msg != "" {
		return pr.fail("train", msg, "")
	}
	if ck < p.Config.Run.Steps {
		if state, ended := pr.runTrain(ck, tokens); ended {
			return state
		}
	}
	ck = checkpointStep(dir)
	if analyze && !reportDone(dir, ck) {
		if state, ended := pr.runAnalyze(ck); ended {
			return state
		}
	}
	st := pr.st
	st.State, st.Phase, st.Error, st.Log = StateDone, "", "", ""
	if err := writeStatus(dir, st); err != nil {
		r.logf("%s: writing %s: %v", tag, StatusFile, err)
	}
	r.logf("%s: done", tag)
	return StateDone
}

// pointRun is one point's run while runner.point brings it along: its
// directory, its tag in the log, the GOMAXPROCS of its children, the
// sweep-status.json it had (prev, nil if none or unreadable) and the one
// being written (st).
type pointRun struct {
	r        *runner
	p        *Point
	dir, tag string
	threads  int
	prev, st *Status
}

// newPointRun reads the run directory's status; one that cannot be read
// is logged and rewritten.
func (r *runner) newPointRun(p *Point, dir, tag string, threads int) *pointRun {
	prev, err := ReadStatus(dir)
	if err != nil {
		r.logf("%s: %v; rewriting it", tag, err)
		prev = nil
	}
	st := &Status{Name: p.Name, Index: p.Index, Variant: p.Variant, Values: kvs(p.Values), Overrides: kvs(p.Overrides),
		State: StatePending, Steps: p.Config.Run.Steps, Step: max(0, checkpointStep(dir))}
	if prev != nil {
		st.Attempts = prev.Attempts
	}
	return &pointRun{r: r, p: p, dir: dir, tag: tag, threads: threads, prev: prev, st: st}
}

// fail records the run as failed in phase with msg (log: the log holding
// the failed attempt's output, if any), and returns StateFailed.
func (pr *pointRun) fail(phase, msg, log string) string {
	r, st := pr.r, pr.st
	st.State, st.Phase, st.Error, st.Log = StateFailed, phase, msg, log
	r.mu.Lock()
	r.errors[pr.p.Name] = msg
	r.mu.Unlock()
	if err := writeStatus(pr.dir, st); err != nil {
		r.logf("%s: writing %s: %v", pr.tag, StatusFile, err)
	}
	r.logf("%s: FAILED (%s): %s", pr.tag, phase, msg)
	return StateFailed
}

// skipFinished ends (true) a run whose newest checkpoint ck is at
// run.steps: "skipped" when it is finished, a failure when its metrics
// fall short. A run counts as finished by its files, whatever
// sweep-status.json says: a checkpoint at run.steps, metrics.jsonl up to
// there, and (where the sweep analyses) a report of that checkpoint whose
// summary.json reads. A run whose report is missing or stale goes on to
// its analysis.
func (pr *pointRun) skipFinished(ck int64, analyze bool) (string, bool) {
	r, p, dir, st, prev := pr.r, pr.p, pr.dir, pr.st, pr.prev
	if ck < p.Config.Run.Steps {
		return "", false
	}
	if msg := metricsProblem(dir, ck, p.Config.Run.Steps); msg != "" {
		return pr.fail("train", msg, ""), true
	}
	done, problem := true, ""
	if analyze {
		done, problem = reportState(dir, ck)
	}
	if done {
		if prev == nil || prev.State != StateDone {
			st.State = StateDone
			st.Step = ck
			if prev != nil {
				st.TrainSec, st.AnalyzeS, st.Device = prev.TrainSec, prev.AnalyzeS, prev.Device
			}
			writeStatus(dir, st)
		}
		r.logf("%s: done before, skipped", pr.tag)
		return "skipped", true
	}
	if problem != "" {
		r.logf("%s: %s; analysing it again", pr.tag, problem)
	}
	return "", false
}

// checkDir makes the run directory and, where it holds a checkpoint (ck
// >= 0), requires its run's config to be the point's; it returns what is
// wrong, or "".
func (pr *pointRun) checkDir(ck int64) string {
	if err := os.MkdirAll(pr.dir, 0o755); err != nil {
		return err.Error()
	}
	if ck >= 0 {
		diff, err := configDiff(pr.dir, pr.p.Config)
		if err != nil {
			return err.Error()
		}
		if diff != "" {
			return fmt.Sprintf("the run in %s was trained with another config (%s); remove the directory to start it again, or use another --out", pr.dir, diff)
		}
	}
	return ""
}

// runTrain trains the run to run.steps, fresh or resumed from its checkpoint
// at step ck, on a device taken from tokens (given back as soon as the
// trainer ends). It ends the run (true) with the state it ended in unless
// the training reached run.steps with sound metrics.
func (pr *pointRun) runTrain(ck int64, tokens chan train.Device) (string, bool) {
	r, p, dir, st := pr.r, pr.p, pr.dir, pr.st
	dev := <-tokens
	released := false
	release := func() {
		if !released {
			released = true
			tokens <- dev
		}
	}
	defer release()
	if r.isStopping() {
		return StatePending, true
	}
	cfgText := fmt.Sprintf("# Config of sweep run %s (index %d) from %s: preset %s, base.config, then %s.\n# gridgpu train --config this-file reproduces it.\n",
		p.Name, p.Index, r.spec.Source, r.spec.Preset, p.OverridesText())
	if err := data.WriteFileAtomic(filepath.Join(dir, ConfigFile), append([]byte(cfgText), p.Config.YAML()...)); err != nil {
		return pr.fail("train", err.Error(), ""), true
	}
	args, how, msg := pr.trainArgs(ck)
	if msg != "" {
		return pr.fail("train", msg, ""), true
	}
	st.Device = p.Config.Run.Device
	if dev != (train.Device{}) {
		args = append(args, "--device", dev.String())
		st.Device = dev.String()
	}
	st.State, st.Phase, st.Error, st.Log = StateTraining, "", "", ""
	st.Attempts++
	writeStatus(dir, st)
	logPath := filepath.Join(dir, TrainLog)
	r.logf("%s: training on %s (%s, GOMAXPROCS=%d), %d steps; log %s", pr.tag, st.Device, how, pr.threads, p.Config.Run.Steps, logPath)
	t0 := time.Now()
	code, msg, err := r.child(logPath, args, pr.threads)
	release() // the analysis runs on the CPU: free the device for the next run
	st.TrainSec = time.Since(t0).Seconds()
	st.Step = max(0, checkpointStep(dir))
	switch {
	case err == errStopped:
		return StatePending, true
	case err != nil:
		return pr.fail("train", err.Error(), logPath), true
	case stopsig.IsStopStatus(code) || (code < 0 && r.isStopping()):
		st.State, st.Phase, st.Error = StateInterrupted, "train", msg
		writeStatus(dir, st)
		r.logf("%s: stopped at step %d (checkpoint written)", pr.tag, st.Step)
		return StateInterrupted, true
	case code != 0:
		if msg == "" {
			msg = fmt.Sprintf("train exited with status %d", code)
		}
		return pr.fail("train", msg, logPath), true
	}
	if st.Step < p.Config.Run.Steps {
		return pr.fail("train", fmt.Sprintf("train exited normally but the newest checkpoint is at step %d of %d", st.Step, p.Config.Run.Steps), logPath), true
	}
	if msg := metricsProblem(dir, st.Step, p.Config.Run.Steps); msg != "" {
		return pr.fail("train", msg, logPath), true
	}
	r.logf("%s: trained %d steps in %.1f s", pr.tag, st.Step, st.TrainSec)
	return "", false
}

// trainArgs are the arguments of the train child (without --device) and
// how it trains: fresh without a checkpoint (ck < 0), else resuming from
// step ck. A directory with metrics but neither a checkpoint nor a
// sweep-status.json is not a run of this sweep: msg says so.
func (pr *pointRun) trainArgs(ck int64) (args []string, how, msg string) {
	dir, cfg := pr.dir, filepath.Join(pr.dir, ConfigFile)
	if ck >= 0 {
		return []string{"train", "--resume", dir, "--config", cfg}, fmt.Sprintf("resuming from step %d", ck), ""
	}
	// No checkpoint: an earlier attempt died before writing one (or never
	// started); its metrics would make the trainer refuse the directory.
	if _, err := os.Stat(rundir.MetricsPath(dir)); err == nil {
		if pr.prev == nil {
			return nil, "", fmt.Sprintf("%s holds %s but no checkpoint and no %s: not a run of this sweep; remove it or use another --out", dir, rundir.MetricsFile, StatusFile)
		}
		os.Remove(rundir.MetricsPath(dir))
	}
	return []string{"train", "--preset", pr.r.spec.Preset, "--config", cfg, "--out", dir}, "fresh", ""
}

// runAnalyze analyses the run's checkpoint at step ck into its report
// directory. It ends the run (true) with the state it ended in unless the
// analysis wrote a report of that checkpoint.
func (pr *pointRun) runAnalyze(ck int64) (string, bool) {
	r, dir, st := pr.r, pr.dir, pr.st
	if r.isStopping() {
		st.State, st.Phase = StateInterrupted, "analyze"
		writeStatus(dir, st)
		return StateInterrupted, true
	}
	// Staging directories of an analysis that was killed outright.
	if stale, _ := filepath.Glob(filepath.Join(dir, "."+ReportDir+".partial-*")); len(stale) > 0 {
		for _, s := range stale {
			os.RemoveAll(s)
		}
	}
	args := []string{"analyze", "--checkpoint", dir, "--out", filepath.Join(dir, ReportDir)}
	if ents, err := os.ReadDir(filepath.Join(dir, ReportDir)); err == nil && len(ents) > 0 {
		args = append(args, "--overwrite") // a report without summary.json: incomplete
	}
	args = append(args, r.spec.Analyze...)
	st.State, st.Phase, st.Error, st.Log = StateAnalyzing, "", "", ""
	writeStatus(dir, st)
	logPath := filepath.Join(dir, AnalyzeLog)
	r.logf("%s: analysing (GOMAXPROCS=%d); log %s", pr.tag, pr.threads, logPath)
	t0 := time.Now()
	code, msg, err := r.child(logPath, args, pr.threads)
	st.AnalyzeS = time.Since(t0).Seconds()
	switch {
	case err == errStopped, stopsig.IsStopStatus(code) || (code < 0 && r.isStopping()):
		st.State, st.Phase, st.Error = StateInterrupted, "analyze", msg
		writeStatus(dir, st)
		r.logf("%s: analysis stopped; it runs again next time", pr.tag)
		return StateInterrupted, true
	case err != nil:
		return pr.fail("analyze", err.Error(), logPath), true
	case code != 0:
		if msg == "" {
			msg = fmt.Sprintf("analyze exited with status %d", code)
		}
		return pr.fail("analyze", msg, logPath), true
	}
	if done, problem := reportState(dir, ck); !done {
		if problem == "" {
			problem = "it wrote no " + filepath.Join(dir, ReportDir, "summary.json")
		}
		return pr.fail("analyze", "analyze exited normally but "+problem, logPath), true
	}
	return "", false
}

var errStopped = errors.New("stopped before starting")

// runDirWait is how long a run waits for another process to let go of its
// directory.
const runDirWait = time.Minute

// waitForRunDir waits while another process holds the run directory's lock
// (internal/runlock, taken by train): a trainer left by a sweep that was
// killed outright, which its parent-death signal (SIGTERM) makes finish its
// step, write a checkpoint and exit. The run then resumes from that
// checkpoint instead of failing on the lock, or reading the checkpoint
// before it is written. It returns the lock's error after runDirWait, and
// errStopped when the sweep is stopped meanwhile.
func (r *runner) waitForRunDir(dir, tag string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil
	}
	deadline := time.Now().Add(runDirWait)
	for logged := false; ; logged = true {
		lk, err := runlock.Exclusive(dir, "run directory")
		var busy *runlock.BusyError
		if !errors.As(err, &busy) {
			lk.Release() // free, or no locks here: train says so itself
			return nil
		}
		if r.isStopping() {
			return errStopped
		}
		if time.Now().After(deadline) {
			return err
		}
		if !logged {
			r.logf("%s: %v; waiting up to %.0f s for it to end (a trainer of a sweep that was killed writes a checkpoint first)", tag, err, runDirWait.Seconds())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// child runs the binary with args, its output appended to logPath. It
// returns the exit status (-1 when killed by a signal) and the last
// "gridgpu: " line the child wrote, which is its error message.
func (r *runner) child(logPath string, args []string, threads int) (int, string, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return 0, "", err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "\n=== %s: gridgpu %s (GOMAXPROCS=%d)\n", time.Now().Format(time.RFC3339), strings.Join(args, " "), threads)
	var from int64
	if st, err := lf.Stat(); err == nil {
		from = st.Size()
	}
	// The child writes into the log itself, not through a pipe of this
	// process: should the sweep be killed, a trainer stopped by its
	// parent-death signal still logs how it stopped.
	cmd := exec.Command(r.opt.Exe, args...)
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Env = append(append(os.Environ(), r.opt.Env...), "GOMAXPROCS="+strconv.Itoa(threads))
	err = startAndWait(cmd, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stopping {
			return errStopped
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		r.running[cmd] = true
		return nil
	})
	r.mu.Lock()
	delete(r.running, cmd)
	r.mu.Unlock()
	msg := lastError(lf, from)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				msg = "killed by " + ws.Signal().String()
			}
		}
		return code, msg, nil
	}
	if err != nil {
		return 0, msg, err
	}
	return 0, msg, nil
}

// lastError is the last line starting with "gridgpu: ", without the
// prefix, that the log f holds after offset from (in its last 8 KiB).
func lastError(f *os.File, from int64) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from = max(from, st.Size()-8192)
	if from >= st.Size() {
		return ""
	}
	b := make([]byte, st.Size()-from)
	n, _ := f.ReadAt(b, from)
	lines := strings.Split(strings.ReplaceAll(string(b[:n]), "\r", "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if s, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "gridgpu: "); ok {
			return s
		}
	}
	return ""
}

// SignalName names a stop signal as people know it ("SIGINT", "SIGTERM",
// "SIGHUP"); see stopsig.Name.
func SignalName(s os.Signal) string { return stopsig.Name(s) }

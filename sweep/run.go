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

// RunDir is the directory of a point's run.
func RunDir(out, name string) string { return filepath.Join(out, "runs", name) }

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
	if err := os.MkdirAll(filepath.Join(opt.Out, "runs"), 0o755); err != nil {
		return nil, err
	}
	r := &runner{spec: spec, opt: opt, n: len(pts), running: map[*exec.Cmd]bool{}, errors: map[string]string{}}
	t0 := time.Now()
	stopFwd := make(chan struct{})
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		for {
			select {
			case <-stopFwd:
				return
			case s, ok := <-opt.Signals:
				if !ok {
					<-stopFwd
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
	}()

	workers := min(opt.Parallel, len(pts))
	threads := opt.Threads
	if threads <= 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/max(1, workers))
	}
	// Device tokens: a GPU takes one run at a time, the CPU (or a run's own
	// configured device) up to Parallel.
	// The zero Device stands for the run's own.
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

	out := &Outcome{Total: len(pts)}
	var outMu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				outMu.Lock()
				i := next
				next++
				outMu.Unlock()
				if i >= len(pts) {
					return
				}
				res := r.point(&pts[i], tokens, threads)
				outMu.Lock()
				switch res {
				case StateDone:
					out.Done++
				case "skipped":
					out.Done++
					out.Skipped++
				case StateFailed:
					out.Failed = append(out.Failed, pts[i].Name)
				case StateInterrupted:
					out.Stopped = append(out.Stopped, pts[i].Name)
				case StatePending:
					out.NotStarted++
				}
				outMu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stopFwd)
	<-fwdDone
	r.mu.Lock()
	out.Signal = r.sig
	out.Errors = r.errors
	r.mu.Unlock()
	out.TotalSecond = time.Since(t0).Seconds()
	return out, nil
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
	analyze := r.spec.Analyze != nil
	ck := checkpointStep(dir)
	fail := func(phase, msg, log string) string {
		st.State, st.Phase, st.Error, st.Log = StateFailed, phase, msg, log
		r.mu.Lock()
		r.errors[p.Name] = msg
		r.mu.Unlock()
		if err := writeStatus(dir, st); err != nil {
			r.logf("%s: writing %s: %v", tag, StatusFile, err)
		}
		r.logf("%s: FAILED (%s): %s", tag, phase, msg)
		return StateFailed
	}
	if busy != nil {
		return fail("train", busy.Error(), "")
	}
	// A run counts as finished by its files, whatever sweep-status.json
	// says: a checkpoint at run.steps, metrics.jsonl up to there, and a
	// report of that checkpoint whose summary.json reads.
	if ck >= p.Config.Run.Steps {
		if msg := metricsProblem(dir, ck, p.Config.Run.Steps); msg != "" {
			return fail("train", msg, "")
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
			r.logf("%s: done before, skipped", tag)
			return "skipped"
		}
		if problem != "" {
			r.logf("%s: %s; analysing it again", tag, problem)
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("train", err.Error(), "")
	}
	if ck >= 0 {
		diff, err := configDiff(dir, p.Config)
		if err != nil {
			return fail("train", err.Error(), "")
		}
		if diff != "" {
			return fail("train", fmt.Sprintf("the run in %s was trained with another config (%s); remove the directory to start it again, or use another --out", dir, diff), "")
		}
	}

	if ck < p.Config.Run.Steps {
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
			return StatePending
		}
		cfgText := fmt.Sprintf("# Config of sweep run %s (index %d) from %s: preset %s, base.config, then %s.\n# gridgpu train --config this-file reproduces it.\n",
			p.Name, p.Index, r.spec.Source, r.spec.Preset, p.OverridesText())
		if err := data.WriteFileAtomic(filepath.Join(dir, ConfigFile), append([]byte(cfgText), p.Config.YAML()...)); err != nil {
			return fail("train", err.Error(), "")
		}
		var args []string
		how := "fresh"
		if ck < 0 {
			// No checkpoint: an earlier attempt died before writing one
			// (or never started); its metrics would make the trainer
			// refuse the directory.
			if _, err := os.Stat(rundir.MetricsPath(dir)); err == nil {
				if prev == nil {
					return fail("train", fmt.Sprintf("%s holds %s but no checkpoint and no %s: not a run of this sweep; remove it or use another --out", dir, rundir.MetricsFile, StatusFile), "")
				}
				os.Remove(rundir.MetricsPath(dir))
			}
			args = []string{"train", "--preset", r.spec.Preset, "--config", filepath.Join(dir, ConfigFile), "--out", dir}
		} else {
			how = fmt.Sprintf("resuming from step %d", ck)
			args = []string{"train", "--resume", dir, "--config", filepath.Join(dir, ConfigFile)}
		}
		st.Device = p.Config.Run.Device
		if dev != (train.Device{}) {
			args = append(args, "--device", dev.String())
			st.Device = dev.String()
		}
		st.State, st.Phase, st.Error, st.Log = StateTraining, "", "", ""
		st.Attempts++
		writeStatus(dir, st)
		r.logf("%s: training on %s (%s, GOMAXPROCS=%d), %d steps; log %s", tag, st.Device, how, threads, p.Config.Run.Steps, filepath.Join(dir, TrainLog))
		t0 := time.Now()
		code, msg, err := r.child(filepath.Join(dir, TrainLog), args, threads)
		release() // the analysis runs on the CPU: free the device for the next run
		st.TrainSec = time.Since(t0).Seconds()
		st.Step = max(0, checkpointStep(dir))
		switch {
		case err == errStopped:
			return StatePending
		case err != nil:
			return fail("train", err.Error(), filepath.Join(dir, TrainLog))
		case stopsig.IsStopStatus(code) || (code < 0 && r.isStopping()):
			st.State, st.Phase, st.Error = StateInterrupted, "train", msg
			writeStatus(dir, st)
			r.logf("%s: stopped at step %d (checkpoint written)", tag, st.Step)
			return StateInterrupted
		case code != 0:
			if msg == "" {
				msg = fmt.Sprintf("train exited with status %d", code)
			}
			return fail("train", msg, filepath.Join(dir, TrainLog))
		}
		if st.Step < p.Config.Run.Steps {
			return fail("train", fmt.Sprintf("train exited normally but the newest checkpoint is at step %d of %d", st.Step, p.Config.Run.Steps), filepath.Join(dir, TrainLog))
		}
		if msg := metricsProblem(dir, st.Step, p.Config.Run.Steps); msg != "" {
			return fail("train", msg, filepath.Join(dir, TrainLog))
		}
		r.logf("%s: trained %d steps in %.1f s", tag, st.Step, st.TrainSec)
	}

	ck = checkpointStep(dir)
	if analyze && !reportDone(dir, ck) {
		if r.isStopping() {
			st.State, st.Phase = StateInterrupted, "analyze"
			writeStatus(dir, st)
			return StateInterrupted
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
		r.logf("%s: analysing (GOMAXPROCS=%d); log %s", tag, threads, filepath.Join(dir, AnalyzeLog))
		t0 := time.Now()
		code, msg, err := r.child(filepath.Join(dir, AnalyzeLog), args, threads)
		st.AnalyzeS = time.Since(t0).Seconds()
		switch {
		case err == errStopped, stopsig.IsStopStatus(code) || (code < 0 && r.isStopping()):
			st.State, st.Phase, st.Error = StateInterrupted, "analyze", msg
			writeStatus(dir, st)
			r.logf("%s: analysis stopped; it runs again next time", tag)
			return StateInterrupted
		case err != nil:
			return fail("analyze", err.Error(), filepath.Join(dir, AnalyzeLog))
		case code != 0:
			if msg == "" {
				msg = fmt.Sprintf("analyze exited with status %d", code)
			}
			return fail("analyze", msg, filepath.Join(dir, AnalyzeLog))
		}
		if done, problem := reportState(dir, ck); !done {
			if problem == "" {
				problem = "it wrote no " + filepath.Join(dir, ReportDir, "summary.json")
			}
			return fail("analyze", "analyze exited normally but "+problem, filepath.Join(dir, AnalyzeLog))
		}
	}
	st.State, st.Phase, st.Error, st.Log = StateDone, "", "", ""
	if err := writeStatus(dir, st); err != nil {
		r.logf("%s: writing %s: %v", tag, StatusFile, err)
	}
	r.logf("%s: done", tag)
	return StateDone
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

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/runlock"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/sweep"
	"github.com/gridgpu/gridgpu/train"
)

func sweepCommand() *cli.Command {
	return newCommand("sweep", "train and analyse every run of a sweep file",
		"gridgpu sweep --spec F --out DIR [--parallel K] [--devices cpu|cuda:0,cuda:1,...] [--index I]\n"+
			"   gridgpu sweep --spec F --list\n"+
			"   gridgpu sweep [--spec F] --out DIR --collect\n"+
			"   gridgpu sweep --spec F --out DIR --emit slurm|k8s [--devices cpu|cuda] [--cpus N] [--parallel K] [--image I --pvc NAME --mount PATH]",
		sweepAction,
		&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "sweep file `F` (YAML: base, grid, variants, analyze); for --collect default DIR/sweep.yaml"},
		outFlag("sweep directory `DIR`: DIR/runs/NAME per run, the summary files beside"),
		intFlag(cli.IntFlag{Name: "parallel", Aliases: []string{"j"}, Value: 1, Usage: "runs at once `K` (default 1, or one per listed GPU); with --emit: tasks at once (default: no limit)"}),
		&cli.StringFlag{Name: "devices", Usage: "`LIST` of devices to spread runs over: cpu, or cuda:0,cuda:1,... (one run per GPU at a time); default: each run's run.device; with --emit: cpu or cuda (one GPU per task)"},
		threadsFlag("GOMAXPROCS of each run (`N`; 0: this machine's cores divided among the parallel runs)"),
		&cli.BoolFlag{Name: "list", Usage: "print every run with its index and overrides, and exit"},
		intFlag(cli.IntFlag{Name: "index", Value: -1, Usage: "run only run `I` (see --list); the summary is left to --collect", DefaultText: "all"}),
		&cli.BoolFlag{Name: "collect", Usage: "rebuild the summary from the run directories, without training"},
		&cli.StringFlag{Name: "emit", Usage: "print a cluster batch file and exit: `slurm` (job array) or k8s (Indexed Job)", Category: "cluster"},
		&cli.StringFlag{Name: "image", Value: "gridgpu:latest", Usage: "k8s: container `IMAGE` with gridgpu on its PATH", Category: "cluster"},
		&cli.StringFlag{Name: "pvc", Value: "gridgpu-sweeps", Usage: "k8s: PersistentVolumeClaim `NAME` holding the sweep file and DIR", Category: "cluster"},
		&cli.StringFlag{Name: "mount", Value: "/sweeps", Usage: "k8s: mount `PATH` of the claim, the working directory of the pods", Category: "cluster"},
		&cli.StringFlag{Name: "job-name", Usage: "job `NAME` (default gridgpu-sweep-<sweep file name>)", Category: "cluster"},
		intFlag(cli.IntFlag{Name: "cpus", Value: 4, Usage: "CPU cores per task (`N`), also its thread count (GOMAXPROCS)", Category: "cluster"}),
		&cli.StringFlag{Name: "time", Usage: "slurm: time limit per task (`T`, e.g. 1-00:00:00)", Category: "cluster"},
		&cli.StringFlag{Name: "binary", Value: "gridgpu", Usage: "the gridgpu `COMMAND` in the tasks", Category: "cluster"},
	)
}

// analyzeFlagKinds lists the analyze flags a sweep file may set, from the
// analyze command itself, so that the two never disagree.
func analyzeFlagKinds() map[string]sweep.FlagKind {
	out := map[string]sweep.FlagKind{}
	for _, f := range analyzeCommand().Flags {
		name := f.Names()[0]
		switch name {
		case "checkpoint", "out", "overwrite":
			continue // the sweep sets these
		case "arena":
			out[name] = sweep.FlagList
			continue
		}
		if isIntFlag(f) {
			out[name] = sweep.FlagInt
			continue
		}
		switch f.(type) {
		case *cli.Float64Flag:
			out[name] = sweep.FlagFloat
		case *cli.BoolFlag:
			out[name] = sweep.FlagBool
		default:
			out[name] = sweep.FlagString
		}
	}
	return out
}

// loadSweep reads and expands a sweep file: read as train reads --config
// (a regular file of bounded size, one YAML document), its size checked
// before its points are built (sweep.ReadFile, Spec.Expand).
func loadSweep(path string) (*sweep.Spec, []sweep.Point, []byte, error) {
	spec, src, err := sweep.ReadFile(path, sweep.ParseOptions{AnalyzeFlags: analyzeFlagKinds()})
	if err != nil {
		return nil, nil, nil, err
	}
	pts, err := spec.Expand()
	if err != nil {
		return nil, nil, nil, err
	}
	return spec, pts, src, nil
}

func sweepAction(c *cli.Context) error {
	out := c.String("out")
	specPath := c.String("spec")
	if specPath == "" && c.Bool("collect") && out != "" {
		specPath = filepath.Join(out, sweep.SpecFile)
	}
	if specPath == "" {
		return usagef("sweep: missing --spec; see 'gridgpu sweep --help'")
	}
	modes := 0
	for _, f := range []string{"list", "collect", "emit"} {
		if c.IsSet(f) {
			modes++
		}
	}
	if modes > 1 {
		return usagef("sweep: --list, --collect and --emit do not mix; give one")
	}
	spec, pts, src, err := loadSweep(specPath)
	if err != nil {
		return err
	}
	index := c.Int("index")
	if c.IsSet("index") && (index < 0 || index >= len(pts)) {
		return usagef("--index %d: the sweep has %d runs, indices 0 to %d (see --list)", index, len(pts), len(pts)-1)
	}
	if c.Bool("list") {
		return listSweep(c, pts)
	}
	if out == "" {
		return usagef("sweep: missing --out DIR; see 'gridgpu sweep --help'")
	}
	if c.IsSet("emit") {
		return emitSweep(c, specPath, out, pts)
	}
	if c.Bool("collect") {
		return writeSummary(c, spec, pts, out, nil)
	}
	return runSweep(c, spec, pts, src, specPath, out)
}

// listSweep prints the sweep's points (--list; only --index's with it).
func listSweep(c *cli.Context, pts []sweep.Point) error {
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "INDEX\tNAME\tOVERRIDES")
	for _, p := range pts {
		if c.IsSet("index") && p.Index != c.Int("index") {
			continue
		}
		fmt.Fprintf(w, "%d\t%s\t%s\n", p.Index, p.Name, p.OverridesText())
	}
	return w.Flush()
}

// emitSweep prints the cluster job that runs the sweep (--emit slurm|k8s).
func emitSweep(c *cli.Context, specPath, out string, pts []sweep.Point) (err error) {
	o := sweep.EmitOptions{Spec: specPath, Out: out, N: len(pts), Binary: c.String("binary"), JobName: c.String("job-name"),
		CPUs: c.Int("cpus"), Time: c.String("time"), Image: c.String("image"), PVC: c.String("pvc"), Mount: c.String("mount")}
	if c.IsSet("parallel") {
		o.Parallel = c.Int("parallel")
	}
	if o.CPUs < 0 {
		return usagef("--cpus %d: give the cores per task, or 0 for the cluster's default", o.CPUs)
	}
	var devs []string
	for _, p := range pts {
		devs = append(devs, p.Config.Run.Device)
	}
	if o.GPU, err = sweep.EmitDevice(c.String("devices"), devs); err != nil {
		return usagef("%v", err)
	}
	var text []byte
	switch e := c.String("emit"); e {
	case "slurm":
		text, err = sweep.Slurm(o)
	case "k8s", "kubernetes":
		text, err = sweep.Kubernetes(o)
	default:
		return usagef("--emit %q: choose slurm or k8s", e)
	}
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(text)
	return err
}

// sweepRunOptions reads how runSweep trains: --parallel, --threads and
// --devices (several GPUs set the default --parallel to their number).
func sweepRunOptions(c *cli.Context, out string) (sweep.RunOptions, error) {
	if c.Int("parallel") < 1 {
		return sweep.RunOptions{}, usagef("--parallel %d: give 1 or more", c.Int("parallel"))
	}
	if c.Int("threads") < 0 {
		return sweep.RunOptions{}, usagef("--threads %d: give 0 (automatic) or more", c.Int("threads"))
	}
	opt := sweep.RunOptions{Out: out, Parallel: c.Int("parallel"), Threads: c.Int("threads"), Log: c.App.ErrWriter}
	if d := c.String("devices"); d != "" {
		gpus := 0
		for _, s := range strings.Split(d, ",") {
			s = strings.TrimSpace(s)
			dev, err := train.ParseDevice(s)
			if err != nil {
				return sweep.RunOptions{}, usagef("--devices: %q is not a device; give cpu or a list such as cuda:0,cuda:1", s)
			}
			if slices.Contains(opt.Devices, dev) {
				return sweep.RunOptions{}, usagef("--devices: %s listed twice", dev)
			}
			if dev.IsCUDA() {
				gpus++
			}
			opt.Devices = append(opt.Devices, dev)
		}
		if !c.IsSet("parallel") && gpus > 1 {
			opt.Parallel = gpus
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return sweep.RunOptions{}, fmt.Errorf("sweep: cannot find this program's executable to run the points: %w", err)
	}
	opt.Exe = exe
	return opt, nil
}

// lockSweepDir takes out's sweep lock (internal/runlock) before anything
// is written into it: a second sweep of out is refused while this one
// runs. The tasks of a job array (--index, one point each, in parallel)
// share the lock, which keeps a whole sweep out while they run; each of
// their runs is its trainer's alone (train locks its run directory).
func lockSweepDir(c *cli.Context, out string) (release func(), err error) {
	lockDir := runlock.Exclusive
	if c.IsSet("index") {
		lockDir = runlock.Shared
	}
	lk, err := lockDir(out, "sweep directory")
	if errors.Is(err, runlock.ErrUnsupported) {
		fmt.Fprintf(c.App.ErrWriter, "gridgpu: note: %v; nothing stops a second sweep of it at the same time\n", err)
		return func() {}, nil
	} else if err != nil {
		return nil, err
	}
	return lk.Release, nil
}

// runSweep trains and analyses the sweep's points (only --index's with
// it) into out, then writes the summary; a stop signal ends it with the
// command that continues it.
func runSweep(c *cli.Context, spec *sweep.Spec, pts []sweep.Point, src []byte, specPath, out string) error {
	opt, err := sweepRunOptions(c, out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	release, err := lockSweepDir(c, out)
	if err != nil {
		return err
	}
	defer release()
	// The sweep file beside its runs, for --collect and for the record.
	if err := data.WriteFileAtomic(filepath.Join(out, sweep.SpecFile), src); err != nil {
		return err
	}
	todo := pts
	index := c.Int("index")
	if c.IsSet("index") {
		todo = pts[index : index+1]
	}

	// Stop signals (internal/stopsig) go to the runner, which passes them
	// on to the children; a repeat within a second of the first is the
	// same stop delivered twice and is dropped, so that the children do
	// not take it for an abort. The channel stays registered until the
	// end, so a second Ctrl-C also reaches the children (and aborts them)
	// rather than killing the sweep while they still run.
	sigc, stopSignals := stopsig.Notify()
	defer stopSignals()
	opt.Signals = sigc
	stderr := c.App.ErrWriter
	fmt.Fprintf(stderr, "sweep %s: %d run(s) into %s, %d at once\n", specPath, len(todo), out, min(opt.Parallel, len(todo)))
	res, err := sweep.Run(spec, todo, opt)
	if err != nil {
		return err
	}
	if !c.IsSet("index") {
		if err := writeSummary(c, spec, pts, out, res.Errors); err != nil {
			fmt.Fprintf(stderr, "gridgpu: sweep: writing the summary: %v\n", err)
		}
	}
	again := fmt.Sprintf("gridgpu sweep --spec %s --out %s", specPath, out)
	if c.IsSet("index") {
		again += fmt.Sprintf(" --index %d", index)
	}
	if res.Signal != nil {
		return stoppedBy(res.Signal, fmt.Sprintf("sweep interrupted by %s: %d of %d runs done, %d stopped with a checkpoint, %d not started; continue with: %s",
			stopsig.Name(res.Signal), res.Done, res.Total, len(res.Stopped), res.NotStarted, again))
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("sweep: %d of %d runs failed (%s); see DIR/%s/NAME/%s and the log it names; fix and run '%s' again to retry them",
			len(res.Failed), res.Total, strings.Join(res.Failed, ", "), sweep.RunsDir, sweep.StatusFile, again)
	}
	fmt.Fprintf(stderr, "sweep: %d run(s) done (%d before this invocation) in %.1f s\n", res.Done, res.Skipped, res.TotalSecond)
	return nil
}

// writeSummary collects the sweep in out and writes its summary files;
// failures holds the failures of this invocation (sweep.Outcome.Errors), so
// that the summary says what the log said even for a run whose directory
// could not record it.
func writeSummary(c *cli.Context, spec *sweep.Spec, pts []sweep.Point, out string, failures map[string]string) error {
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return errors.New("sweep: --out " + out + " is not a directory")
	}
	sum, err := sweep.Collect(spec, pts, out)
	if err != nil {
		return err
	}
	sum.MarkFailed(failures)
	if err := sum.Write(out); err != nil {
		return err
	}
	done, inc, failed := sum.Counts()
	fmt.Fprintf(c.App.ErrWriter, "summary: %d done, %d incomplete, %d failed: %s, %s, %s\n", done, inc, failed,
		filepath.Join(out, "results.csv"), filepath.Join(out, "results.json"), filepath.Join(out, "index.html"))
	return nil
}

package slurmcheck

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/sweep"
)

// TestSlurmJobArray submits the job array that 'sweep --emit slurm' writes to
// a real one-node Slurm (scripts/slurm-test.sh: Debian's munge, slurmctld and
// slurmd, installed when missing) and checks that every run of the sweep is
// trained exactly once, with one thread per core the task asked for: first
// as submitted, then with one task cancelled while it trains and the whole
// array submitted again. --collect summarises each.
//
// It needs root (apt-get, the daemons). CI runs as root, so there it always
// runs, and a Slurm that does not work fails it; elsewhere, without root, it
// is skipped. -short skips it too.
func TestSlurmJobArray(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Slurm test installs and starts a Slurm (about a minute)")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the Slurm test as root: it installs Debian's Slurm packages and starts the daemons")
		}
		t.Skip("not root: the Slurm test installs Debian's Slurm packages and starts the daemons (CI runs it as root)")
	}
	t0 := time.Now()
	// The daemons' directory: munged (user munge) must reach its socket,
	// which t.TempDir's private directories do not allow.
	dir, err := os.MkdirTemp("", "gridgpu-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	script, err := filepath.Abs("../../scripts/slurm-test.sh")
	if err != nil {
		t.Fatal(err)
	}
	start := exec.Command("bash", script, "start", dir)
	start.Env = append(os.Environ(), "SLURM_TEST_PORTS="+freePort(t)+","+freePort(t))
	if b, err := start.CombinedOutput(); err != nil {
		t.Fatalf("starting Slurm: %v\n%s", err, b)
	} else {
		t.Logf("%s", bytes.TrimSpace(b))
	}
	tSlurm := time.Now()
	conf := filepath.Join(dir, "slurm.conf")
	t.Setenv("SLURM_CONF", conf)
	t.Cleanup(func() {
		// Jobs first (a failed test may leave some), then the daemons.
		exec.Command("scancel", "--full", "--user", "root").Run()
		if err := queueEmpty(45 * time.Second); err != nil {
			t.Errorf("cancelled jobs still queued: %v", err)
		}
		if b, err := exec.Command("bash", script, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("stopping Slurm: %v\n%s", err, b)
		}
	})

	// The tasks run a gridgpu built from this repository.
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	gridgpu := filepath.Join(work, "gridgpu")
	build := exec.Command(goCommand(), "build", "-o", gridgpu, ".")
	build.Dir = "../.."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	tStarted := time.Now()
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(gridgpu, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("gridgpu %s: %v", strings.Join(args, " "), err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	// Three runs of a few seconds each; two at a time (two cores, one per
	// task).
	spec := filepath.Join(work, "slurm.yaml")
	os.WriteFile(spec, []byte(`base:
  preset: smoke
  config:
    run: {steps: 600, log_every: 50, checkpoint_every: 100}
grid:
  run.seed: [0, 1, 2]
analyze: {arena: [1], bins: 10, trajectories: 4, steps: 50}
`), 0o644)
	names := []string{"seed=0", "seed=1", "seed=2"}
	emit := func(out string) string {
		code, text, stderr := cli("sweep", "--spec", spec, "--out", out, "--emit", "slurm", "--cpus", "1", "--binary", gridgpu)
		if code != 0 {
			t.Fatalf("--emit slurm: %s", stderr)
		}
		if strings.Contains(text, "gres") || strings.Contains(text, "cuda") {
			t.Fatalf("the batch file of a CPU sweep asks for a GPU:\n%s", text)
		}
		path := filepath.Join(work, filepath.Base(out)+".sbatch")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	submit := func(batch string) string {
		cmd := exec.Command("sbatch", "--parsable", "--chdir", work, batch)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sbatch %s: %v\n%s", batch, err, b)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(string(b)), ";")
		return id
	}
	// doneOnce checks that each run is done and trained to its end exactly
	// once: one "done:" line in its train.log, whatever the attempts.
	doneOnce := func(out string, attempts map[string]int) {
		t.Helper()
		for _, n := range names {
			run := sweep.RunDir(out, n)
			st, err := sweep.ReadStatus(run)
			if err != nil || st == nil || st.State != sweep.StateDone || st.Step != 600 {
				t.Errorf("%s: status %+v (%v), want done at step 600", n, st, err)
				continue
			}
			log, _ := os.ReadFile(filepath.Join(run, sweep.TrainLog))
			if c := strings.Count(string(log), "\ndone: step 600,"); c != 1 {
				t.Errorf("%s: trained to the end %d times, want once; %s:\n%s", n, c, sweep.TrainLog, log)
			}
			if !strings.Contains(string(log), "(GOMAXPROCS=1)") || strings.Contains(string(log), "(GOMAXPROCS=2)") {
				t.Errorf("%s: not trained with one thread (--cpus 1):\n%s", n, log)
			}
			if want := attempts[n]; st.Attempts != want {
				t.Errorf("%s: %d train attempts, want %d", n, st.Attempts, want)
			}
			if _, err := os.Stat(filepath.Join(run, sweep.ReportDir, "summary.json")); err != nil {
				t.Errorf("%s: no analysis: %v", n, err)
			}
		}
	}
	collect := func(out string) {
		t.Helper()
		code, _, stderr := cli("sweep", "--spec", spec, "--out", out, "--collect")
		if code != 0 || !strings.Contains(stderr, "summary: 3 done, 0 incomplete, 0 failed") {
			t.Errorf("--collect: status %d, %s", code, stderr)
		}
	}

	// 1. The array as emitted.
	out1 := filepath.Join(work, "sweep1")
	job := submit(emit(out1))
	waitIdle(t, 3*time.Minute, work)
	checkTasks(t, job, 3, "COMPLETED")
	doneOnce(out1, map[string]int{"seed=0": 1, "seed=1": 1, "seed=2": 1})
	collect(out1)
	tFirst := time.Now()

	// 2. Task 0 cancelled while it trains, then the array resubmitted.
	out2 := filepath.Join(work, "sweep2")
	batch := emit(out2)
	job = submit(batch)
	latest := filepath.Join(sweep.RunDir(out2, "seed=0"), "checkpoints", "latest")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(latest); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task 0 wrote no checkpoint within 2 minutes; queue:\n%s", squeue())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := exec.Command("scancel", job+"_0").CombinedOutput(); err != nil {
		t.Fatalf("scancel %s_0: %v\n%s", job, err, b)
	}
	waitIdle(t, 3*time.Minute, work)
	st, _ := sweep.ReadStatus(sweep.RunDir(out2, "seed=0"))
	if st == nil || st.State != sweep.StateInterrupted || st.Step >= 600 || st.Step < 100 {
		t.Fatalf("after scancel, task 0's run is %+v; want interrupted with a checkpoint before step 600", st)
	}
	checkTasks(t, job+"_0", 1, "CANCELLED")
	job = submit(batch)
	waitIdle(t, 3*time.Minute, work)
	checkTasks(t, job, 3, "COMPLETED")
	doneOnce(out2, map[string]int{"seed=0": 2, "seed=1": 1, "seed=2": 1})
	for i, n := range names[1:] {
		// The resubmitted tasks of finished runs did nothing.
		b, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("slurm-gridgpu-sweep-slurm-%s_%d.out", job, i+1)))
		if !strings.Contains(string(b), n+": done before, skipped") {
			t.Errorf("resubmitted task %d did not skip its finished run:\n%s", i+1, b)
		}
	}
	collect(out2)
	t.Logf("Slurm set-up %.0f s, gridgpu build %.0f s, first array %.0f s, cancel and resubmit %.0f s",
		tSlurm.Sub(t0).Seconds(), tStarted.Sub(tSlurm).Seconds(), tFirst.Sub(tStarted).Seconds(), time.Since(tFirst).Seconds())
}

// goCommand is the go command that runs this test.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func squeue() string {
	b, _ := exec.Command("squeue", "-a", "-r").CombinedOutput()
	return string(b)
}

// queueEmpty waits up to limit for the queue to be empty.
func queueEmpty(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		b, err := exec.Command("squeue", "-h", "-r", "-o", "%i %T").CombinedOutput()
		if err == nil && len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("squeue: %v: %s", err, b)
			}
			return fmt.Errorf("after %v:\n%s", limit, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitIdle waits until the queue is empty; on a timeout it fails the test
// with the queue and the tasks' output files in work.
func waitIdle(t *testing.T, limit time.Duration, work string) {
	t.Helper()
	if err := queueEmpty(limit); err != nil {
		var logs strings.Builder
		outs, _ := filepath.Glob(filepath.Join(work, "slurm-*.out"))
		for _, o := range outs {
			b, _ := os.ReadFile(o)
			fmt.Fprintf(&logs, "--- %s\n%s", o, b)
		}
		t.Fatalf("Slurm jobs still queued: %v\n%s", err, logs.String())
	}
}

// checkTasks checks that job (an array, or one task of it) has n tasks, all
// in state want, with exit code 0 unless cancelled.
func checkTasks(t *testing.T, job string, n int, want string) {
	t.Helper()
	b, err := exec.Command("scontrol", "-o", "show", "job", job).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol show job %s: %v\n%s", job, err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n {
		t.Errorf("job %s has %d tasks, want %d:\n%s", job, len(lines), n, b)
	}
	for _, l := range lines {
		if !strings.Contains(l, " JobState="+want+" ") || want == "COMPLETED" && !strings.Contains(l, " ExitCode=0:0 ") {
			t.Errorf("job %s: a task is not %s:\n%s", job, want, l)
		}
	}
}

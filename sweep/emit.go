package sweep

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/train"
)

// EmitOptions describe a cluster batch file for a sweep of N runs: one task
// per run, each "gridgpu sweep --spec Spec --out Out --index I", and on a
// GPU sweep "--devices cuda:0" with one GPU per task.
type EmitOptions struct {
	Spec, Out string // as the tasks will see them
	N         int    // runs
	Binary    string // the gridgpu command in the task ("gridgpu")
	JobName   string // "" derives one from the sweep file's name
	// GPU asks for one GPU per task and runs each task's run on it
	// (--devices cuda:0, the task's only visible GPU); false runs on the
	// CPU and asks for no GPU. EmitDevice chooses it from the runs.
	GPU  bool
	CPUs int // CPU cores per task (0: the cluster's default); also the task's thread count
	// Parallel limits how many tasks run at once (Slurm: --array=...%K;
	// Kubernetes: parallelism); 0 means no limit (Kubernetes: all N).
	Parallel int
	Time     string // Slurm --time ("" leaves the partition's default)
	Image    string // Kubernetes container image
	PVC      string // Kubernetes PersistentVolumeClaim holding Spec and Out
	Mount    string // where the claim is mounted, and the working directory
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func (o *EmitOptions) jobName() string {
	name := o.JobName
	if name == "" {
		base := strings.TrimSuffix(filepath.Base(o.Spec), filepath.Ext(o.Spec))
		name = "gridgpu-sweep-" + base
	}
	// A Kubernetes object name (DNS-1123 label), also fine for Slurm.
	name = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 52 { // leaves room for the pod suffixes Kubernetes adds
		name = strings.TrimRight(name[:52], "-")
	}
	if name == "" {
		name = "gridgpu-sweep"
	}
	return name
}

func (o *EmitOptions) binary() string {
	if o.Binary == "" {
		return "gridgpu"
	}
	return o.Binary
}

// TaskArgs is the command line of task index (a literal such as
// "$SLURM_ARRAY_TASK_ID" for the batch files).
func (o *EmitOptions) TaskArgs(index string) []string {
	args := []string{o.binary(), "sweep", "--spec", o.Spec, "--out", o.Out, "--index", index}
	if o.GPU {
		// The scheduler shows each task only the GPU it was given, as
		// device 0.
		args = append(args, "--devices", "cuda:0")
	}
	return args
}

// EmitDevice decides whether a batch file's tasks need a GPU: devices is the
// --devices list ("" for none), runDevices each run's run.device. With
// --devices the list decides (cpu, or CUDA devices); otherwise the runs' own
// devices, which must then be all CPU or all CUDA.
func EmitDevice(devices string, runDevices []string) (gpu bool, err error) {
	if devices != "" {
		cpu, cuda := false, false
		for _, d := range strings.Split(devices, ",") {
			d = strings.TrimSpace(d)
			dev, err := train.ParseDevice(d)
			switch {
			case err != nil:
				return false, fmt.Errorf("--devices: %q is not a device; give cpu or cuda", d)
			case dev.IsCPU():
				cpu = true
			default:
				cuda = true
			}
		}
		if cpu && cuda {
			return false, fmt.Errorf("--devices %s: a batch file runs every task on the CPU or every task on a GPU; give cpu or cuda", devices)
		}
		return cuda, nil
	}
	var cpuRuns, cudaRuns int
	for _, d := range runDevices {
		// Validated already (train.Config.Validate).
		if dev, err := train.ParseDevice(d); err == nil && dev.IsCUDA() {
			cudaRuns++
		} else {
			cpuRuns++
		}
	}
	if cpuRuns > 0 && cudaRuns > 0 {
		return false, fmt.Errorf("the sweep has %d runs on the CPU and %d on CUDA (run.device); a batch file runs every task on the CPU or every task on a GPU: pass --devices cpu or --devices cuda", cpuRuns, cudaRuns)
	}
	return cudaRuns > 0, nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Slurm writes a batch script for a job array of N tasks, one GPU each on a
// GPU sweep. Each task runs as many threads as it has cores
// (SLURM_CPUS_PER_TASK).
func Slurm(o EmitOptions) ([]byte, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("the sweep has no runs")
	}
	var b bytes.Buffer
	array := fmt.Sprintf("0-%d", o.N-1)
	if o.Parallel > 0 {
		array += fmt.Sprintf("%%%d", o.Parallel)
	}
	per := "one task per run, on the CPU"
	if o.GPU {
		per = "one task and one GPU per run"
	}
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# Slurm job array for the gridgpu sweep %s: %d runs, %s.\n", o.Spec, o.N, per)
	fmt.Fprintf(&b, "# Submit from the directory the paths are relative to: sbatch THIS-FILE\n")
	fmt.Fprintf(&b, "# A task skips a finished run and resumes an interrupted one, so resubmitting is safe.\n")
	fmt.Fprintf(&b, "# When the array is done: %s sweep --spec %s --out %s --collect\n", o.binary(), shellQuote(o.Spec), shellQuote(o.Out))
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", o.jobName())
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", array)
	fmt.Fprintf(&b, "#SBATCH --ntasks=1\n")
	if o.GPU {
		fmt.Fprintf(&b, "#SBATCH --gres=gpu:1\n")
	}
	if o.CPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPUs)
	}
	if o.Time != "" {
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", o.Time)
	}
	fmt.Fprintf(&b, "#SBATCH --output=slurm-%%x-%%A_%%a.out\n")
	fmt.Fprintf(&b, "#SBATCH --open-mode=append\n")
	fmt.Fprintf(&b, "# SIGTERM to the sweep 2 minutes before the time limit: the run writes a checkpoint;\n")
	fmt.Fprintf(&b, "# requeued or resubmitted, the task resumes from it.\n")
	fmt.Fprintf(&b, "#SBATCH --signal=B:TERM@120\n")
	fmt.Fprintf(&b, "#SBATCH --requeue\n")
	fmt.Fprintf(&b, "set -eu\n")
	fmt.Fprintf(&b, "# As many threads as the task has cores (Go would otherwise use every core of the node).\n")
	fmt.Fprintf(&b, "if [ -n \"${SLURM_CPUS_PER_TASK:-}\" ]; then export GOMAXPROCS=\"$SLURM_CPUS_PER_TASK\"; fi\n")
	var words []string
	for _, a := range o.TaskArgs("$SLURM_ARRAY_TASK_ID") {
		if a == "$SLURM_ARRAY_TASK_ID" {
			words = append(words, `"$SLURM_ARRAY_TASK_ID"`)
		} else {
			words = append(words, shellQuote(a))
		}
	}
	// exec: the sweep itself receives Slurm's signals.
	fmt.Fprintf(&b, "exec %s\n", strings.Join(words, " "))
	return b.Bytes(), nil
}

// Kubernetes manifest types, in the field order kubectl shows.
type (
	k8sJob struct {
		APIVersion string  `yaml:"apiVersion"`
		Kind       string  `yaml:"kind"`
		Metadata   k8sMeta `yaml:"metadata"`
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			BackoffLimit   int    `yaml:"backoffLimit"`
			Template       struct {
				Metadata k8sMeta `yaml:"metadata"`
				Spec     struct {
					RestartPolicy                 string         `yaml:"restartPolicy"`
					TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
					Containers                    []k8sContainer `yaml:"containers"`
					Volumes                       []k8sVolume    `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sMeta struct {
		Name   string            `yaml:"name,omitempty"`
		Labels map[string]string `yaml:"labels,omitempty"`
	}
	k8sContainer struct {
		Name       string   `yaml:"name"`
		Image      string   `yaml:"image"`
		WorkingDir string   `yaml:"workingDir"`
		Command    []string `yaml:"command"`
		Args       []string `yaml:"args"`
		Env        []k8sEnv `yaml:"env"`
		Resources  struct {
			Requests map[string]string `yaml:"requests,omitempty"`
			Limits   map[string]string `yaml:"limits,omitempty"`
		} `yaml:"resources"`
		VolumeMounts []k8sMount `yaml:"volumeMounts"`
	}
	k8sEnv struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef         *k8sFieldRef    `yaml:"fieldRef,omitempty"`
			ResourceFieldRef *k8sResourceRef `yaml:"resourceFieldRef,omitempty"`
		} `yaml:"valueFrom"`
	}
	k8sFieldRef struct {
		FieldPath string `yaml:"fieldPath"`
	}
	k8sResourceRef struct {
		Resource string `yaml:"resource"`
		Divisor  string `yaml:"divisor"`
	}
	k8sMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	}
	k8sVolume struct {
		Name string `yaml:"name"`
		PVC  struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
)

// Kubernetes writes a batch/v1 Indexed Job with N completions, one GPU per
// pod on a GPU sweep, the claim mounted at Mount (also the working
// directory, so relative Spec and Out paths are on the volume).
func Kubernetes(o EmitOptions) ([]byte, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("the sweep has no runs")
	}
	if o.Image == "" || o.PVC == "" || o.Mount == "" {
		return nil, fmt.Errorf("a Kubernetes Job needs an image, a volume claim and a mount path")
	}
	var j k8sJob
	name := o.jobName()
	j.APIVersion, j.Kind = "batch/v1", "Job"
	j.Metadata = k8sMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/name": "gridgpu"}}
	j.Spec.CompletionMode = "Indexed"
	j.Spec.Completions = o.N
	j.Spec.Parallelism = o.N
	if o.Parallel > 0 {
		j.Spec.Parallelism = min(o.Parallel, o.N)
	}
	// A pod that fails (a preempted node, a failed run) is restarted and
	// resumes from its checkpoint; this bounds the retries of the whole Job.
	j.Spec.BackoffLimit = max(6, 2*o.N)
	j.Spec.Template.Metadata = k8sMeta{Labels: map[string]string{"app.kubernetes.io/name": "gridgpu", "gridgpu/sweep": name}}
	ps := &j.Spec.Template.Spec
	ps.RestartPolicy = "OnFailure"
	// SIGTERM first: the trainer finishes its step and writes a checkpoint.
	ps.TerminationGracePeriodSeconds = 120
	c := k8sContainer{Name: "sweep", Image: o.Image, WorkingDir: o.Mount}
	args := o.TaskArgs("$(JOB_COMPLETION_INDEX)")
	c.Command, c.Args = args[:1], args[1:]
	var env k8sEnv
	env.Name = "JOB_COMPLETION_INDEX"
	env.ValueFrom.FieldRef = &k8sFieldRef{FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
	c.Env = []k8sEnv{env}
	if o.CPUs > 0 {
		c.Resources.Requests = map[string]string{"cpu": fmt.Sprint(o.CPUs)}
		// As many threads as the pod requested cores (Go would otherwise
		// use every core of the node; it follows only a CPU limit).
		var threads k8sEnv
		threads.Name = "GOMAXPROCS"
		threads.ValueFrom.ResourceFieldRef = &k8sResourceRef{Resource: "requests.cpu", Divisor: "1"}
		c.Env = append(c.Env, threads)
	}
	if o.GPU {
		c.Resources.Limits = map[string]string{"nvidia.com/gpu": "1"}
	}
	c.VolumeMounts = []k8sMount{{Name: "sweep", MountPath: o.Mount}}
	ps.Containers = []k8sContainer{c}
	var v k8sVolume
	v.Name = "sweep"
	v.PVC.ClaimName = o.PVC
	ps.Volumes = []k8sVolume{v}

	var b bytes.Buffer
	per := "one pod per run, on the CPU"
	if o.GPU {
		per = "one pod and one GPU per run"
	}
	fmt.Fprintf(&b, "# Kubernetes Indexed Job for the gridgpu sweep %s: %d runs, %s.\n", o.Spec, o.N, per)
	fmt.Fprintf(&b, "# The claim %s is mounted at %s, the working directory: relative paths are on it,\n", o.PVC, o.Mount)
	fmt.Fprintf(&b, "# so copy the sweep file there first. Apply with: kubectl apply -f THIS-FILE\n")
	fmt.Fprintf(&b, "# A pod skips a finished run and resumes an interrupted one. When the Job is done:\n")
	fmt.Fprintf(&b, "#   %s sweep --spec %s --out %s --collect   (in %s)\n", o.binary(), o.Spec, o.Out, o.Mount)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&j); err != nil {
		return nil, err
	}
	enc.Close()
	return b.Bytes(), nil
}

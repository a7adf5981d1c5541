package k8scheck

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/gridgpu/gridgpu/sweep"
)

// decodeJob decodes a manifest as the API server would, strictly: a field
// that batch/v1 Job does not have, or a value of the wrong type, fails.
func decodeJob(t *testing.T, manifest []byte) *batchv1.Job {
	t.Helper()
	var j batchv1.Job
	if err := yaml.UnmarshalStrict(manifest, &j); err != nil {
		t.Fatalf("the manifest is not a batch/v1 Job: %v\n%s", err, manifest)
	}
	return &j
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	for _, bad := range []string{
		"apiVersion: batch/v1\nkind: Job\nspec:\n  completionsMode: Indexed\n",
		"apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          imag: x\n",
		"apiVersion: batch/v1\nkind: Job\nspec:\n  completions: four\n",
	} {
		var j batchv1.Job
		if err := yaml.UnmarshalStrict([]byte(bad), &j); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

func TestEmittedJobIsValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    sweep.EmitOptions
	}{
		{"cpu", sweep.EmitOptions{Spec: "sweeps/smoke.yaml", Out: "runs/sweep-smoke", N: 4, CPUs: 2, Image: "gridgpu:latest", PVC: "gridgpu-sweeps", Mount: "/sweeps"}},
		{"gpu", sweep.EmitOptions{Spec: "sweeps/ablations.yaml", Out: "out/abl", N: 12, GPU: true, Parallel: 3, Image: "registry.example/gridgpu:1", PVC: "data", Mount: "/data", JobName: "Ablations_2026"}},
		{"no-cpus", sweep.EmitOptions{Spec: "s.yaml", Out: "o", N: 1, Image: "gridgpu", PVC: "p", Mount: "/m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			manifest, err := sweep.Kubernetes(o)
			if err != nil {
				t.Fatal(err)
			}
			j := decodeJob(t, manifest)
			if j.APIVersion != "batch/v1" || j.Kind != "Job" {
				t.Errorf("apiVersion %q kind %q", j.APIVersion, j.Kind)
			}
			for _, msg := range validation.IsDNS1123Label(j.Name) {
				t.Errorf("metadata.name %q: %s", j.Name, msg)
			}
			for _, labels := range []map[string]string{j.Labels, j.Spec.Template.Labels} {
				for k, v := range labels {
					for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
						t.Errorf("label %s=%s: %s", k, v, msg)
					}
				}
			}
			s := j.Spec
			if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
				t.Errorf("completionMode %v, want Indexed", s.CompletionMode)
			}
			wantPar := int32(o.N)
			if o.Parallel > 0 {
				wantPar = int32(o.Parallel)
			}
			if s.Completions == nil || *s.Completions != int32(o.N) || s.Parallelism == nil || *s.Parallelism != wantPar {
				t.Errorf("completions %v parallelism %v, want %d and %d", s.Completions, s.Parallelism, o.N, wantPar)
			}
			ps := s.Template.Spec
			// A Job's pods may restart OnFailure or Never, not Always.
			if ps.RestartPolicy != corev1.RestartPolicyOnFailure && ps.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q", ps.RestartPolicy)
			}
			if len(ps.Containers) != 1 {
				t.Fatalf("%d containers", len(ps.Containers))
			}
			c := ps.Containers[0]
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				t.Errorf("container name %q: %s", c.Name, msg)
			}
			if c.Image != o.Image || c.WorkingDir != o.Mount {
				t.Errorf("image %q workingDir %q", c.Image, c.WorkingDir)
			}
			// $(VAR) in args expands only for variables the container
			// defines.
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			idx, ok := env["JOB_COMPLETION_INDEX"]
			if !ok || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
				idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				t.Errorf("JOB_COMPLETION_INDEX: %+v", idx)
			}
			args := strings.Join(append(c.Command, c.Args...), " ")
			if !strings.Contains(args, " --index $(JOB_COMPLETION_INDEX)") {
				t.Errorf("command %q does not pass the completion index", args)
			}
			// One GPU per pod exactly when the sweep runs on CUDA.
			gpu, hasGPU := c.Resources.Limits["nvidia.com/gpu"]
			if hasGPU != o.GPU || hasGPU && gpu.Cmp(resource.MustParse("1")) != 0 {
				t.Errorf("GPU limit %v (set: %v), want one GPU: %v", gpu.String(), hasGPU, o.GPU)
			}
			if o.GPU != strings.Contains(args, "--devices cuda:0") {
				t.Errorf("command %q: --devices cuda:0 passed: %v, want %v", args, !o.GPU, o.GPU)
			}
			// The thread count follows the CPU request.
			cpu, hasCPU := c.Resources.Requests[corev1.ResourceCPU]
			th, hasTh := env["GOMAXPROCS"]
			if hasCPU != (o.CPUs > 0) || hasCPU && cpu.Value() != int64(o.CPUs) || hasTh != hasCPU {
				t.Errorf("cpu request %v (%v), GOMAXPROCS %+v, want %d cores", cpu.String(), hasCPU, th, o.CPUs)
			}
			if hasTh && (th.ValueFrom == nil || th.ValueFrom.ResourceFieldRef == nil || th.ValueFrom.ResourceFieldRef.Resource != "requests.cpu" ||
				th.ValueFrom.ResourceFieldRef.Divisor.Cmp(resource.MustParse("1")) != 0) {
				t.Errorf("GOMAXPROCS: %+v", th.ValueFrom)
			}
			if len(ps.Volumes) != 1 || ps.Volumes[0].PersistentVolumeClaim == nil || ps.Volumes[0].PersistentVolumeClaim.ClaimName != o.PVC {
				t.Fatalf("volumes %+v", ps.Volumes)
			}
			if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != ps.Volumes[0].Name || c.VolumeMounts[0].MountPath != o.Mount {
				t.Errorf("volumeMounts %+v", c.VolumeMounts)
			}
		})
	}
}

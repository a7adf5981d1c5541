package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/internal/testpy"
	"github.com/gridgpu/gridgpu/internal/testutil"
)

// TestGPUSummary runs scripts/gpu-summary.py, the GPU check's summary, on
// the files the check's stages write (hand-made, with values whose ratios
// are computed here), and on a directory where every stage failed to
// write anything: the summary runs only on a GPU machine, so a mistake in
// it would otherwise show there first.
func TestGPUSummary(t *testing.T) {
	py := testpy.Python3(t)
	dir := t.TempDir()
	write := func(name, body string) { testfs.WriteFile(t, dir, name, body) }
	write("stage_rc.txt", "tests 1\nbench 0\n")
	write("defaults.txt", "auto tiled\n")
	write("tests.txt", "--- PASS: TestA (0.10s)\n--- FAIL: TestB (0.20s)\n    --- PASS: TestB/x (0.01s)\n")
	write("tests_distinct.txt", "gradients within 2.5e-06\nlosses within 1e-07\n")
	write("bench_gridgpu.json", `{"device": "cuda:0 (GPU)", "B": 130, "T": 60, "N": 128, "H": 256, "microbatches": 2,
		"augment": "permute", "mlp_rows": 60, "seconds_per_step": 0.02, "step_times": [0.02],
		"engine_buffer_bytes": 1073741824, "device_bytes_used_by_engine": 1073741824, "device_total_bytes": 8e10,
		"stage_ms_one_microbatch": {"pair_tile": 3.0, "rnn_forward": 1.0}}`)
	write("torch_eager.json", `{"median_s_per_step": 0.05, "peak_device_mb": 2048, "loss": 0.1}`)
	write("bench_lab_gemm.json", `{"simt": {"forward W=h2 W2^T": 30.0}, "3xtf32": {"forward W=h2 W2^T": 40.0}}`)
	out := testpy.Run(t, py, "", "scripts/gpu-summary.py", dir, "NVIDIA H100")
	for _, want := range []string{
		"card: NVIDIA H100; defaults this run: GEMM auto, pairwise tiled",
		"tests: 2 passed, 1 failed",
		"speed-up vs torch_eager: 5.00x default",
		"kernel lab, 3xtf32 (TFLOP/s): forward W=h2 W2^T: 40.0",
		"stages, default (ms, one microbatch): pair_tile 3.00, rnn_forward 1.00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	var s map[string]any
	testutil.ReadJSON(t, filepath.Join(dir, "summary.json"), &s)
	for key, want := range map[string]float64{
		"gridgpu_s_per_microbatch":             0.01,
		"speedup_vs_torch_eager":               5,
		"memory_ratio_vs_torch_eager":          0.5,
		"distinct_max_relative_error":          2.5e-6,
		"tests_failed":                         1,
		"gridgpu_buffers_gib":                  1,
		"torch_eager_peak_device_gib":          2,
		"gridgpu_effective_tflops_big_matmuls": 2 * 3 * 2 * 60 * 128 * 128 * 256 / 0.02 / 1e12,
	} {
		got, ok := s[key].(float64)
		if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("summary.json %s = %v, want %g", key, s[key], want)
		}
	}
	if rc, _ := json.Marshal(s["stage_exit_codes"]); string(rc) != `{"bench":"0","tests":"1"}` {
		t.Errorf("stage_exit_codes %s", rc)
	}

	// Nothing written but the exit codes: every figure n/a, no error.
	empty := t.TempDir()
	testfs.WriteFile(t, empty, "stage_rc.txt", "tests 124\n")
	out = testpy.Run(t, py, "", "scripts/gpu-summary.py", empty, "card")
	if !strings.Contains(out, "tests: 0 passed, 0 failed") || !strings.Contains(out, "largest error reported n/a") {
		t.Errorf("summary of an empty run:\n%s", out)
	}
}

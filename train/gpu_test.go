package train

import (
	"fmt"
	"strings"
	"testing"
)

func TestGPUSection(t *testing.T) {
	c, err := Preset("paper")
	if err != nil {
		t.Fatal(err)
	}
	if c.GPU != DefaultGPU() {
		t.Fatalf("paper preset gpu section %+v, want %+v", c.GPU, DefaultGPU())
	}
	// Written to config.yaml (and so to checkpoints) and read back.
	c.GPU = GPUConfig{GEMM: GEMMSIMT, Pair: PairRowBlock}
	if !strings.Contains(string(c.YAML()), "gpu:\n  gemm: simt\n  pair: rowblock\n") {
		t.Errorf("YAML lacks the gpu section:\n%s", c.YAML())
	}
	back, _ := Preset("paper")
	if err := ApplyYAML(&back, c.YAML(), "test"); err != nil || back.GPU != c.GPU {
		t.Errorf("round trip: %+v, %v", back.GPU, err)
	}
	// A config without the section (an older checkpoint's) keeps the defaults.
	old, _ := Preset("paper")
	if err := ApplyYAML(&old, []byte("run: {steps: 10}\n"), "test"); err != nil || old.GPU != DefaultGPU() {
		t.Errorf("without a gpu section: %+v, %v", old.GPU, err)
	}
	// Flags.
	for _, p := range []string{"gpu.gemm", "gpu.pair"} {
		if f, ok := FieldByPath(p); !ok || f.Flag != "gpu-"+strings.TrimPrefix(p, "gpu.") {
			t.Errorf("%s: flag %q (found %v)", p, f.Flag, ok)
		}
	}
	// Unknown values: one line naming the key, its flag and the values.
	bad, _ := Preset("paper")
	bad.GPU.GEMM = "tf32"
	err = bad.Validate()
	if err == nil || err.Error() != `gpu.gemm (--gpu-gemm) = "tf32": must be one of auto, simt, cublas` {
		t.Errorf("bad gemm: %v", err)
	}
	// A former value whose kernels moved to the lab says so.
	for _, v := range []string{"3xtf32", "cublas-tf32"} {
		bad.GPU.GEMM = v
		want := fmt.Sprintf(`gpu.gemm (--gpu-gemm) = %q: must be one of auto, simt, cublas (%s is a variant of the kernel lab, cuda/lab, measured by its benchmarks, not a training choice)`, v, v)
		if err := bad.Validate(); err == nil || err.Error() != want {
			t.Errorf("lab gemm %s: %v", v, err)
		}
	}
	bad.GPU = GPUConfig{GEMM: GEMMAuto, Pair: "tile"}
	if err := bad.Validate(); err == nil || err.Error() != `gpu.pair (--gpu-pair) = "tile": must be one of tiled, rowblock` {
		t.Errorf("bad pair: %v", err)
	}
}

func TestGPUEnvOverrides(t *testing.T) {
	env := map[string]string{EnvGEMM: "simt", EnvPair: "tiled"}
	getenv := func(k string) string { return env[k] }
	c, _ := Preset("paper")
	// The CPU ignores the section: nothing changes.
	if notes, err := ApplyGPUEnv(&c.GPU, c.Run.Device, getenv); err != nil || len(notes) != 0 || c.GPU != DefaultGPU() {
		t.Errorf("cpu: %v, %v, %+v", notes, err, c.GPU)
	}
	c.Run.Device = "cuda:0"
	notes, err := ApplyGPUEnv(&c.GPU, c.Run.Device, getenv)
	if err != nil || c.GPU.GEMM != GEMMSIMT || c.GPU.Pair != PairTiled {
		t.Fatalf("cuda: %+v, %v", c.GPU, err)
	}
	// One note, for the value that changed.
	if len(notes) != 1 || notes[0] != "GRIDGPU_GEMM=simt overrides gpu.gemm (auto -> simt)" {
		t.Errorf("notes %q", notes)
	}
	env[EnvPair] = "rows"
	if _, err := ApplyGPUEnv(&c.GPU, c.Run.Device, getenv); err == nil || !strings.Contains(err.Error(), `GRIDGPU_PAIR="rows": must be one of tiled, rowblock`) {
		t.Errorf("bad override: %v", err)
	}
}

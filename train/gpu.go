package train

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// GPUConfig is the CUDA engine's choice of kernels (the config section gpu).
// The choices change speed and, at rounding level, results, so they are part
// of the configuration that config.yaml and checkpoints record. The CPU
// engine ignores the section.
type GPUConfig struct {
	// GEMM selects the large matrix products (the last MLP layer forward,
	// its weight and input gradients).
	GEMM string `yaml:"gemm" json:"gemm" flag:"gpu-gemm" usage:"CUDA: the large matrix products: auto (cuBLAS FP32 where a libcublas loads, else simt), simt (own FP32 kernels) or cublas (FP32, requires libcublas); ignored on the CPU"`
	// Pair selects the pairwise-loss kernel.
	Pair string `yaml:"pair" json:"pair" flag:"gpu-pair" usage:"CUDA: the pairwise-loss kernel: tiled (register-tiled; for N > 128 rowblock runs instead) or rowblock (the first kernel, 32 rows per block); ignored on the CPU"`
}

// Values of gpu.gemm and gpu.pair.
const (
	GEMMAuto   = "auto"
	GEMMSIMT   = "simt"
	GEMMCuBLAS = "cublas"

	PairTiled    = "tiled"
	PairRowBlock = "rowblock"
)

// GEMMKinds and PairKinds list the allowed values, the default first.
var (
	GEMMKinds = []string{GEMMAuto, GEMMSIMT, GEMMCuBLAS}
	PairKinds = []string{PairTiled, PairRowBlock}
)

// labGEMM are former gpu.gemm values whose products live on in the kernel
// lab (cuda/lab), for study, and no longer train: a config naming one is
// told so.
var labGEMM = map[string]bool{"3xtf32": true, "cublas-tf32": true}

// notOneOf is the error for a value v outside allowed, set as the setting
// says (`gpu.gemm (--gpu-gemm) = "x"`, `GRIDGPU_GEMM="x"`).
func notOneOf(setting, v string, allowed []string) string {
	msg := fmt.Sprintf("%s: must be one of %s", setting, strings.Join(allowed, ", "))
	if labGEMM[v] {
		msg += fmt.Sprintf(" (%s is a variant of the kernel lab, cuda/lab, measured by its benchmarks, not a training choice)", v)
	}
	return msg
}

// DefaultGPU is every preset's gpu section.
func DefaultGPU() GPUConfig { return GPUConfig{GEMM: GEMMAuto, Pair: PairTiled} }

// Validate reports every value outside GEMMKinds or PairKinds, in one line
// naming each key, its flag and the allowed values.
func (g GPUConfig) Validate() error {
	var errs []string
	for _, k := range []struct {
		path, v string
		allowed []string
	}{{"gpu.gemm", g.GEMM, GEMMKinds}, {"gpu.pair", g.Pair, PairKinds}} {
		if !slices.Contains(k.allowed, k.v) {
			f, _ := FieldByPath(k.path)
			errs = append(errs, notOneOf(fmt.Sprintf("%s (--%s) = %q", k.path, f.Flag, k.v), k.v, k.allowed))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Environment variables that override the gpu section, for debugging and
// for the CUDA tests (whose engines have no config file).
const (
	EnvGEMM = "GRIDGPU_GEMM"
	EnvPair = "GRIDGPU_PAIR"
)

// ApplyEnv replaces g's values by those of GRIDGPU_GEMM and GRIDGPU_PAIR
// where getenv reports them set (non-empty). It returns one note per
// override that changed a value, for the run log, or an error naming the
// variable and the allowed values.
func (g *GPUConfig) ApplyEnv(getenv func(string) string) ([]string, error) {
	var notes []string
	for _, o := range []struct {
		env, path string
		field     *string
		allowed   []string
	}{{EnvGEMM, "gpu.gemm", &g.GEMM, GEMMKinds}, {EnvPair, "gpu.pair", &g.Pair, PairKinds}} {
		v := getenv(o.env)
		if v == "" {
			continue
		}
		if !slices.Contains(o.allowed, v) {
			return notes, fmt.Errorf("%s (it overrides %s)", notOneOf(fmt.Sprintf("%s=%q", o.env, v), v, o.allowed), o.path)
		}
		if v != *o.field {
			notes = append(notes, fmt.Sprintf("%s=%s overrides %s (%s -> %s)", o.env, v, o.path, *o.field, v))
			*o.field = v
		}
	}
	return notes, nil
}

// ApplyGPUEnv applies the environment overrides (see GPUConfig.ApplyEnv) to
// g, a config's gpu section, when the config trains on dev (its run.device,
// not yet validated) and that is a CUDA device; on the CPU the section is
// unused and left as it is, and a device that is not one is left to
// Config.Validate to refuse.
func ApplyGPUEnv(g *GPUConfig, dev string, getenv func(string) string) ([]string, error) {
	if d, err := ParseDevice(dev); err != nil || !d.IsCUDA() {
		return nil, nil
	}
	return g.ApplyEnv(getenv)
}

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
	GEMM string `yaml:"gemm" json:"gemm" flag:"gpu-gemm" usage:"CUDA: the large matrix products: auto (cuBLAS FP32 where a libcublas loads, else simt), simt (own FP32 kernels), cublas (FP32, requires libcublas), 3xtf32 (own tensor-core kernels, ~2e-6 relative error) or cublas-tf32 (TF32, ~1e-3: for speed measurements); ignored on the CPU"`
	// Pair selects the pairwise-loss kernel.
	Pair string `yaml:"pair" json:"pair" flag:"gpu-pair" usage:"CUDA: the pairwise-loss kernel: tiled (register-tiled; for N > 128 rowblock runs instead) or rowblock (the first kernel, 32 rows per block); ignored on the CPU"`
}

// Values of gpu.gemm and gpu.pair.
const (
	GEMMAuto       = "auto"
	GEMMSIMT       = "simt"
	GEMMCuBLAS     = "cublas"
	GEMM3xTF32     = "3xtf32"
	GEMMCuBLASTF32 = "cublas-tf32"

	PairTiled    = "tiled"
	PairRowBlock = "rowblock"
)

// GEMMKinds and PairKinds list the allowed values, the default first.
var (
	GEMMKinds = []string{GEMMAuto, GEMMSIMT, GEMMCuBLAS, GEMM3xTF32, GEMMCuBLASTF32}
	PairKinds = []string{PairTiled, PairRowBlock}
)

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
			errs = append(errs, fmt.Sprintf("%s (--%s) = %q: must be one of %s", k.path, f.Flag, k.v, strings.Join(k.allowed, ", ")))
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
			return notes, fmt.Errorf("%s=%q: must be one of %s (it overrides %s)", o.env, v, strings.Join(o.allowed, ", "), o.path)
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

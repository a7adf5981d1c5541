//go:build gridgpu_cuda

package cuda

import (
	"embed"
	"math/rand/v2"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
)

// The kernel lab (lab/, lab/README.md): kernel variants kept for study
// beside the trainer's kernels, with the check and the benchmark that
// measure them against the production kernels. The trainer never loads
// them; these tests do, into their own engine.

//go:embed lab/*.ptx
var labPTX embed.FS

// loadLab loads the lab's modules into e's device (on the emulator they
// are compiled in, and loading registers nothing).
func loadLab(t testing.TB, e *Engine) {
	t.Helper()
	e.must(t, func() error { return e.d.loadPTX(labPTX, "lab/*.ptx") })
}

// TestLabGEMM3xTF32 checks the lab's 3xTF32 tensor-core GEMM (lab/gemm_tc.cu)
// as TestGEMM checks the production kernels: same shapes, epilogues and
// tolerance. On the emulator, the tensor-core instructions are its C++
// models (cuda/emu/emu.cc), so there it checks the kernel's indexing
// against the PTX ISA's fragment layout; on a GPU, the hardware.
func TestLabGEMM3xTF32(t *testing.T) {
	seed := freshSeed(t)
	e := newTestEngine(t, size{2, 3, 8, 8}, graph.PaperLoss(), seed)
	loadLab(t, e)
	checkGEMM(t, e, rand.New(rand.NewPCG(seed, 1)), gemmFamily{"3xTF32", "gemm_tc_", (*device).gemmTiles})
}

// BenchmarkLabGEMMPaper times the three large products of a paper-size
// microbatch (as BenchmarkGEMMPaper) for every family side by side: the
// production FP32 kernels (simt) and cuBLAS FP32 (cublas), the lab's
// 3xTF32 kernels (3xtf32) and cuBLAS in its TF32 tensor-core mode
// (cublas-tf32, about 1e-3 relative error: a bound on what tensor cores
// could give). The cuBLAS rows need a libcublas. GRIDGPU_LAB_JSON=FILE
// writes the rates, by family and product.
func BenchmarkLabGEMMPaper(b *testing.B) {
	e := gemmBenchEngine(b)
	loadLab(b, e)
	blas := func(tf32 bool) gemmFamily {
		name := "cublas"
		if tf32 {
			name = "cublas-tf32"
		}
		return gemmFamily{name, "gemm_", func(d *device, kind string, M, N, K int, A devPtr, lda int, B devPtr, ldb int, C devPtr, ldc int, bias devPtr, flags int, _ devPtr, _ int) error {
			return d.gemmBLAS(kind, M, N, K, A, lda, B, ldb, C, ldc, bias, flags)
		}}
	}
	res := map[string]map[string]float64{}
	for _, f := range []gemmFamily{{"simt", "gemm_", (*device).gemmTiles}, {"3xtf32", "gemm_tc_", (*device).gemmTiles}} {
		res[f.name] = benchGEMMFamily(b, e, f)
	}
	// Each cuBLAS open makes the handle the products use (FP32, then TF32).
	for _, tf32 := range []bool{false, true} {
		f := blas(tf32)
		var lib string
		if err := e.d.run(func() (err error) { lib, err = e.d.drv.openBLAS(tf32); return err }); err != nil {
			b.Logf("%s: skipped: %v", f.name, err)
			continue
		}
		b.Logf("%s: %s", f.name, lib)
		res[f.name] = benchGEMMFamily(b, e, f)
	}
	writeBenchJSON(b, "GRIDGPU_LAB_JSON", res)
}

//go:build gridgpu_cuda

package cuda

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strings"
	"unsafe"
)

// The kernels: one PTX module per kernels/*.cu file, compiled by `make ptx`
// (nvcc -ptx -arch=compute_80). PTX rather than machine code: the driver
// compiles it for the GPU at hand (sm_80, sm_90, ...) when the module is
// loaded.
//
//go:embed kernels/*.ptx
var kernelPTX embed.FS

// devPtr is a device address (CUdeviceptr).
type devPtr uintptr

// device owns a CUDA context on one OS thread. The driver API binds the
// current context to the calling thread, and Go moves goroutines between
// threads, so every driver call goes through run, which executes it on one
// goroutine locked to its thread. The driver calls themselves are in
// driver_cu.go (gorgonia.org/cu) or, for tests without a GPU, driver_emu.go
// (the CPU emulator in cuda/emu).
type device struct {
	ordinal int
	name    string
	calls   chan func()
	drv     *driver
	allocs  map[devPtr]int64
	inUse   int64
	// gemmReq is the requested gpu.gemm (auto, simt or cublas); blas says
	// what it resolved to.
	gemmReq string
	// blas names the cuBLAS library the large products use (gpu.gemm
	// cublas, or auto where one loads), or is empty: our own FP32 GEMM
	// kernels (gemm.cu).
	blas string
	// pairRowBlock selects the first pairwise kernel (pair_loss, 32 rows per
	// block) instead of the register-tiled pair_tile: gpu.pair rowblock.
	pairRowBlock bool
	// sync makes every launch synchronous (GRIDGPU_CUDA_SYNC=1), so that an
	// asynchronous kernel fault is reported at the launch that caused it.
	sync bool
}

// loadPTX loads the PTX modules of fsys that match pattern (the trainer's
// kernels/*.ptx; the kernel lab's tests load lab/*.ptx), on the device
// thread.
func (d *device) loadPTX(fsys fs.FS, pattern string) error {
	mods, err := fs.Glob(fsys, pattern)
	if err != nil {
		return err
	}
	for _, mod := range mods {
		src, err := fs.ReadFile(fsys, mod)
		if err != nil {
			return err
		}
		if err := d.drv.load(string(src), ptxEntries(string(src))); err != nil {
			return fmt.Errorf("cuda:%d: loading the kernels of %s (PTX for compute_80; the driver must support it): %v", d.ordinal, mod, err)
		}
	}
	return nil
}

// openDevice creates a context on GPU ordinal ord (train.Device.Index) and
// loads the kernels; gemm and pair are the values of the config's gpu
// section (train.GPUConfig; "" is the default).
func openDevice(ord int, gemm, pair string) (*device, error) {
	d := &device{ordinal: ord, calls: make(chan func()), allocs: map[devPtr]int64{}, drv: &driver{}}
	d.sync = os.Getenv("GRIDGPU_CUDA_SYNC") == "1"
	go d.loop()
	err := d.run(func() error {
		n, err := d.drv.count()
		if err != nil {
			return fmt.Errorf("cuda: counting GPUs: %v", err)
		}
		if ord >= n {
			plural := "s"
			if n == 1 {
				plural = ""
			}
			return fmt.Errorf("device \"cuda:%d\": this machine has %d GPU%s (cuda:0 to cuda:%d)", ord, n, plural, n-1)
		}
		if d.name, err = d.drv.open(ord); err != nil {
			return fmt.Errorf("cuda:%d: %v", ord, err)
		}
		if err := d.loadPTX(kernelPTX, "kernels/*.ptx"); err != nil {
			return err
		}
		switch pair {
		case "", "tiled":
		case "rowblock":
			d.pairRowBlock = true
		default:
			return fmt.Errorf("gpu.pair = %q: must be one of tiled, rowblock", pair)
		}
		switch d.gemmReq = gemm; gemm {
		case "", "auto":
			// FP32 products: cuBLAS where a libcublas is installed, else our
			// SIMT kernels; the products cuBLAS is not given (those with a
			// ReLU or an accumulate-and-bias epilogue) run on the SIMT
			// kernels. FP32 everywhere: tensor-core products (the lab's
			// 3xTF32, about 2e-6 relative error against FP32's 2e-7) are
			// amplified into percent-level gradient differences where the
			// conformal-isometry term is ill-conditioned (steps with tiny
			// speeds; measured on an H200, cuda/NOTES.md).
			d.gemmReq = "auto"
			if d.blas, err = d.drv.openBLAS(false); err != nil {
				d.blas = ""
			}
		case "simt":
		case "cublas":
			if d.blas, err = d.drv.openBLAS(false); err != nil {
				return fmt.Errorf("cuda:%d: gpu.gemm = %s: %v", ord, gemm, err)
			}
		default:
			return fmt.Errorf("gpu.gemm = %q: must be one of auto, simt, cublas", gemm)
		}
		return nil
	})
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// ptxEntries lists the kernel names (".entry name(") of a PTX module.
func ptxEntries(src string) []string {
	var names []string
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, ".visible .entry "); ok {
			if i := strings.IndexByte(rest, '('); i > 0 {
				names = append(names, rest[:i])
			}
		}
	}
	return names
}

func (d *device) loop() {
	runtime.LockOSThread()
	for f := range d.calls {
		f()
	}
}

// run executes f on the device thread with the context current.
func (d *device) run(f func() error) error {
	done := make(chan error, 1)
	d.calls <- func() { done <- f() }
	return <-done
}

func (d *device) close() {
	if d.calls == nil {
		return
	}
	d.run(func() error {
		for p := range d.allocs {
			d.drv.free(p)
		}
		d.allocs = nil
		d.drv.close()
		return nil
	})
	close(d.calls)
	d.calls = nil
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }

// alloc allocates bytes of device memory; on the device thread.
func (d *device) alloc(bytes int64, what string) (devPtr, error) {
	if bytes <= 0 {
		bytes = 4
	}
	p, err := d.drv.alloc(bytes)
	if err != nil {
		free, total, _ := d.drv.memInfo()
		return 0, fmt.Errorf("cuda:%d: out of device memory: %s needs %s (%s allocated so far by gridgpu; %s free of %s); use a smaller batch (B, T) or model: %v",
			d.ordinal, what, gib(bytes), gib(d.inUse), gib(free), gib(total), err)
	}
	d.allocs[p] = bytes
	d.inUse += bytes
	return p, nil
}

func (d *device) free(p devPtr) {
	if n, ok := d.allocs[p]; ok {
		d.drv.free(p)
		d.inUse -= n
		delete(d.allocs, p)
	}
}

// arg is one kernel argument, widened to the 64-bit slot that the launcher
// copies for every parameter. Kernels declare scalar parameters as long long
// or double accordingly (pointers are 64-bit).
type arg uint64

func ptr(p devPtr) arg  { return arg(p) }
func i64(v int) arg     { return arg(uint64(int64(v))) }
func f64(v float64) arg { return arg(math.Float64bits(v)) }

// launch runs kernel name on a gx x gy x gz grid of block-thread blocks;
// on the device thread.
func (d *device) launch(name string, gx, gy, gz, block, shmem int, args ...arg) error {
	vals := make([]uint64, len(args))
	for i, a := range args {
		vals[i] = uint64(a)
	}
	if err := d.drv.launch(name, gx, gy, gz, block, shmem, vals); err != nil {
		return fmt.Errorf("cuda:%d: launching %s (grid %dx%dx%d, block %d, %d B shared): %v", d.ordinal, name, gx, gy, gz, block, shmem, err)
	}
	if d.sync {
		if err := d.drv.synchronize(); err != nil {
			return fmt.Errorf("cuda:%d: kernel %s failed: %v", d.ordinal, name, err)
		}
	}
	return nil
}

// Host <-> device copies; on the device thread. The copies are synchronous.
func (d *device) upload(dst devPtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.drv.htod(dst, unsafe.Pointer(&src[0]), int64(4*len(src)))
}

// uploadI32 copies int32 values (row indices) to the device.
func (d *device) uploadI32(dst devPtr, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return d.drv.htod(dst, unsafe.Pointer(&src[0]), int64(4*len(src)))
}

// uploadF64 copies float64 values (the loss term weights) to the device.
func (d *device) uploadF64(dst devPtr, src []float64) error {
	if len(src) == 0 {
		return nil
	}
	return d.drv.htod(dst, unsafe.Pointer(&src[0]), int64(8*len(src)))
}

func (d *device) download(dst []float32, src devPtr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.drv.dtoh(unsafe.Pointer(&dst[0]), src, int64(4*len(dst)))
}

func (d *device) downloadF64(dst []float64, src devPtr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.drv.dtoh(unsafe.Pointer(&dst[0]), src, int64(8*len(dst)))
}

// fill sets n 32-bit words to the bit pattern v (0 for zeros, a NaN pattern
// for poisoning in tests).
func (d *device) fill(p devPtr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return d.drv.memsetD32(p, v, int64(n))
}

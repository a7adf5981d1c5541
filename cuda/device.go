//go:build gridgpu_cuda

package cuda

/*
#include <cuda.h>
*/
import "C"

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	// Must stay the first import that reaches cuInit: see its package doc.
	_ "github.com/gridgpu/gridgpu/cuda/driverprobe"
	"gorgonia.org/cu"
)

// The kernels, compiled by `make -f cuda/cuda.mk ptx` (nvcc -ptx
// -arch=compute_80). PTX rather than machine code: the driver compiles it for
// the GPU at hand (sm_80, sm_90, ...) when the module is loaded.
var (
	//go:embed kernels/gemm.ptx
	gemmPTX string
	//go:embed kernels/sic.ptx
	sicPTX string
)

// device owns a CUDA context on one OS thread. The driver API binds the
// current context to the calling thread, and Go moves goroutines between
// threads, so every driver call goes through run, which executes it on one
// goroutine locked to its thread.
type device struct {
	ordinal int
	name    string
	calls   chan func()
	ctx     cu.CUContext
	fns     map[string]cu.Function
	mods    []cu.Module
	allocs  map[cu.DevicePtr]int64
	inUse   int64
	// sync makes every launch synchronous (GRIDGPU_CUDA_SYNC=1), so that an
	// asynchronous kernel fault is reported at the launch that caused it.
	sync bool
}

// parseDevice reads "cuda" (device 0) or "cuda:N".
func parseDevice(s string) (int, error) {
	prefix, idx, has := strings.Cut(s, ":")
	if prefix != "cuda" {
		return 0, fmt.Errorf("device %q: the CUDA backend takes cuda or cuda:N", s)
	}
	if !has {
		return 0, nil
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("device %q: N in cuda:N must be a GPU index (0, 1, ...)", s)
	}
	return n, nil
}

// openDevice creates a context on GPU ordinal and loads the kernels.
func openDevice(spec string) (*device, error) {
	ord, err := parseDevice(spec)
	if err != nil {
		return nil, err
	}
	d := &device{ordinal: ord, calls: make(chan func()), fns: map[string]cu.Function{}, allocs: map[cu.DevicePtr]int64{}}
	d.sync = os.Getenv("GRIDGPU_CUDA_SYNC") == "1"
	go d.loop()
	err = d.run(func() error {
		n, err := cu.NumDevices()
		if err != nil {
			return fmt.Errorf("cuda: counting GPUs: %v", err)
		}
		if ord >= n {
			plural := "s"
			if n == 1 {
				plural = ""
			}
			return fmt.Errorf("device %q: this machine has %d GPU%s (cuda:0 to cuda:%d)", spec, n, plural, n-1)
		}
		dev, err := cu.GetDevice(ord)
		if err != nil {
			return fmt.Errorf("cuda:%d: %v", ord, err)
		}
		d.name, _ = dev.Name()
		d.name = strings.TrimRight(d.name, "\x00 ")
		if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
			return fmt.Errorf("cuda:%d: creating a context: %v", ord, err)
		}
		for _, src := range []string{gemmPTX, sicPTX} {
			m, err := cu.LoadData(src)
			if err != nil {
				return fmt.Errorf("cuda:%d: loading kernels (PTX for compute_80; the driver must support it): %v", ord, err)
			}
			d.mods = append(d.mods, m)
			for _, name := range ptxEntries(src) {
				f, err := m.Function(name)
				if err != nil {
					return fmt.Errorf("cuda:%d: kernel %s: %v", ord, name, err)
				}
				d.fns[name] = f
			}
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
			cu.MemFree(p)
		}
		d.allocs = nil
		for _, m := range d.mods {
			m.Unload()
		}
		d.mods = nil
		if d.ctx != (cu.CUContext{}) {
			d.ctx.Destroy()
		}
		return nil
	})
	close(d.calls)
	d.calls = nil
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }

// alloc allocates n float32 (or n*4 bytes); on the device thread.
func (d *device) alloc(bytes int64, what string) (cu.DevicePtr, error) {
	if bytes <= 0 {
		bytes = 4
	}
	p, err := cu.MemAlloc(bytes)
	if err != nil {
		free, total, _ := cu.MemInfo()
		return 0, fmt.Errorf("cuda:%d: out of device memory: %s needs %s (%s allocated so far by gridgpu; %s free of %s); use a smaller batch (B, T) or model: %v",
			d.ordinal, what, gib(bytes), gib(d.inUse), gib(free), gib(total), err)
	}
	d.allocs[p] = bytes
	d.inUse += bytes
	return p, nil
}

func (d *device) free(p cu.DevicePtr) {
	if n, ok := d.allocs[p]; ok {
		cu.MemFree(p)
		d.inUse -= n
		delete(d.allocs, p)
	}
}

// setMaxDynamicShared lets kernel name use more than 48 KiB of dynamic shared
// memory (cuFuncSetAttribute, which gorgonia.org/cu does not wrap; a
// cu.Function is a struct holding just the CUfunction handle).
func (d *device) setMaxDynamicShared(name string, bytes int) error {
	f := d.fns[name]
	h := *(*C.CUfunction)(unsafe.Pointer(&f))
	if rc := C.cuFuncSetAttribute(h, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(bytes)); rc != C.CUDA_SUCCESS {
		return fmt.Errorf("cuda:%d: kernel %s: cannot use %d bytes of shared memory (code %d)", d.ordinal, name, bytes, int(rc))
	}
	return nil
}

// arg is one kernel argument, widened to the 64-bit slot that
// cu.Function.Launch copies for every parameter. Kernels declare scalar
// parameters as long long or double accordingly (pointers are 64-bit).
type arg uint64

func ptr(p cu.DevicePtr) arg { return arg(p) }
func i64(v int) arg          { return arg(uint64(int64(v))) }
func f64(v float64) arg      { return arg(math.Float64bits(v)) }

// launch runs kernel name on grid x block threads (1-D unless gy/gz > 1);
// on the device thread.
func (d *device) launch(name string, gx, gy, gz, block, shmem int, args ...arg) error {
	f, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("cuda: no kernel %q in the embedded PTX", name)
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		vals[i] = uint64(a)
		params[i] = unsafe.Pointer(&vals[i])
	}
	if err := f.Launch(gx, gy, gz, block, 1, 1, shmem, cu.Stream{}, params); err != nil {
		return fmt.Errorf("cuda:%d: launching %s (grid %dx%dx%d, block %d, %d B shared): %v", d.ordinal, name, gx, gy, gz, block, shmem, err)
	}
	if d.sync {
		if err := cu.Synchronize(); err != nil {
			return fmt.Errorf("cuda:%d: kernel %s failed: %v", d.ordinal, name, err)
		}
	}
	return nil
}

// Host <-> device copies; on the device thread. The copies are synchronous.
func upload(dst cu.DevicePtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return cu.MemcpyHtoD(dst, unsafe.Pointer(&src[0]), int64(4*len(src)))
}

func download(dst []float32, src cu.DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src, int64(4*len(dst)))
}

func downloadF64(dst []float64, src cu.DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src, int64(8*len(dst)))
}

func uploadF64(dst cu.DevicePtr, src []float64) error {
	if len(src) == 0 {
		return nil
	}
	return cu.MemcpyHtoD(dst, unsafe.Pointer(&src[0]), int64(8*len(src)))
}

// fill sets n 32-bit words to the bit pattern v (0 for zeros, a NaN pattern
// for poisoning in tests).
func fill(p cu.DevicePtr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return cu.MemsetD32(p, v, int64(n))
}

// memInfo returns free and total device memory.
func memInfo() (free, total int64, err error) { return cu.MemInfo() }

// syncDevice waits for all queued work; on the device thread.
func syncDevice() error { return cu.Synchronize() }

//go:build gridgpu_cuda && !gridgpu_cudaemu

package cuda

/*
#include <cuda.h>
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	// Must stay the first import that reaches cuInit: see its package doc.
	_ "github.com/gridgpu/gridgpu/cuda/driverprobe"
	"gorgonia.org/cu"
)

// driver is the CUDA driver API through gorgonia.org/cu; every method runs on
// the device thread.
type driver struct {
	dev  cu.Device
	ctx  cu.CUContext
	mods []cu.Module
	fns  map[string]cu.Function
}

func (dr *driver) count() (int, error) { return cu.NumDevices() }

func (dr *driver) open(ord int) (string, error) {
	dev, err := cu.GetDevice(ord)
	if err != nil {
		return "", err
	}
	dr.dev = dev
	name, _ := dev.Name()
	name = strings.TrimRight(name, "\x00 ")
	if dr.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return "", fmt.Errorf("creating a context: %v", err)
	}
	dr.fns = map[string]cu.Function{}
	return name, nil
}

func (dr *driver) sms() (int, error) { return dr.dev.Attribute(cu.MultiprocessorCount) }

func (dr *driver) load(ptx string, names []string) error {
	m, err := cu.LoadData(ptx)
	if err != nil {
		return err
	}
	dr.mods = append(dr.mods, m)
	for _, name := range names {
		f, err := m.Function(name)
		if err != nil {
			return fmt.Errorf("kernel %s: %v", name, err)
		}
		dr.fns[name] = f
	}
	return nil
}

func (dr *driver) close() {
	for _, m := range dr.mods {
		m.Unload()
	}
	dr.mods = nil
	if dr.ctx != (cu.CUContext{}) {
		dr.ctx.Destroy()
	}
}

func (dr *driver) alloc(bytes int64) (devPtr, error) {
	p, err := cu.MemAlloc(bytes)
	return devPtr(p), err
}

func (dr *driver) free(p devPtr) { cu.MemFree(cu.DevicePtr(p)) }

func (dr *driver) memInfo() (free, total int64, err error) { return cu.MemInfo() }

func (dr *driver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	return cu.MemcpyHtoD(cu.DevicePtr(dst), src, n)
}

func (dr *driver) dtoh(dst unsafe.Pointer, src devPtr, n int64) error {
	return cu.MemcpyDtoH(dst, cu.DevicePtr(src), n)
}

func (dr *driver) memsetD32(p devPtr, v uint32, n int64) error {
	return cu.MemsetD32(cu.DevicePtr(p), v, n)
}

func (dr *driver) synchronize() error { return cu.Synchronize() }

// launch: cu.Function.Launch copies 8 bytes from each parameter pointer into
// C memory, which is why every kernel parameter is a 64-bit slot.
func (dr *driver) launch(name string, gx, gy, gz, block, shmem int, args []uint64) error {
	f, ok := dr.fns[name]
	if !ok {
		return fmt.Errorf("no kernel %q in the embedded PTX", name)
	}
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	return f.Launch(gx, gy, gz, block, 1, 1, shmem, cu.Stream{}, params)
}

// setMaxDynamicShared lets kernel name use more than 48 KiB of dynamic shared
// memory (cuFuncSetAttribute, which gorgonia.org/cu does not wrap; a
// cu.Function is a struct holding just the CUfunction handle).
func (dr *driver) setMaxDynamicShared(name string, bytes int) error {
	f := dr.fns[name]
	h := *(*C.CUfunction)(unsafe.Pointer(&f))
	if rc := C.cuFuncSetAttribute(h, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(bytes)); rc != C.CUDA_SUCCESS {
		return fmt.Errorf("kernel %s: cannot use %d bytes of shared memory (code %d)", name, bytes, int(rc))
	}
	return nil
}

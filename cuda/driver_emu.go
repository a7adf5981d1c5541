//go:build gridgpu_cuda && gridgpu_cudaemu

package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/gridgpu/gridgpu/cuda/emu"
)

// driver runs the kernels on the CPU emulator (cuda/emu) instead of a GPU:
// "device" memory is C memory and a launch runs the kernel's C++ build. For
// tests on machines without a GPU: go test -tags gridgpu_cuda,gridgpu_cudaemu.
type driver struct{}

const emuMemory = 8 << 30 // what memInfo reports

// emuUsed is the emulated memory allocated, emuSize each allocation's size
// (on the device threads; a test process may hold several devices, so
// under emuMu).
var (
	emuMu   sync.Mutex
	emuUsed int64
	emuSize = map[devPtr]int64{}
)

func (dr *driver) count() (int, error)                   { return 1, nil }
func (dr *driver) open(int) (string, error)              { return "CPU emulator (cuda/emu)", nil }
func (dr *driver) sms() (int, error)                     { return 4, nil }
func (dr *driver) load(string, []string) error           { return nil }
func (dr *driver) close()                                {}
func (dr *driver) synchronize() error                    { return nil }
func (dr *driver) setMaxDynamicShared(string, int) error { return nil }

func (dr *driver) alloc(bytes int64) (devPtr, error) {
	emuMu.Lock()
	defer emuMu.Unlock()
	if emuUsed+bytes > emuMemory {
		return 0, fmt.Errorf("emulated device memory (%d bytes) exhausted", emuMemory)
	}
	p := emu.Malloc(bytes)
	if p == 0 {
		return 0, fmt.Errorf("host memory exhausted")
	}
	emuUsed += bytes
	emuSize[devPtr(p)] = bytes
	return devPtr(p), nil
}

func (dr *driver) free(p devPtr) {
	emuMu.Lock()
	defer emuMu.Unlock()
	emuUsed -= emuSize[p]
	delete(emuSize, p)
	emu.Free(uint64(p))
}

func (dr *driver) memInfo() (free, total int64, err error) {
	emuMu.Lock()
	defer emuMu.Unlock()
	return emuMemory - emuUsed, emuMemory, nil
}

func (dr *driver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	emu.HtoD(uint64(dst), src, n)
	return nil
}

func (dr *driver) dtoh(dst unsafe.Pointer, src devPtr, n int64) error {
	emu.DtoH(dst, uint64(src), n)
	return nil
}

func (dr *driver) memsetD32(p devPtr, v uint32, n int64) error {
	emu.MemsetD32(uint64(p), v, n)
	return nil
}

func (dr *driver) launch(name string, gx, gy, gz, block, shmem int, args []uint64) error {
	return emu.Launch(name, gx, gy, gz, block, shmem, args)
}

func (dr *driver) openBLAS(bool) (string, error) {
	return "", fmt.Errorf("cuBLAS: not with the CPU emulator")
}

func (dr *driver) sgemm(ta, tb bool, m, n, k int, alpha float32, A devPtr, lda int, B devPtr, ldb int, beta float32, Cp devPtr, ldc int) error {
	return fmt.Errorf("cuBLAS: not with the CPU emulator")
}

//go:build gridgpu_cudaemu

package emu

/*
#cgo CXXFLAGS: -O2 -std=c++17 -w
#include <stdlib.h>
#include <string.h>
static unsigned long long emu_malloc(size_t n) { return (unsigned long long)calloc(1, n); }
static void emu_free(unsigned long long p) { free((void *)p); }
static void emu_htod(unsigned long long dst, const void *src, size_t n) { memcpy((void *)dst, src, n); }
static void emu_dtoh(void *dst, unsigned long long src, size_t n) { memcpy(dst, (const void *)src, n); }
static void emu_memset32(unsigned long long dst, unsigned v, size_t n) {
	unsigned *d = (unsigned *)dst;
	for (size_t i = 0; i < n; i++) d[i] = v;
}
int emu_launch(const char *name, int gx, int gy, int gz, int bx, int shmem, const unsigned long long *args, int nargs, char *err, int errn);
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Launch runs kernel name over a gx x gy x gz grid of bx-thread blocks with
// shmem bytes of dynamic shared memory; args are the kernel's parameters,
// each in a 64-bit slot (device pointers are host addresses here).
func Launch(name string, gx, gy, gz, bx, shmem int, args []uint64) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var buf [256]C.char
	var ap *C.ulonglong
	if len(args) > 0 {
		// Copy to C memory: the slice may hold values cgo would take for pointers.
		p := C.malloc(C.size_t(8 * len(args)))
		defer C.free(p)
		s := unsafe.Slice((*uint64)(p), len(args))
		copy(s, args)
		ap = (*C.ulonglong)(p)
	}
	if C.emu_launch(cname, C.int(gx), C.int(gy), C.int(gz), C.int(bx), C.int(shmem), ap, C.int(len(args)), &buf[0], C.int(len(buf))) != 0 {
		return errors.New(C.GoString(&buf[0]))
	}
	return nil
}

// Malloc returns zeroed C memory that stands for device memory (0 when out
// of memory).
func Malloc(bytes int64) uint64 { return uint64(C.emu_malloc(C.size_t(bytes))) }

// Free releases memory from Malloc.
func Free(p uint64) { C.emu_free(C.ulonglong(p)) }

// HtoD copies n bytes from host memory to "device" address dst.
func HtoD(dst uint64, src unsafe.Pointer, n int64) { C.emu_htod(C.ulonglong(dst), src, C.size_t(n)) }

// DtoH copies n bytes from "device" address src to host memory.
func DtoH(dst unsafe.Pointer, src uint64, n int64) { C.emu_dtoh(dst, C.ulonglong(src), C.size_t(n)) }

// MemsetD32 sets n 32-bit words at dst to v.
func MemsetD32(dst uint64, v uint32, n int64) {
	C.emu_memset32(C.ulonglong(dst), C.uint(v), C.size_t(n))
}

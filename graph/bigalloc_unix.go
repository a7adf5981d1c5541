//go:build unix

package graph

import (
	"syscall"
	"unsafe"
)

// bigAllocMin is the size from which buffers that live as long as a model
// are mapped outside the Go heap.
const bigAllocMin = 64 << 20

// bigAlloc returns a zeroed buffer of n elements and a function that
// releases it. Buffers of bigAllocMin bytes or more are anonymous memory
// maps: the garbage collector's heap goal is twice the live heap, so a
// 511 MB buffer on the Go heap would let garbage accumulate to another
// ~511 MB before a collection; off the heap it does not count.
func bigAlloc[T float](n int) ([]T, func()) {
	size := n * int(unsafe.Sizeof(T(0)))
	if size < bigAllocMin {
		return make([]T, n), func() {}
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]T, n), func() {}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), func() { syscall.Munmap(b) }
}

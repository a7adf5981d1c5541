//go:build gridgpu_cuda

package driverprobe

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>

typedef int (*cuInit_t)(unsigned int);
typedef int (*cuDeviceGetCount_t)(int *);
typedef int (*cuGetErrorName_t)(int, const char **);

// probe returns 0 when the driver initialises and sees at least one GPU;
// otherwise it writes the reason into msg.
static int probe(char *msg, int n) {
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		snprintf(msg, n, "cannot load libcuda.so.1: %s", dlerror());
		return 1;
	}
	cuInit_t init = (cuInit_t)dlsym(h, "cuInit");
	cuDeviceGetCount_t count = (cuDeviceGetCount_t)dlsym(h, "cuDeviceGetCount");
	cuGetErrorName_t name = (cuGetErrorName_t)dlsym(h, "cuGetErrorName");
	if (!init || !count) {
		snprintf(msg, n, "libcuda.so.1 lacks cuInit/cuDeviceGetCount");
		return 1;
	}
	int rc = init(0);
	if (rc != 0) {
		const char *s = 0;
		if (name) name(rc, &s);
		snprintf(msg, n, "cuInit failed: %s (%d)", s ? s : "unknown error", rc);
		return 1;
	}
	int c = 0;
	rc = count(&c);
	if (rc != 0 || c == 0) {
		snprintf(msg, n, "the driver sees no GPU (cuDeviceGetCount: %d devices, code %d)", c, rc);
		return 1;
	}
	return 0;
}
*/
import "C"

import (
	"os"
	"unsafe"
)

// Message is the line printed before exiting; tests and tools may match on
// its prefix.
const Message = "gridgpu: no usable NVIDIA driver/GPU"

func init() {
	var buf [512]C.char
	if C.probe(&buf[0], C.int(len(buf))) == 0 {
		return
	}
	reason := C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
	os.Stderr.WriteString(Message + " (" + reason + "); this is the CUDA build of gridgpu, which needs one at start: on machines without a GPU use the CPU build (make build; --device cpu)\n")
	os.Exit(1)
}

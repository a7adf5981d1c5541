//go:build cgo && !purego

package graph

import (
	"os"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestBLASKernelsPinned checks that a process of this build runs OpenBLAS's
// PinnedBLASCore kernels on any CPU that can (the test binary goes through
// the same init as gridgpu), so that products round the same on every
// machine.
func TestBLASKernelsPinned(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		t.Skip("this CPU lacks AVX2/FMA: OpenBLAS keeps its own choice")
	}
	want := os.Getenv(BLASCoreEnv)
	if want == "" {
		t.Fatalf("%s is unset after init: the process did not restart with the pinned kernels", BLASCoreEnv)
	}
	if got := BLASCore(); got != want {
		t.Errorf("OpenBLAS runs %q kernels, %s asks for %q", got, BLASCoreEnv, want)
	}
	if want != PinnedBLASCore {
		t.Logf("%s=%s was set by the caller; the default pins %s", BLASCoreEnv, want, PinnedBLASCore)
	}
}

// Package emu runs gridgpu's CUDA kernels (cuda/kernels/*.cu, compiled as
// C++) on the CPU, one block at a time with one user-level fiber per CUDA
// thread: __syncthreads and warp shuffles are barriers between fibers, a
// deadlock (a barrier some threads never reach) aborts with a message.
//
// It exists so that the CUDA backend's tests can run on machines without a
// GPU, at small sizes: `go test -tags gridgpu_cuda,gridgpu_cudaemu ./cuda`.
// It checks the kernels' logic (indexing, barriers, reductions) and the Go
// code that drives them; it says nothing about speed, and the real device
// (the PTX through the driver) must still be tested on a GPU.
package emu

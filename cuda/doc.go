// Package cuda is gridgpu's NVIDIA GPU backend: it registers the "cuda"
// device ("cuda" or "cuda:N") with package train and runs whole optimiser
// steps on one GPU.
//
// It is built only with the `gridgpu_cuda` build tag (`make build-cuda`; not
// `cuda`, which would also build gorgonia's own cuDNN-based code). It uses the
// CUDA driver API through gorgonia.org/cu and kernels of its own (CUDA C in
// cuda/kernels, compiled to PTX for compute_80 and embedded; the driver
// compiles the PTX for the GPU it finds), so the binary needs nothing from
// CUDA but libcuda.so.1, which the NVIDIA driver installs.
//
// One microbatch of P = B*T states runs as: the MLP, the first layer
// (elementwise) and two matrix products, on the microbatch's U distinct
// velocities when its trajectories share them (the paper's permutation
// augmentation: U = T, distinct.go), else on all P states (the last
// product, P x H times H x N*N, then dominates); the recurrence as one
// block per trajectory; the pairwise losses as a fused tiled kernel that
// computes the losses and their gradient without any P x P buffer; the
// capacity and conformal-isometry terms; backpropagation through time
// (which, on P rows, turns the MLP output buffer into its gradient in
// place; on U rows the gradient per velocity is summed over its states
// afterwards); and the MLP backward as matrix products. Gradients of the
// microbatches of a step are summed on the device; the global-norm clip and
// AdamW run there too, and only a few scalars come back per step.
//
// gorgonia.org/cu calls cuInit when it is initialised and exits the process
// if that fails, so a CUDA build cannot start on a machine without a working
// NVIDIA driver and GPU. Package cuda/driverprobe runs first and prints one
// line explaining that; on CPU-only machines use the default (CPU) build.
package cuda

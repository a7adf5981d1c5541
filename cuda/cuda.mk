# cuda/cuda.mk: the CUDA build. Included by the Makefile; also usable alone
# (make -f cuda/cuda.mk TARGET).
#
# The build tag is gridgpu_cuda, not cuda: gorgonia.org/gorgonia has files
# behind its own `cuda` tag that need cuDNN, so `-tags cuda` cannot build any
# program that imports gorgonia.
#
# Toolkit: scripts/setup-cuda.sh installs cuda.h, the libcuda link stub and
# nvcc/ptxas into $(CUDA_PREFIX) (or, with --full, Debian's whole toolkit
# under /usr). Only `ptx` and `ptx-check` need nvcc/ptxas; the Go builds need
# cuda.h and a libcuda.so to link against.

GO          ?= go
LDFLAGS     ?=
CUDA_TAG    ?= gridgpu_cuda
CUDA_PREFIX ?= /opt/cuda-lean
NVCC        ?= $(firstword $(wildcard $(CUDA_PREFIX)/usr/bin/nvcc) $(shell command -v nvcc 2>/dev/null) nvcc)
PTXAS       ?= $(firstword $(wildcard $(CUDA_PREFIX)/usr/bin/ptxas) $(shell command -v ptxas 2>/dev/null) ptxas)
PTX_ARCH    ?= compute_80
# cgo flags for the lean install; a full install puts cuda.h in /usr/include.
CUDA_CGO    := $(if $(wildcard $(CUDA_PREFIX)/usr/include/cuda.h),CGO_CFLAGS="-I$(CUDA_PREFIX)/usr/include" CGO_LDFLAGS="-L$(CUDA_PREFIX)/usr/lib/x86_64-linux-gnu/stubs",)

# The trainer's kernels (embedded in the binary) and the kernel lab's
# variants (cuda/lab: loaded only by the lab's tests and benchmarks); both
# have committed PTX.
CUDA_KERNELS := $(wildcard cuda/kernels/*.cu cuda/lab/*.cu)
CUDA_PTX     := $(CUDA_KERNELS:.cu=.ptx)

.PHONY: ptx ptx-check build-cuda vet-cuda test-cuda-compile test-cuda-emu gpu-bundle gpu-check setup-cuda

## setup-cuda: install the CUDA headers, link stub and PTX compiler (as root)
setup-cuda:
	scripts/setup-cuda.sh

## ptx: regenerate the committed PTX from cuda/kernels/*.cu and cuda/lab/*.cu
ptx:
	@for f in $(CUDA_KERNELS); do \
		echo "$(NVCC) -ptx -arch=$(PTX_ARCH) -o $${f%.cu}.ptx $$f"; \
		$(NVCC) -ptx -arch=$(PTX_ARCH) -o $${f%.cu}.ptx $$f || exit 1; \
	done

## ptx-check: the committed PTX is what the .cu files compile to, and ptxas accepts it for sm_80 and sm_90
# nvcc does not always give the same PTX for one source: for pair.cu's
# pair_tile, under load, runs differ in register numbering and in which
# shared loads it vectorises. So a source's PTX counts as fresh when one of
# up to PTX_TRIES compilations equals the committed file; a changed source
# gives another file every time.
PTX_TRIES ?= 5
ptx-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for f in $(CUDA_KERNELS); do \
		p=$${f%.cu}.ptx; q=$$tmp/$$(basename $$p); fresh=; \
		for try in $$(seq $(PTX_TRIES)); do \
			$(NVCC) -ptx -arch=$(PTX_ARCH) -o $$q $$f || exit 1; \
			if diff -q $$p $$q >/dev/null; then fresh=1; break; fi; \
		done; \
		if [ -z "$$fresh" ]; then \
			echo "$$p is stale ($(PTX_TRIES) compilations differ from it): run make ptx and commit it"; diff -u $$p $$q | head -20; exit 1; \
		fi; \
		for sm in sm_80 sm_90; do \
			$(PTXAS) -arch=$$sm $$p -o /dev/null || { echo "ptxas -arch=$$sm rejects $$p"; exit 1; }; \
		done; \
		echo "ok $$p (fresh; ptxas sm_80, sm_90)"; \
	done

## build-cuda: the CUDA binary ./gridgpu-cuda (needs an NVIDIA driver and GPU to start)
build-cuda:
	$(CUDA_CGO) $(GO) build -tags $(CUDA_TAG) -ldflags '$(LDFLAGS)' -o gridgpu-cuda .

vet-cuda:
	$(CUDA_CGO) $(GO) vet -tags $(CUDA_TAG) ./cuda/... .

## test-cuda-compile: vet everything and compile the CUDA tests with the CUDA tag (no GPU needed)
test-cuda-compile:
	$(CUDA_CGO) $(GO) vet -tags $(CUDA_TAG) ./...
	$(CUDA_CGO) $(GO) test -c -tags $(CUDA_TAG) -o /dev/null ./cuda

## test-cuda-emu: run the CUDA tests (small sizes) with the kernels on a CPU emulator (cuda/emu); no GPU, no CUDA toolkit
# The emulator #includes ../kernels/*.cu and ../lab/*.cu, which Go's build cache does not hash
# (it hashes the package's own files): a hash of the kernels in CGO_CXXFLAGS,
# which the cache does hash, rebuilds the emulator whenever a kernel changes.
EMU_KERNELS_HASH = $(shell cat cuda/kernels/*.cu cuda/kernels/*.cuh cuda/lab/*.cu | sha256sum | cut -c1-16)
test-cuda-emu:
	CGO_CXXFLAGS="-O2 -g -DGRIDGPU_KERNELS_HASH=$(EMU_KERNELS_HASH)" $(GO) test -tags $(CUDA_TAG),gridgpu_cudaemu -short -timeout 30m ./cuda/

# The bundle for the GPU machine (no Go there): the binary and test binary
# are built with the purego tag too, so that they need only libcuda.so.1 and
# glibc (the CPU graph the tests compare against then uses gonum's Go BLAS,
# not OpenBLAS, which the GPU machine may lack). Stripped (-s -w): the bundle
# travels to the GPU machine with a size limit.
GPU_BUNDLE_TAGS ?= $(CUDA_TAG),purego

## gpu-bundle: .gpu/ with gridgpu-cuda, cuda.test, the PyTorch baseline and the check scripts
gpu-bundle:
	mkdir -p .gpu
	$(CUDA_CGO) $(GO) build -tags $(GPU_BUNDLE_TAGS) -ldflags '-s -w $(LDFLAGS)' -o .gpu/gridgpu-cuda .
	$(CUDA_CGO) $(GO) test -c -tags $(GPU_BUNDLE_TAGS) -ldflags '-s -w' -o .gpu/cuda.test ./cuda
	cp -f scripts/torch_reference.py .gpu/
	cp -f scripts/gpu-check.sh scripts/gpu-summary.py .gpu/
	@ls -la .gpu; du -sh .gpu

## gpu-check: on a GPU machine, with .gpu/ built: tests, benchmark, PyTorch comparison
gpu-check:
	scripts/gpu-check.sh $${OUT:-out/gpu-check}

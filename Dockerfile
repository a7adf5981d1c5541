# gridgpu with the CUDA backend and a CPU build beside it:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t gridgpu .
#   docker run --gpus all -v $PWD/runs:/runs gridgpu train --preset paper --device cuda:0 --out /runs/paper
#   docker run -v $PWD/runs:/runs gridgpu analyze --checkpoint /runs/paper --out /runs/paper/analysis
#
# Stage 1 builds on Debian 12 with Go and only the CUDA pieces the build needs
# (cuda.h and the libcuda link stub, via scripts/setup-cuda.sh; the kernels
# are committed as PTX, so no nvcc runs here): the CUDA build, which needs
# libcuda.so.1 from the host driver to start, and a static CPU build. Stage 2
# is the CUDA runtime image, which has cuBLAS (the default GEMM path of the
# CUDA engine; the -base image has none, and the engine would fall back to
# its slower own kernels). /usr/local/bin/gridgpu starts the CUDA build where
# the NVIDIA container toolkit has mounted libcuda.so.1 (docker run --gpus),
# the CPU build elsewhere, so that analyze, gridscore, states, --help and CPU
# training work on a host without a GPU; GRIDGPU_BUILD=cpu or cuda forces one.

FROM golang:1.26-bookworm AS build
# The version gridgpu reports (the build context has no .git to ask).
ARG VERSION=unknown
WORKDIR /src
COPY scripts/setup-cuda.sh scripts/setup-cuda.sh
RUN scripts/setup-cuda.sh
COPY go.mod go.sum ./
# A module proxy of one's own (default: the golang image's, proxy.golang.org).
ARG GOPROXY
RUN go mod download
COPY . .
# purego: the CPU graph uses gonum's Go BLAS, so the image needs no OpenBLAS.
RUN . /opt/cuda-lean/env.sh && \
    go build -tags gridgpu_cuda,purego -ldflags "-s -w -X main.version=${VERSION}" -o /out/gridgpu-cuda . && \
    CGO_ENABLED=0 go build -tags purego -ldflags "-s -w -X main.version=${VERSION}" -o /out/gridgpu-cpu .

FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04
COPY --from=build /out/gridgpu-cuda /out/gridgpu-cpu /usr/local/lib/gridgpu/
RUN printf '%s\n' \
    '#!/bin/sh' \
    '# The CUDA build where the host driver is mounted (libcuda.so.1), else the CPU build.' \
    'd=/usr/local/lib/gridgpu' \
    'case "${GRIDGPU_BUILD:-}" in' \
    '  cpu) exec "$d/gridgpu-cpu" "$@" ;;' \
    '  cuda) exec "$d/gridgpu-cuda" "$@" ;;' \
    '  "") ;;' \
    '  *) echo "gridgpu: GRIDGPU_BUILD=$GRIDGPU_BUILD: must be cpu or cuda" >&2; exit 2 ;;' \
    'esac' \
    'if ldconfig -p 2>/dev/null | grep -q "libcuda\.so\.1 "; then exec "$d/gridgpu-cuda" "$@"; fi' \
    'for f in /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib64/libcuda.so.1 /usr/local/nvidia/lib64/libcuda.so.1; do' \
    '  [ -e "$f" ] && exec "$d/gridgpu-cuda" "$@"' \
    'done' \
    'exec "$d/gridgpu-cpu" "$@"' \
    > /usr/local/bin/gridgpu && chmod 755 /usr/local/bin/gridgpu
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /runs
ENTRYPOINT ["/usr/local/bin/gridgpu"]
CMD ["--help"]

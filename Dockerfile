# gridgpu with the CUDA backend, for nvidia-docker:
#   docker build -t gridgpu .
#   docker run --gpus all -v $PWD/runs:/runs gridgpu train --device cuda:0 --out /runs/paper
#
# Stage 1 builds on Debian 12 with Go and only the CUDA pieces the build needs
# (cuda.h and the libcuda link stub, via scripts/setup-cuda.sh; the kernels
# are committed as PTX, so no nvcc runs here). Stage 2 is a small CUDA base
# image: the binary needs only glibc and libcuda.so.1, which the NVIDIA
# container toolkit mounts from the host driver under --gpus.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY scripts/setup-cuda.sh scripts/setup-cuda.sh
RUN scripts/setup-cuda.sh
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# purego: the CPU graph uses gonum's Go BLAS, so the image needs no OpenBLAS.
RUN . /opt/cuda-lean/env.sh && \
    go build -tags gridgpu_cuda,purego -ldflags "-s -w" -o /out/gridgpu .

FROM nvidia/cuda:12.4.1-base-ubuntu22.04
COPY --from=build /out/gridgpu /usr/local/bin/gridgpu
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /runs
ENTRYPOINT ["/usr/local/bin/gridgpu"]
CMD ["--help"]

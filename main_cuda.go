//go:build gridgpu_cuda

package main

// The CUDA build (make build-cuda: go build -tags gridgpu_cuda) registers the
// "cuda" device with package train.
import _ "github.com/gridgpu/gridgpu/cuda"

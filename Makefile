# gridgpu: build and test. The default build runs on the CPU with OpenBLAS
# (cgo, Debian's libopenblas-dev); build-purego needs no C at all. The CUDA
# targets (build-cuda, ptx, gpu-check) live in cuda/cuda.mk, included below
# when present.

GO      ?= go
BIN     ?= gridgpu
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

export PATH := /usr/local/go/bin:$(PATH)
export GOTOOLCHAIN ?= local

.PHONY: all help build build-purego test vet fmt fmt-check ci demo setup clean

all: build

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

## build: the CPU binary ./gridgpu
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

## build-purego: the CPU binary without cgo (gonum's Go BLAS, slower)
build-purego:
	CGO_ENABLED=0 $(GO) build -tags purego -ldflags '$(LDFLAGS)' -o $(BIN) .

## test: all tests
test:
	$(GO) test ./...

vet:
	$(GO) vet ./...

## fmt: rewrite Go files with gofmt
fmt:
	gofmt -w .

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "needs gofmt -w:"; echo "$$out"; exit 1; fi

## setup: install what a fresh Debian 12 machine lacks (as root)
setup:
	scripts/setup.sh

## ci: the README's test command
ci:
	./.ci/run

## demo: set up, build and run a short CPU training (runs/demo)
demo:
	scripts/demo.sh

clean:
	rm -f $(BIN)
	rm -rf runs/demo

-include cuda/cuda.mk

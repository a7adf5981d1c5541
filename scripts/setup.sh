#!/usr/bin/env bash
# setup.sh: everything a fresh Debian 12 machine needs, as root, to build and
# test gridgpu. Idempotent: steps whose result is already there are skipped,
# so running it again costs a few seconds. Both README commands
# (scripts/demo.sh and .ci/run) start with it.
#
# Each component is one function below; add new ones (BLAS libraries, the
# CUDA toolkit through scripts/setup-cuda.sh) as further functions called at
# the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

log() { echo "setup: $*" >&2; }

# apt_install PKG...: installs the Debian packages that are not installed.
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		log "missing Debian packages ${missing[*]}; run this script as root, or install them"
		exit 1
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_base() {
	# make for the Makefile targets; git so that 'go build' can stamp the
	# VCS revision; gcc and libc headers for cgo (BLAS and CUDA builds);
	# ca-certificates for the module proxy.
	apt_install make git gcc libc6-dev ca-certificates
}

setup_blas() {
	# The default build does its matrix products with OpenBLAS through cgo
	# (graph/blas_openblas.go); -tags purego builds without it.
	apt_install libopenblas-dev
}

setup_python() {
	# The tests of the documentation's Python snippets (python_test.go,
	# cmd_states_test.go) run them with Debian's own PyTorch, NumPy and
	# GUDHI; libopenblas0-pthread provides the libblas.so.3 that python3-numpy
	# asks for (as OpenBLAS, not the slow reference BLAS that apt would
	# otherwise pick).
	apt_install python3 python3-torch python3-numpy python3-gudhi libopenblas0-pthread
}

setup_go() {
	if ! command -v go >/dev/null; then
		log "Go not found: install Go $(sed -n 's/^go //p' go.mod) at /usr/local/go (https://go.dev/dl/)"
		exit 1
	fi
	local want have
	want=$(sed -n 's/^go //p' go.mod)
	have=$(go env GOVERSION | sed 's/^go//')
	if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
		log "Go $have is older than go.mod's $want"
		exit 1
	fi
	log "go $have; downloading modules"
	go mod download
}

setup_base
setup_blas
setup_python
setup_go
log "done"

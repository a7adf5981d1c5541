#!/usr/bin/env bash
# setup-cuda.sh: install the parts of Debian 12's CUDA 11.8 toolkit that the
# CUDA build (-tags gridgpu_cuda) needs (cuda.h, the libcuda link stub, nvcc/cicc/ptxas and
# libdevice), on a fresh Debian 12 machine as root. Idempotent.
#
#   scripts/setup-cuda.sh          lean: download three .deb files and unpack
#                                  only what is needed into $CUDA_PREFIX
#                                  (default /opt/cuda-lean); ~30 s, ~200 MB
#   scripts/setup-cuda.sh --full   apt-get install nvidia-cuda-toolkit
#                                  (~1.6 GB download, 5.3 GB on disk)
#
# The lean route prints the environment to use (also written to
# $CUDA_PREFIX/env.sh, which cuda/cuda.mk sources when present):
#   CGO_CFLAGS=-I$CUDA_PREFIX/usr/include
#   CGO_LDFLAGS=-L$CUDA_PREFIX/usr/lib/x86_64-linux-gnu/stubs
#   PATH=$CUDA_PREFIX/usr/bin:$PATH
# The binaries link libcuda.so.1 only; at run time the NVIDIA driver
# provides it. libcuda1 (the driver's user-space library, unpacked under
# $CUDA_PREFIX/driver) is there only so that a CUDA build can be started on
# a machine without a GPU to check its "no usable driver/GPU" message.
set -euo pipefail

PREFIX=${CUDA_PREFIX:-/opt/cuda-lean}
MODE=lean
[[ ${1:-} == --full ]] && MODE=full

if [[ $(id -u) != 0 ]]; then
	echo "setup-cuda.sh: run as root (it adds apt components and writes $PREFIX)" >&2
	exit 1
fi

# Debian's CUDA packages live in contrib/non-free, which a fresh machine does
# not list: derive a sources file from the existing one (same mirror).
if ! grep -rqsE '^Components:.*non-free' /etc/apt/sources.list.d/ && ! grep -qsE '^deb .* non-free' /etc/apt/sources.list; then
	src=/etc/apt/sources.list.d/debian.sources
	[[ -f $src ]] || { echo "setup-cuda.sh: $src not found; add contrib non-free by hand" >&2; exit 1; }
	sed -E 's/^Components: main$/Components: contrib non-free/' "$src" >/etc/apt/sources.list.d/nonfree.sources
	apt-get update -qq
elif ! apt-cache show nvidia-cuda-toolkit >/dev/null 2>&1; then
	apt-get update -qq
fi

export DEBIAN_FRONTEND=noninteractive
if [[ $MODE == full ]]; then
	if ! command -v nvcc >/dev/null || [[ ! -f /usr/include/cuda.h ]]; then
		apt-get install -y --no-install-recommends nvidia-cuda-toolkit
	fi
	nvcc --version | tail -2
	exit 0
fi

if [[ -x $PREFIX/usr/bin/ptxas && -f $PREFIX/usr/include/cuda.h && -f $PREFIX/env.sh && -z ${CUDA_REINSTALL:-} ]]; then
	echo "setup-cuda.sh: $PREFIX already set up"
	cat "$PREFIX/env.sh"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$PREFIX/driver"
chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
(cd "$tmp" && apt-get download -q nvidia-cuda-dev nvidia-cuda-toolkit libcuda1 >/dev/null)

# nvidia-cuda-dev: headers and the link stub. Its static libraries (most of
# its 770 MB) are skipped.
dpkg-deb --fsys-tarfile "$tmp"/nvidia-cuda-dev_*.deb | tar -x -C "$PREFIX" \
	--wildcards './usr/include/*' './usr/lib/x86_64-linux-gnu/stubs/libcuda.so'
# nvidia-cuda-toolkit: the compiler driver and the device-side tools.
dpkg-deb --fsys-tarfile "$tmp"/nvidia-cuda-toolkit_*.deb | tar -x -C "$PREFIX" \
	--wildcards './usr/bin/ptxas' './usr/lib/nvidia-cuda-toolkit/bin/*' \
	'./usr/lib/nvidia-cuda-toolkit/libdevice/*' './usr/include/*'
dpkg-deb --fsys-tarfile "$tmp"/libcuda1_*.deb | tar -x -C "$PREFIX/driver" \
	--wildcards './usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so*'

# Debian's nvcc.profile points at /usr; point it at the prefix instead.
prof=$PREFIX/usr/lib/nvidia-cuda-toolkit/bin/nvcc.profile
cat >"$prof" <<PROF
TOP = $PREFIX/usr/lib/nvidia-cuda-toolkit
NVVMIR_LIBRARY_DIR = \$(TOP)/libdevice
PATH += \$(TOP)/bin:
INCLUDES += "-I$PREFIX/usr/include" \$(_SPACE_)
LIBRARIES =+ \$(_SPACE_) "-L$PREFIX/usr/lib/x86_64-linux-gnu/stubs"
CUDAFE_FLAGS +=
PTXAS_FLAGS +=
PROF
# gcc 12 is newer than CUDA 11.8 officially supports; PTX generation works.
cat >"$PREFIX/usr/bin/nvcc" <<WRAP
#!/bin/sh
exec $PREFIX/usr/lib/nvidia-cuda-toolkit/bin/nvcc -ccbin "\${NVCC_CCBIN:-\$(command -v g++ || command -v gcc)}" -allow-unsupported-compiler "\$@"
WRAP
chmod +x "$PREFIX/usr/bin/nvcc"

cat >"$PREFIX/env.sh" <<ENV
export CUDA_PREFIX=$PREFIX
export CGO_CFLAGS="-I$PREFIX/usr/include"
export CGO_LDFLAGS="-L$PREFIX/usr/lib/x86_64-linux-gnu/stubs"
export PATH="$PREFIX/usr/bin:\$PATH"
# Only for starting a CUDA build here to see its no-GPU message:
# LD_LIBRARY_PATH=$PREFIX/driver/usr/lib/x86_64-linux-gnu/nvidia/current
ENV
"$PREFIX/usr/bin/nvcc" --version | tail -2
echo "setup-cuda.sh: installed into $PREFIX; source $PREFIX/env.sh"
cat "$PREFIX/env.sh"

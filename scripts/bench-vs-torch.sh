#!/usr/bin/env bash
# Times gridgpu's CPU training step against the PyTorch reference
# implementation on this machine, size by size and back to back, and prints
# the ratios (gridgpu / PyTorch) of seconds per step and of peak memory.
#
# Usage: scripts/bench-vs-torch.sh [--iters N] [--warmup N] [--threads N]
#                                  [--sizes "tiny small medium paper"]
#                                  [--torch-script PATH] [--out DIR]
#
# Environment: TORCH_SCRIPT (default scripts/torch_reference.py, the
# project's PyTorch implementation of the step, relative to the repository
# root), PYTHON (default /usr/bin/python3, the interpreter that sees Debian's
# python3-torch), GRIDGPU (a gridgpu binary; default: build one from this
# checkout).
#
# PyTorch on Debian: apt-get install -y --no-install-recommends python3-torch
# python3-numpy libopenblas0-pthread (without the last, torch falls back to
# the reference BLAS and the comparison is meaningless).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
iters=5
warmup=1
threads=$(nproc)
sizes="tiny small medium paper"
torch_script=${TORCH_SCRIPT:-scripts/torch_reference.py}
python=${PYTHON:-/usr/bin/python3}
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--iters) iters=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--torch-script) torch_script=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "bench-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ ! -f "$torch_script" ]; then
	echo "bench-vs-torch: PyTorch script $torch_script not found; pass --torch-script PATH or set TORCH_SCRIPT" >&2
	exit 2
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
	echo "bench-vs-torch: $python cannot import torch; install python3-torch python3-numpy libopenblas0-pthread or set PYTHON" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gridgpu=${GRIDGPU:-}
if [ -z "$gridgpu" ]; then
	echo "building gridgpu ..." >&2
	go build -o "$tmp/gridgpu" .
	gridgpu=$tmp/gridgpu
fi
[ -n "$out" ] && mkdir -p "$out"

for size in $sizes; do
	case "$size" in
	tiny) dims="16 20 32 64" ;;
	small) dims="32 30 64 128" ;;
	medium) dims="64 40 128 256" ;;
	paper) dims="130 60 128 256" ;;
	*) echo "bench-vs-torch: unknown size $size" >&2; exit 2 ;;
	esac
	read -r B T N H <<<"$dims"
	echo "$size: gridgpu ..." >&2
	"$gridgpu" bench --preset "$size" --device cpu --iters "$iters" --warmup "$warmup" --threads "$threads" >"$tmp/$size.gridgpu.json"
	echo "$size: pytorch ..." >&2
	"$python" "$torch_script" --batch "$B" --steps-T "$T" --units "$N" --hidden "$H" \
		--iters "$iters" --warmup "$warmup" --threads "$threads" >"$tmp/$size.torch.json"
	if [ -n "$out" ]; then
		cp "$tmp/$size.gridgpu.json" "$tmp/$size.torch.json" "$out/"
	fi
done

"$python" - "$tmp" $sizes <<'PY'
import json, os, sys
d, sizes = sys.argv[1], sys.argv[2:]
print("| size (B,T,N,H) | P | gridgpu s/step | PyTorch s/step | time ratio | gridgpu peak MB | PyTorch peak MB | memory ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for s in sizes:
    g = json.load(open(os.path.join(d, s + ".gridgpu.json")))
    t = json.loads(open(os.path.join(d, s + ".torch.json")).read().strip().splitlines()[-1])
    c = g["config"]
    gs, ts = g["seconds_per_step"], t["median_s_per_step"]
    gm, tm = g["peak_rss_mb"], t["peak_rss_mb"]
    print(f"| {s} ({c['B']},{c['T']},{c['N']},{c['H']}) | {c['P']} | {gs:.4g} | {ts:.4g} | {gs/ts:.2f} | {gm:.0f} | {tm:.0f} | {gm/tm:.2f} |")
g0 = json.load(open(os.path.join(d, sizes[0] + ".gridgpu.json")))["config"]
env = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_")) or "none"
print(f"\ngridgpu: {g0['blas']}, C kernels {g0.get('vector', 'n/a')}, {g0['threads']} threads, {g0['go']}; OpenBLAS environment: {env}.")
print("Ratios are gridgpu / PyTorch (below 1: gridgpu better).")
PY

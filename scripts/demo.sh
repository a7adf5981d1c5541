#!/usr/bin/env bash
# demo.sh: set up a fresh Debian 12 machine (as root), build gridgpu, train
# the demo preset on the CPU and analyse the result. Writes runs/demo/
# (config.yaml, metrics.jsonl, checkpoints/, model.npz) and two analysis
# reports: runs/demo/report/ (the standard evaluation walks, arenas 1-4 m)
# and runs/demo/report-training/ (training-like walks, 2 m). How long it
# takes: README.md, "Set-up commands". PRESET=smoke gives a one-minute run that
# checks the set-up only (no lattices).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh

OUT=${OUT:-runs/demo}
# Measured on the shipped code over seeds 0-19 (scripts/recipe-check.sh demo 0 1 ... 19).
DEMO_PROMISE="at least 20% of the 64 units grid cells (hexagonal along both kinds of walks, 2 m) in 14 of 20 seeds (0-19), seed 0 among them (56 of 64); one module of about 0.95 m"
echo "demo: building ./gridgpu" >&2
go build -o gridgpu .
./gridgpu version
rm -rf "$OUT"
echo "demo: training the ${PRESET:-demo} preset into $OUT" >&2
./gridgpu train --preset "${PRESET:-demo}" --out "$OUT"
echo "demo: metrics (first and last lines of $OUT/metrics.jsonl)" >&2
head -n 1 "$OUT/metrics.jsonl"
tail -n 1 "$OUT/metrics.jsonl"
echo "demo: exporting the model tensors to $OUT/model.npz" >&2
./gridgpu export --checkpoint "$OUT/checkpoints/$(cat "$OUT/checkpoints/latest")" --out "$OUT/model.npz"
CK="$OUT/checkpoints/$(cat "$OUT/checkpoints/latest")"
echo "demo: analysing $CK into $OUT/report" >&2
./gridgpu analyze --checkpoint "$CK" --out "$OUT/report"
echo "demo: analysing $CK along training-like walks into $OUT/report-training" >&2
./gridgpu analyze --checkpoint "$CK" --walks training --arena 2 --out "$OUT/report-training"
echo "demo: done; checkpoint $CK, reports $OUT/report/index.html and $OUT/report-training/index.html" >&2
# What this run got, beside what the preset promises (docs/RESULTS.md,
# "Success rates over seeds"; the promise holds for the demo preset only).
got=$(./gridgpu gridcells --standard "$OUT/report" --training "$OUT/report-training" --arena 2)
if [ "${PRESET:-demo}" = demo ]; then
	echo "demo: this run: $got"
	echo "demo: the demo preset promises: $DEMO_PROMISE"
else
	echo "demo: this run ($PRESET preset): $got"
fi

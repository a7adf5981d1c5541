#!/usr/bin/env bash
# demo.sh: set up a fresh Debian 12 machine (as root), build gridgpu, run a
# short CPU training on the smoke preset and analyse the result. Writes
# runs/demo/ (config.yaml, metrics.jsonl, checkpoints/, model.npz) and the
# analysis report runs/demo/report/ (index.html, summary.json, figures).
# Takes about a minute, most of it the first build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh

OUT=${OUT:-runs/demo}
echo "demo: building ./gridgpu" >&2
go build -o gridgpu .
./gridgpu version
rm -rf "$OUT"
echo "demo: training the smoke preset into $OUT" >&2
./gridgpu train --preset smoke --out "$OUT"
echo "demo: metrics (first and last lines of $OUT/metrics.jsonl)" >&2
head -n 1 "$OUT/metrics.jsonl"
tail -n 1 "$OUT/metrics.jsonl"
echo "demo: exporting the model tensors to $OUT/model.npz" >&2
./gridgpu export --checkpoint "$OUT/checkpoints/$(cat "$OUT/checkpoints/latest")" --out "$OUT/model.npz"
CK="$OUT/checkpoints/$(cat "$OUT/checkpoints/latest")"
echo "demo: analysing $CK into $OUT/report" >&2
./gridgpu analyze --checkpoint "$CK" --out "$OUT/report"
echo "demo: done; checkpoint $CK, report $OUT/report/index.html" >&2

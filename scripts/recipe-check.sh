#!/usr/bin/env bash
# recipe-check.sh: retrain a preset for several seeds and print its success
# rate, the unit of evidence for a training recipe.
#
#   scripts/recipe-check.sh PRESET SEED... [-- TRAIN FLAGS...]
#   scripts/recipe-check.sh demo 0 1 2 3 4
#   PARALLEL=2 scripts/recipe-check.sh demo 0 1 2 3 4 -- --lambda-cap 0.25
#
# Each seed trains into $OUT/seed-S (default OUT=runs/recipe-PRESET), is
# analysed along the standard walks and along training-like walks in a
# $ARENA m arena (default 2), and 'gridgpu gridcells' counts its grid cells
# (hexagonal under both kinds of walks) and modules into
# $OUT/seed-S/gridcells.json. A seed succeeds with at least $MIN_FRACTION
# (default 0.2) of its units grid cells. Runs again skip finished seeds and
# resume interrupted ones. PARALLEL=K trains K seeds at once (each on
# nproc/K threads: results do not depend on the thread count). GRIDGPU names
# the binary (default ./gridgpu, built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
	echo "usage: scripts/recipe-check.sh PRESET SEED... [-- TRAIN FLAGS...]" >&2
	exit 2
fi
PRESET=$1
shift
. scripts/seeds.sh
parse_seeds recipe-check "$@"

OUT=${OUT:-runs/recipe-$PRESET}
ARENA=${ARENA:-2}
MIN_FRACTION=${MIN_FRACTION:-0.2}
PARALLEL=${PARALLEL:-1}
BIN=${GRIDGPU:-./gridgpu}
if [ "$BIN" = ./gridgpu ] && [ ! -x ./gridgpu ]; then
	. scripts/env.sh
	echo "recipe-check: building ./gridgpu" >&2
	go build -o gridgpu .
fi
THREADS=$(($(nproc) / PARALLEL))
[ "$THREADS" -ge 1 ] || THREADS=1
mkdir -p "$OUT"

# one SEED: train (or resume), analyse and count one seed; quiet, logs in
# $OUT/seed-S/recipe.log.
one() {
	local seed=$1 dir=$OUT/seed-$1
	if [ -s "$dir/gridcells.json" ]; then
		return 0
	fi
	mkdir -p "$dir"
	local log=$dir/recipe.log
	{
		if [ -s "$dir/checkpoints/latest" ]; then
			GOMAXPROCS=$THREADS "$BIN" train --resume "$dir" "${TRAIN_FLAGS[@]}"
		else
			GOMAXPROCS=$THREADS "$BIN" train --preset "$PRESET" --seed "$seed" --out "$dir" "${TRAIN_FLAGS[@]}"
		fi
		GOMAXPROCS=$THREADS "$BIN" analyze --checkpoint "$dir" --arena "$ARENA" --out "$dir/report-standard" --overwrite
		GOMAXPROCS=$THREADS "$BIN" analyze --checkpoint "$dir" --arena "$ARENA" --walks training --out "$dir/report-training" --overwrite
		"$BIN" gridcells --standard "$dir/report-standard" --training "$dir/report-training" --arena "$ARENA" --json >"$dir/gridcells.json.tmp"
		mv "$dir/gridcells.json.tmp" "$dir/gridcells.json"
	} >"$log" 2>&1 || {
		echo "recipe-check: seed $seed failed; see $log" >&2
		return 1
	}
}

echo "recipe-check: $PRESET, seeds ${SEEDS[*]}, ${TRAIN_FLAGS[*]:+flags ${TRAIN_FLAGS[*]}, }$PARALLEL at a time on $THREADS thread(s) each, into $OUT" >&2
start=$(date +%s)
pids=()
failed=0
for seed in "${SEEDS[@]}"; do
	one "$seed" &
	pids+=($!)
	if [ ${#pids[@]} -ge "$PARALLEL" ]; then
		wait "${pids[0]}" || failed=1
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done

ok=0
n=0
for seed in "${SEEDS[@]}"; do
	f=$OUT/seed-$seed/gridcells.json
	[ -s "$f" ] || continue
	n=$((n + 1))
	line=$("$BIN" gridcells --standard "$OUT/seed-$seed/report-standard" --training "$OUT/seed-$seed/report-training" --arena "$ARENA")
	frac=$(sed -n 's/.*"fraction":\([0-9.eE+-]*\).*/\1/p' "$f")
	pass=no
	if awk -v f="$frac" -v m="$MIN_FRACTION" 'BEGIN { exit !(f >= m) }'; then
		pass=yes
		ok=$((ok + 1))
	fi
	echo "seed $seed: $line; passes: $pass"
done
echo "$PRESET${TRAIN_FLAGS[*]:+ ${TRAIN_FLAGS[*]}}: $ok of $n seeds with >= $(awk -v m="$MIN_FRACTION" 'BEGIN { print 100*m }')% grid cells ($(($(date +%s) - start)) s)"
exit $failed

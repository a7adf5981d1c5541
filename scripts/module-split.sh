#!/usr/bin/env bash
# module-split.sh: a second grid module from a trained one. Each seed's demo
# network (one module) is joined with itself at another velocity gain
# ('gridgpu join': a second block whose lattice period is the first's
# divided by the gain), trained on from there, and counted.
#
#   scripts/module-split.sh SEED... [-- TRAIN FLAGS...]
#   scripts/module-split.sh 0 6 7 8 9
#   HARD=0 scripts/module-split.sh 0 6 7 8 9
#
# The demo networks come from scripts/recipe-check.sh demo SEED (run first
# when $DEMO/seed-S is missing; DEMO defaults to runs/recipe-demo); a seed
# whose demo network has no lattice is reported and skipped. For each seed:
#
#   1. gridgpu join --a DEMO --b DEMO --gain-a $GAIN_A --gain-b $GAIN_B
#      (defaults 1.2 and 0.85: periods straddling the demo's, ratio 1.41)
#      into $OUT/seed-S/joined.safetensors;
#   2. the loss of the demo network and of the joined one on the same
#      $FROZEN_STEPS microbatches (default 100), training at a learning
#      rate of 1e-12 (nothing moves): frozen-single/, frozen-joined/;
#   3. training from the joined network: --blocks 2 --block-norm (each
#      block its own recurrence and Norm-ReLU; HARD=0 trains the dense
#      network instead, the paper's architecture, where the blocks can
#      couple), the demo's final learning rate 9e-5 without a schedule,
#      $STEPS steps (default 4000), into $OUT/seed-S/run;
#   4. analyze along both kinds of walks and gridcells in a $ARENA m arena
#      (default 3).
#
# A seed has two modules when gridcells lists two modules, neither a
# harmonic (sqrt(3) at 30 degrees, or an octave) of the other. OUT defaults
# to runs/module-split; GRIDGPU names the binary (default ./gridgpu, built
# here if missing). Runs again skip finished steps. One seed at a time, on
# every core.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
	echo "usage: scripts/module-split.sh SEED... [-- TRAIN FLAGS...]" >&2
	exit 2
fi
. scripts/seeds.sh
parse_seeds module-split "$@"

OUT=${OUT:-runs/module-split}
DEMO=${DEMO:-runs/recipe-demo}
GAIN_A=${GAIN_A:-1.2}
GAIN_B=${GAIN_B:-0.85}
STEPS=${STEPS:-4000}
FROZEN_STEPS=${FROZEN_STEPS:-100}
ARENA=${ARENA:-3}
HARD=${HARD:-1}
BLOCKS=(--blocks 2 --block-norm)
[ "$HARD" = 1 ] || BLOCKS=()
BIN=${GRIDGPU:-./gridgpu}
if [ "$BIN" = ./gridgpu ] && [ ! -x ./gridgpu ]; then
	. scripts/env.sh
	echo "module-split: building ./gridgpu" >&2
	go build -o gridgpu .
fi
export GRIDGPU=$BIN

# mean_loss DIR: the mean total loss of a run's metrics lines.
mean_loss() {
	awk -F'"loss":' 'NF > 1 { split($2, a, ","); s += a[1]; n++ } END { if (n) printf "%.5f", s / n }' "$1/metrics.jsonl"
}

# model DIR: the units and hidden width of a run, from its config.yaml.
model() {
	echo "$(sed -n 's/^  units: //p' "$1/config.yaml" | head -1) $(sed -n 's/^  hidden: //p' "$1/config.yaml" | head -1)"
}

echo "module-split: seeds ${SEEDS[*]}, gains $GAIN_A and $GAIN_B, $STEPS steps, ${BLOCKS[*]:-dense W(v)}${TRAIN_FLAGS[*]:+, flags ${TRAIN_FLAGS[*]}}, into $OUT" >&2
start=$(date +%s)
two=0
n=0
for seed in "${SEEDS[@]}"; do
	demo=$DEMO/seed-$seed
	if [ ! -s "$demo/gridcells.json" ]; then
		OUT=$DEMO scripts/recipe-check.sh demo "$seed" >/dev/null
	fi
	if ! grep -q '"modules":\[{' "$demo/gridcells.json"; then
		echo "seed $seed: skipped (its demo network has no grid module)"
		continue
	fi
	dir=$OUT/seed-$seed
	mkdir -p "$dir"
	log=$dir/split.log
	{
		read -r N H < <(model "$demo")
		if [ ! -s "$dir/joined.safetensors" ]; then
			"$BIN" join --a "$demo" --b "$demo" --gain-a "$GAIN_A" --gain-b "$GAIN_B" --out "$dir/joined.safetensors"
		fi
		frozen=(--lr 1e-12 --scheduler none --steps "$FROZEN_STEPS" --log-every 1 --eval-every 0 --seed 100)
		[ -s "$dir/frozen-single/checkpoints/latest" ] ||
			"$BIN" train --init-from "$demo" "${frozen[@]}" --out "$dir/frozen-single"
		[ -s "$dir/frozen-joined/checkpoints/latest" ] ||
			"$BIN" train --init-from "$dir/joined.safetensors" --units $((2 * N)) --hidden $((2 * H)) --blocks 2 --block-norm "${frozen[@]}" --out "$dir/frozen-joined"
		if [ -s "$dir/run/checkpoints/latest" ]; then
			"$BIN" train --resume "$dir/run"
		else
			"$BIN" train --init-from "$dir/joined.safetensors" --units $((2 * N)) --hidden $((2 * H)) "${BLOCKS[@]}" \
				--lr 9e-5 --scheduler none --steps "$STEPS" --eval-every 1000 --eval-arena "$ARENA" --seed 100 --out "$dir/run" "${TRAIN_FLAGS[@]}"
		fi
		if [ ! -s "$dir/gridcells.json" ]; then
			"$BIN" analyze --checkpoint "$dir/run" --arena "$ARENA" --out "$dir/report-standard" --overwrite
			"$BIN" analyze --checkpoint "$dir/run" --arena "$ARENA" --walks training --out "$dir/report-training" --overwrite
			"$BIN" gridcells --standard "$dir/report-standard" --training "$dir/report-training" --arena "$ARENA" --json >"$dir/gridcells.json.tmp"
			mv "$dir/gridcells.json.tmp" "$dir/gridcells.json"
		fi
	} >"$log" 2>&1 || {
		echo "module-split: seed $seed failed; see $log" >&2
		exit 1
	}
	n=$((n + 1))
	line=$("$BIN" gridcells --standard "$dir/report-standard" --training "$dir/report-training" --arena "$ARENA")
	# Modules that are not harmonics of another: the objects of the
	# "modules" list without a "harmonic_of" key.
	independent=$(grep -o '{"id"[^}]*}' "$dir/gridcells.json" | grep -vc harmonic_of || true)
	verdict=no
	if [ "$independent" -ge 2 ]; then
		verdict=yes
		two=$((two + 1))
	fi
	echo "seed $seed: frozen loss single $(mean_loss "$dir/frozen-single"), joined $(mean_loss "$dir/frozen-joined"); after $STEPS steps: $line; two modules: $verdict"
done
echo "module-split (gains $GAIN_A, $GAIN_B, ${BLOCKS[*]:-dense}${TRAIN_FLAGS[*]:+, ${TRAIN_FLAGS[*]}}): $two of $n seeds with two modules ($(($(date +%s) - start)) s)"

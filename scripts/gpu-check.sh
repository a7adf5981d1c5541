#!/usr/bin/env bash
# gpu-check.sh OUTDIR: the GPU check, run on a machine with an NVIDIA GPU from
# the repository root, with .gpu/ built beforehand by `make gpu-bundle` (the
# GPU machine needs no Go toolchain). Stages, each under its own timeout:
#   1. nvidia-smi -L
#   1b. the default pairwise kernel first: the stage tests (pair_tile and the
#      first pairwise kernel). If pair_tile fails here and the first kernel
#      passes, the rest of the run uses the first (GRIDGPU_PAIR=rowblock),
#      and the summary says so.
#   2. kernel tests and small whole-step tests (GPU vs CPU graph), -short
#   2b. the distinct-velocity path (the MLP on the U distinct velocities of
#      a permute-augmented microbatch) against the float64 CPU graph and the
#      engine's own P-row path on the same microbatch, small and paper size;
#      an augment-none microbatch takes the P-row path
#   3. the whole step at paper size vs the CPU graph (permute-augmented:
#      the distinct-velocity path)
#   4. benchmark: paper preset, median s/step (2 microbatches) and memory,
#      with the paper's permutation augmentation (distinct-velocity path)
#      and with augment none (P-row path); the three large matrix products
#      alone, on P and on U rows; the pairwise stages alone
#   4b. the same benchmarks with the previous kernels (GRIDGPU_GEMM=simt,
#      GRIDGPU_PAIR=rowblock), for comparison on the same card
#   5. the same with cuBLAS for the large products (GRIDGPU_GEMM=cublas)
#   5b. the kernel lab (cuda/lab): its 3xTF32 GEMM's check, and the three
#      large products in every family side by side (simt, 3xtf32, cublas,
#      cublas-tf32)
#   5c. CLI smoke: train --device cuda:0, resume that checkpoint on the CPU
#   6. the PyTorch baseline (eager, --device cuda) at paper size, same card
#   7. summary table (also OUTDIR/summary.json)
# The test binary (cuda.test) takes its kernels from GRIDGPU_GEMM and
# GRIDGPU_PAIR, the environment overrides of the config's gpu section
# (gridgpu train --gpu-gemm / --gpu-pair); unset, the defaults (auto, tiled).
# Every stage writes its output under OUTDIR; a failing stage does not stop
# the later ones. Expected wall time: about 2-3 minutes (run 1 on an H200:
# 50 s without stages 1b, 2b and 4b); the timeouts add up to 16 minutes,
# a bound that no stage should come near.
set -uo pipefail

OUT=${1:?usage: scripts/gpu-check.sh OUTDIR}
mkdir -p "$OUT"
BUNDLE=${GPU_BUNDLE:-.gpu}
PY=${PYTHON:-python3}
T0=$(date +%s)
declare -A RC

stage() { echo; echo "=== $1 ($(($(date +%s) - T0)) s)"; }

stage "device"
nvidia-smi -L | tee "$OUT/nvidia-smi.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee -a "$OUT/nvidia-smi.txt"
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

stage "pairwise kernel first: stage tests (pair_tile and rowblock)"
DEFAULT_GEMM=auto
DEFAULT_PAIR=tiled
timeout 60 "$BUNDLE/cuda.test" -test.v -test.short -test.run 'TestStages' -test.timeout 55s >"$OUT/tests_new_pair.txt" 2>&1
RC[new_pair]=$?
grep -E -- '^\s*--- (PASS|FAIL): TestStages' "$OUT/tests_new_pair.txt"
if [[ ${RC[new_pair]} != 0 ]]; then
	# Something failed: is it the pairwise default? Run the stage tests
	# with the first pairwise kernel throughout.
	GRIDGPU_PAIR=rowblock timeout 60 "$BUNDLE/cuda.test" -test.v -test.short -test.run 'TestStages' -test.timeout 55s >"$OUT/tests_rowblock.txt" 2>&1
	RC[rowblock]=$?
	if [[ ${RC[rowblock]} == 0 ]]; then
		echo "stage tests FAIL with pair_tile and PASS with GRIDGPU_PAIR=rowblock: the rest of this run uses rowblock"
		grep -E -- 'FAIL|relative error [0-9.]*e-0[1-3]|panic' "$OUT/tests_new_pair.txt" | head -20
		export GRIDGPU_PAIR=rowblock
		DEFAULT_PAIR=rowblock-fallback
	else
		echo "stage tests fail with either pairwise kernel: keeping the default"
	fi
fi
echo "$DEFAULT_GEMM $DEFAULT_PAIR" >"$OUT/defaults.txt"

stage "kernel and small whole-step tests (GEMM ${GRIDGPU_GEMM:-auto}, pairwise ${GRIDGPU_PAIR:-tiled})"
timeout 100 "$BUNDLE/cuda.test" -test.v -test.short -test.timeout 95s 2>&1 | tee "$OUT/tests.txt" | grep -E -- '^--- |^PASS|^FAIL|^ok|panic'
RC[tests]=${PIPESTATUS[0]}

stage "distinct-velocity path (permute-augmented microbatches) vs the float64 CPU graph and the P-row path"
timeout 120 "$BUNDLE/cuda.test" -test.v -test.run 'TestDistinctVelocities' -test.timeout 115s 2>&1 | tee "$OUT/tests_distinct.txt" | grep -E -- '--- |^PASS|^FAIL|panic|within'
RC[distinct]=${PIPESTATUS[0]}
if ! grep -q -- '--- PASS: TestDistinctVelocities/B130' "$OUT/tests_distinct.txt"; then
	echo "the paper-size distinct-velocity test did not pass"
fi

stage "whole step at paper size vs the CPU graph"
timeout 90 "$BUNDLE/cuda.test" -test.v -test.run 'TestStepVsGraph/B130' -test.timeout 85s 2>&1 | tee "$OUT/tests_paper.txt" | grep -E -- '--- |^PASS|^FAIL|panic|relative error'
RC[paper]=${PIPESTATUS[0]}

stage "benchmark (paper preset): step (permute: distinct velocities; none: P rows), the three large products, the pairwise stages"
GRIDGPU_BENCH_JSON="$OUT/bench_gridgpu.json" GRIDGPU_BENCH_NONE_JSON="$OUT/bench_gridgpu_none.json" GRIDGPU_GEMM_JSON="$OUT/bench_gemm.json" GRIDGPU_PAIR_JSON="$OUT/bench_pair.json" \
	timeout 75 "$BUNDLE/cuda.test" -test.run '^$' -test.bench 'StepPaper|GEMMPaper|PairPaper' -test.benchtime 10x -test.v 2>&1 | tee "$OUT/bench.txt"
RC[bench]=${PIPESTATUS[0]}

stage "previous kernels (GRIDGPU_GEMM=simt, GRIDGPU_PAIR=rowblock): the same benchmarks"
GRIDGPU_GEMM=simt GRIDGPU_PAIR=rowblock GRIDGPU_BENCH_JSON="$OUT/bench_gridgpu_simt.json" GRIDGPU_GEMM_JSON="$OUT/bench_gemm_simt.json" GRIDGPU_PAIR_JSON="$OUT/bench_pair_rowblock.json" \
	timeout 60 "$BUNDLE/cuda.test" -test.run '^$' -test.bench 'StepPaper$|GEMMPaper|PairPaper' -test.benchtime 10x -test.v 2>&1 | tee "$OUT/bench_simt.txt" | grep -E 'Benchmark|s/step|TFLOP|pairwise|FAIL|panic'
RC[bench_simt]=${PIPESTATUS[0]}

stage "cuBLAS path (GRIDGPU_GEMM=cublas): GEMM and small whole-step tests, benchmark"
GRIDGPU_GEMM=cublas timeout 60 "$BUNDLE/cuda.test" -test.v -test.short -test.run 'TestGEMM|TestStepVsGraph' -test.timeout 55s 2>&1 | tee "$OUT/tests_cublas.txt" | grep -E -- '^--- |^PASS|^FAIL|panic'
RC[tests_cublas]=${PIPESTATUS[0]}
GRIDGPU_GEMM=cublas GRIDGPU_BENCH_JSON="$OUT/bench_gridgpu_cublas.json" \
	timeout 45 "$BUNDLE/cuda.test" -test.run '^$' -test.bench 'StepPaper$' -test.benchtime 10x -test.v 2>&1 | tee "$OUT/bench_cublas.txt" | grep -E 'Benchmark|s/step|FAIL|panic'
RC[bench_cublas]=${PIPESTATUS[0]}

stage "kernel lab (cuda/lab): the 3xTF32 GEMM's check; the large products in every family (simt, 3xtf32, cublas, cublas-tf32)"
timeout 60 "$BUNDLE/cuda.test" -test.v -test.short -test.run 'TestLab' -test.timeout 55s >"$OUT/tests_lab.txt" 2>&1
RC[tests_lab]=$?
grep -E -- '^--- (PASS|FAIL)|^FAIL|panic' "$OUT/tests_lab.txt"
GRIDGPU_LAB_JSON="$OUT/bench_lab_gemm.json" \
	timeout 60 "$BUNDLE/cuda.test" -test.run '^$' -test.bench 'LabGEMMPaper' -test.benchtime 1x -test.v 2>&1 | tee "$OUT/bench_lab.txt" | grep -E 'TFLOP|skipped|FAIL|panic'
RC[bench_lab]=${PIPESTATUS[0]}

stage "CLI: train on cuda:0 (smoke preset), resume the checkpoint on the CPU"
timeout 30 "$BUNDLE/gridgpu-cuda" train --preset smoke --device cuda:0 --steps 200 --out "$OUT/train_smoke" >"$OUT/train_cuda.txt" 2>&1
RC[train_cuda]=$?
tail -3 "$OUT/train_cuda.txt"
grep -A2 '^gpu:' "$OUT/train_smoke/config.yaml"
head -1 "$OUT/train_smoke/metrics.jsonl" | grep -o '"device":"[^"]*"'
timeout 30 "$BUNDLE/gridgpu-cuda" train --resume "$OUT/train_smoke" --device cpu --steps 220 >"$OUT/train_resume_cpu.txt" 2>&1
RC[resume_cpu]=$?
tail -3 "$OUT/train_resume_cpu.txt"

stage "PyTorch baseline (eager, cuda, paper size)"
timeout 75 "$PY" "$BUNDLE/torch_reference.py" --device cuda --iters 10 --warmup 3 --threads 8 2>"$OUT/torch_eager.err" | tail -1 | tee "$OUT/torch_eager.json"
RC[torch]=${PIPESTATUS[0]}
if [[ ${GPU_CHECK_COMPILE:-0} == 1 ]]; then
	stage "PyTorch baseline (torch.compile)"
	timeout 240 "$PY" "$BUNDLE/torch_reference.py" --device cuda --compile --iters 10 --warmup 3 --threads 8 2>"$OUT/torch_compile.err" | tail -1 | tee "$OUT/torch_compile.json"
	RC[torch_compile]=${PIPESTATUS[0]}
fi

stage "summary"
printf '%s\n' "${!RC[@]}" | while read -r k; do echo "$k ${RC[$k]}"; done >"$OUT/stage_rc.txt"
"$PY" "$(dirname "$0")/gpu-summary.py" "$OUT" "$CARD"
echo "total $(($(date +%s) - T0)) s; results in $OUT"

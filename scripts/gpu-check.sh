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
"$PY" - "$OUT" "$CARD" <<'PY'
import json, os, re, sys
out, card = sys.argv[1], sys.argv[2]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None
rc = dict(l.split() for l in open(os.path.join(out, "stage_rc.txt")) if l.strip())
def count(name):
    try:
        txt = open(os.path.join(out, name)).read()
    except Exception:
        return 0, 0
    return len(re.findall(r"^\s*--- PASS", txt, re.M)), len(re.findall(r"^\s*--- FAIL", txt, re.M))
g, gemm, te, tc = load("bench_gridgpu.json"), load("bench_gemm.json"), load("torch_eager.json"), load("torch_compile.json")
gb = load("bench_gridgpu_cublas.json")
gn = load("bench_gridgpu_none.json")
gs, gemms, pair, pairold = load("bench_gridgpu_simt.json"), load("bench_gemm_simt.json"), load("bench_pair.json"), load("bench_pair_rowblock.json")
try:
    dflt = open(os.path.join(out, "defaults.txt")).read().split()
except Exception:
    dflt = ["?", "?"]
lab = load("bench_lab_gemm.json")
def maxerr(name):
    try:
        errs = [float(x) for x in re.findall(r"(?:relative error|within) ([0-9.e+-]+)", open(os.path.join(out, name)).read())]
    except Exception:
        return None
    return max(errs) if errs else None
def floor_flops(b):
    # The FLOPs of a step (cuda/NOTES.md, cost model) on the benchmark's
    # path: last-layer and second-layer products on R rows, recurrence
    # matvecs, rank-one gradient sums, pairwise Gram and gradient tiles;
    # its FP32 floor at 67 TFLOP/s (H100/H200 SXM FP32 datasheet).
    P, N, H = b["B"] * b["T"], b["N"], b["H"]
    R = b.get("mlp_rows") or P
    return b["microbatches"] * (3 * 2 * R * N * N * H + 3 * 2 * R * H * H + 4 * P * N * N + 2 * P * N * N + 4 * P * P * N)
p1, f1 = count("tests.txt")
p2, f2 = count("tests_paper.txt")
p3, f3 = count("tests_cublas.txt")
p6, f6 = count("tests_distinct.txt")
s = {"card": card, "stage_exit_codes": rc, "tests_passed": p1 + p2, "tests_failed": f1 + f2,
     "cublas_tests_passed": p3, "cublas_tests_failed": f3,
     "default_gemm": dflt[0], "default_pairwise": dflt[1]}
p4, f4 = count("tests_lab.txt")
p5, f5 = count("tests_new_pair.txt")
s["lab_tests_passed"], s["lab_tests_failed"] = p4, f4
s["stage_tests_passed"], s["stage_tests_failed"] = p5, f5
s["distinct_tests_passed"], s["distinct_tests_failed"] = p6, f6
s["distinct_max_relative_error"] = maxerr("tests_distinct.txt")
# Summary keys taken from a benchmark's JSON: {summary key: its key}.
for src, keys in ((gs, {"gridgpu_simt_s_per_step": "seconds_per_step", "gridgpu_simt_stage_ms": "stage_ms_one_microbatch"}),
                  (pair, {"pair_ms_per_microbatch": "ms_per_microbatch", "pair_tflops": "tflops", "pair_stage_ms": "stage_ms"}),
                  (pairold, {"pair_ms_per_microbatch_rowblock": "ms_per_microbatch", "pair_stage_ms_rowblock": "stage_ms"}),
                  (gb, {"gridgpu_cublas_s_per_step": "seconds_per_step", "gridgpu_cublas_stage_ms": "stage_ms_one_microbatch"})):
    if src:
        s.update({k: src[v] for k, v in keys.items()})
if gemms:
    s["gemm_tflops_simt"] = gemms
if lab:
    s["lab_gemm_tflops"] = lab
if g:
    s["gridgpu_s_per_step"] = g["seconds_per_step"]
    s["gridgpu_s_per_microbatch"] = g["seconds_per_step"] / g["microbatches"]
    s["gridgpu_buffers_gib"] = g["engine_buffer_bytes"] / 2**30
    s["gridgpu_device_gib"] = g["device_bytes_used_by_engine"] / 2**30
    s["gridgpu_stage_ms"] = g["stage_ms_one_microbatch"]
    s["gridgpu_mlp_rows"] = g.get("mlp_rows")
    # The three last-layer products, 2*R*N^2*H FLOP each per microbatch (R:
    # the MLP's rows, U distinct velocities or P).
    P, N, H = g["B"] * g["T"], g["N"], g["H"]
    R = g.get("mlp_rows") or P
    flops = g["microbatches"] * 3 * 2 * R * N * N * H
    s["gridgpu_effective_tflops_big_matmuls"] = flops / g["seconds_per_step"] / 1e12
    s["fp32_floor_s_per_step"] = floor_flops(g) / 67e12
    s["gridgpu_over_fp32_floor"] = g["seconds_per_step"] / s["fp32_floor_s_per_step"]
if gn:
    s["gridgpu_none_s_per_step"] = gn["seconds_per_step"]
    s["gridgpu_none_mlp_rows"] = gn.get("mlp_rows")
    s["gridgpu_none_buffers_gib"] = gn["engine_buffer_bytes"] / 2**30
    s["gridgpu_none_stage_ms"] = gn["stage_ms_one_microbatch"]
    s["fp32_floor_none_s_per_step"] = floor_flops(gn) / 67e12
    if g:
        s["distinct_speedup_vs_none"] = gn["seconds_per_step"] / g["seconds_per_step"]
if gemm:
    s["gemm_tflops"] = gemm
for name, t in (("torch_eager", te), ("torch_compile", tc)):
    if t:
        # The baseline takes one microbatch per optimiser step; the paper's
        # step (and gridgpu's) has two, so its step time is compared x2.
        s[name + "_s_per_microbatch"] = t["median_s_per_step"]
        s[name + "_peak_device_gib"] = (t.get("peak_device_mb") or 0) / 1024
        s[name + "_loss"] = t.get("loss")
        if gb:
            s["cublas_speedup_vs_" + name] = 2 * t["median_s_per_step"] / gb["seconds_per_step"]
        if gs:
            s["simt_speedup_vs_" + name] = 2 * t["median_s_per_step"] / gs["seconds_per_step"]
        if g:
            s["speedup_vs_" + name] = t["median_s_per_step"] / s["gridgpu_s_per_microbatch"]
            s["memory_ratio_vs_" + name] = s["gridgpu_buffers_gib"] / max(s[name + "_peak_device_gib"], 1e-9)
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=2)
def f(x, fmt="{:.4f}"):
    return "n/a" if x is None else fmt.format(x)
def row(label, per_microbatch, per_step, gib, note=""):
    print(f"{label:28s}{f(per_microbatch):>14s}{f(per_step):>14s}{f(gib, '{:.2f}'):>10s}" + (f"  {note}" if note else ""))
print(f"card: {card}; defaults this run: GEMM {s['default_gemm']}, pairwise {s['default_pairwise']} (stage tests {p5} passed, {f5} failed; kernel lab tests {p4} passed, {f4} failed)")
print(f"tests: {s['tests_passed']} passed, {s['tests_failed']} failed (cuBLAS path: {p3} passed, {f3} failed); stage exit codes {rc}")
print(f"{'':28s}{'s/microbatch':>14s}{'s/step(2 mb)':>14s}{'peak GiB':>10s}")
print(f"distinct-velocity path: {p6} tests passed, {f6} failed, largest error reported {f(s['distinct_max_relative_error'], '{:.1e}')}")
if g:
    row("gridgpu (cuda)", s['gridgpu_s_per_microbatch'], s['gridgpu_s_per_step'], s['gridgpu_buffers_gib'], f"MLP on {g.get('mlp_rows')} rows (augment {g.get('augment')})")
if gn:
    row("gridgpu (cuda, augment none)", gn['seconds_per_step'] / 2, gn['seconds_per_step'], s['gridgpu_none_buffers_gib'], f"MLP on {gn.get('mlp_rows')} rows; FP32 floor {s['fp32_floor_none_s_per_step'] * 1e3:.2f} ms")
if gs:
    row("gridgpu (previous kernels)", gs['seconds_per_step'] / 2, gs['seconds_per_step'], gs['engine_buffer_bytes'] / 2**30)
if gb:
    row("gridgpu (cuda, cuBLAS GEMM)", gb['seconds_per_step'] / 2, gb['seconds_per_step'], gb['engine_buffer_bytes'] / 2**30)
for name in ("torch_eager", "torch_compile"):
    if name + "_s_per_microbatch" in s:
        m = s[name + "_s_per_microbatch"]
        row(name, m, 2 * m, s[name + '_peak_device_gib'])
for name in ("torch_eager", "torch_compile"):
    if "speedup_vs_" + name in s:
        print(f"speed-up vs {name}: {s['speedup_vs_' + name]:.2f}x default" + (f", {s['simt_speedup_vs_' + name]:.2f}x previous kernels" if gs else "") + (f", {s['cublas_speedup_vs_' + name]:.2f}x cuBLAS" if gb else "") + f"; memory ratio {s['memory_ratio_vs_' + name]:.2f}")
if "distinct_speedup_vs_none" in s:
    print(f"distinct-velocity path (permute) vs P-row path (augment none), same card: {s['distinct_speedup_vs_none']:.2f}x faster per step")
if g:
    print(f"big-matmul rate over the whole step: {s['gridgpu_effective_tflops_big_matmuls']:.1f} TFLOP/s")
if g:
    print(f"step / FP32 FLOP floor ({s['fp32_floor_s_per_step'] * 1e3:.2f} ms): {s['gridgpu_over_fp32_floor']:.2f}x")
if gemm:
    print("GEMM alone (TFLOP/s): " + ", ".join(f"{k}: {v:.1f}" for k, v in gemm.items()))
if gemms:
    print("GEMM alone, SIMT (TFLOP/s): " + ", ".join(f"{k}: {v:.1f}" for k, v in gemms.items()))
for fam, rates in (lab or {}).items():
    print(f"kernel lab, {fam} (TFLOP/s): " + ", ".join(f"{k}: {v:.1f}" for k, v in rates.items()))
if pair or pairold:
    print(f"pairwise stages per microbatch: {f(pair and pair['ms_per_microbatch'], '{:.3f}')} ms default, {f(pairold and pairold['ms_per_microbatch'], '{:.3f}')} ms rowblock")
for name, st in (("default", g), ("previous", gs)):
    if st:
        top = sorted(st["stage_ms_one_microbatch"].items(), key=lambda kv: -kv[1])[:8]
        print(f"stages, {name} (ms, one microbatch): " + ", ".join(f"{k} {v:.2f}" for k, v in top))
PY
echo "total $(($(date +%s) - T0)) s; results in $OUT"

#!/usr/bin/env python3
"""gpu-summary.py OUTDIR CARD: the summary of scripts/gpu-check.sh.

Reads what the GPU check's stages wrote under OUTDIR (stage_rc.txt, the
benchmarks' JSON, the tests' output), writes OUTDIR/summary.json and prints
the summary table. A stage that wrote nothing shows as n/a. Checked on
fixtures by TestGPUSummary (python_test.go).
"""
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

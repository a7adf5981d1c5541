#!/usr/bin/env python3
"""The SIC model and its training step in PyTorch: the project's reference.

The model and losses that reference/doc.go defines, written with PyTorch's
autograd instead of gridgpu's hand-derived gradients, so that the two can be
compared. Three modes:

  --dump DIR   write one untrained case for the Go tests, computed in float64
               on the CPU with one thread:
                 DIR/model.safetensors  the seven model tensors (float32), named
                                        as gridgpu's checkpoints name them
                 DIR/batch.npz          velocities float32 [B,T,2]
                 DIR/reference.json     the float64 losses (loss = the weighted
                                        total; sep, inv, cap, ci unweighted),
                                        grad_norm per tensor, the pair counts,
                                        and "args", the arguments that rebuild
                                        the case (the fixtures' regeneration
                                        test reruns them)
               The committed cases testdata/torch-* were written with
                 --dump testdata/torch-tiny --batch 16 --steps-T 20
                   --units 32 --hidden 64 --seed 5 --short-steps 3
                 --dump testdata/torch-small --batch 32 --steps-T 30
                   --units 16 --hidden 32 --seed 2 --short-steps 2
               and TestPyTorchReferenceRegenerates (crosscheck_test.go) reruns
               each with the "args" of its reference.json and requires the
               committed files back.

  --eval DIR   evaluate DIR/model.safetensors on DIR/batch.npz (a case this
               script or another program wrote, or a gridgpu checkpoint copied
               there) in float64 and print the numbers as JSON; with
               DIR/reference.json, also the relative difference from each of
               its numbers. The model has one Norm-ReLU over all N units (a
               checkpoint trained with model.block_norm is another model).

  (default)    benchmark: time --iters training steps (after --warmup untimed
               ones) of one freshly sampled microbatch each: forward, backward,
               global-norm clipping and AdamW, in float32 on --device. Sampling
               is not timed. Prints one JSON line: median_s_per_step,
               step_times_s, peak_rss_mb (VmHWM), peak_device_mb (CUDA), the
               last step's loss terms and the config. scripts/bench-vs-torch.sh
               and scripts/gpu-check.sh run it.

The model (defaults: the paper's sizes and settings, gridgpu's PaperLoss):

  data    T velocities, each component ~ U(-max_speed, max_speed); trajectory b
          takes them in the order of its own random permutation (--augment
          permute) or draws its own (--augment none). Positions are their
          running sums in float32, summed step by step.
  model   W(v) = mlp(v), mlp = Linear(2,H)-ReLU-Linear(H,H)-ReLU-Linear(H,N*N),
          read row-major as N x N; g_0 = NormReLU(g0), g_t = NormReLU(W(v_t)
          g_{t-1}), NormReLU(y) = ReLU(y)/||ReLU(y)||, the zero vector where
          ||ReLU(y)|| <= 1e-8. Initialisation: nn.Linear's default bounds,
          U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; g0 ~ N(0,1).
  losses  over the P = B*T stepped states and ordered pairs i != j, d_ij =
          ||g_i - g_j||^2, pairs compared by ||x_i - x_j||^2 against sigma_x^2:
          sep = mean over far pairs of exp(-d_ij / (2 sigma_g^2)),
          inv = mean over near pairs of d_ij, cap = -||mean_i g_i||^2,
          ci  = variance of r = ||g_{b,t} - g_{b,t-1}|| / ||v_{b,t}|| over the
                steps with 0 < ||v_{b,t}|| < sigma_x (g_{b,0} = g_0; 0 if none).
          loss = lambda_sep sep + lambda_inv inv + lambda_cap cap + lambda_ci ci;
          --reduction sum replaces the pair means by sums; an empty mean is 0.
  optim   AdamW(lr 2e-5, betas 0.9/0.999, eps 1e-8, weight decay 0), the
          gradient clipped to global norm 0.1.

--short-steps K replaces K of the T velocities by steps shorter than sigma_x
(length uniform in [0.4, 0.9] sigma_x, direction uniform), so that the
conformal-isometry term has pairs to compare: with the paper's velocities a
step is that short with probability ~9%, and a small case may have none.

Use an interpreter that has torch and numpy: Debian's /usr/bin/python3 with
python3-torch and python3-numpy (scripts/setup.sh installs them).
"""

import argparse
import copy
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

ZERO_NORM = 1e-8  # the Norm-ReLU threshold (package reference's ZeroNorm)

# The order of the tensors in gridgpu's checkpoints (graph.ParamNames).
PARAM_NAMES = ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias", "g0"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=130, help="B, trajectories per microbatch (paper: 130)")
    p.add_argument("--steps-T", type=int, default=60, help="T, steps per trajectory (paper: 60)")
    p.add_argument("--units", type=int, default=128, help="N, recurrent units (paper: 128)")
    p.add_argument("--hidden", type=int, default=256, help="H, MLP width (256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the parameters and the microbatches")
    p.add_argument("--max-speed", type=float, default=0.15, help="velocity components ~ U(-max, max), metres per step")
    p.add_argument("--augment", choices=["permute", "none"], default="permute")
    p.add_argument("--short-steps", type=int, default=0, help="K of the T velocities shorter than sigma_x (see the description)")
    p.add_argument("--sigma-x", type=float, default=0.05)
    p.add_argument("--sigma-g", type=float, default=0.4)
    p.add_argument("--lambda-sep", type=float, default=1.0)
    p.add_argument("--lambda-inv", type=float, default=0.1)
    p.add_argument("--lambda-cap", type=float, default=0.5)
    p.add_argument("--lambda-ci", type=float, default=1.0)
    p.add_argument("--reduction", choices=["mean", "sum"], default="mean")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--clip", type=float, default=0.1, help="global gradient norm bound (0: none)")
    p.add_argument("--iters", type=int, default=5, help="benchmark: timed steps")
    p.add_argument("--warmup", type=int, default=1, help="benchmark: untimed steps first")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    p.add_argument("--device", default="cpu", help="benchmark: cpu or cuda[:N]")
    p.add_argument("--compile", action="store_true", help="benchmark: torch.compile the loss (PyTorch 2)")
    p.add_argument("--dump", metavar="DIR", help="write one untrained case in float64 and exit")
    p.add_argument("--eval", metavar="DIR", help="evaluate a case directory's model and batch in float64 and exit")
    a = p.parse_args(argv)
    for k in ("batch", "steps_T", "units", "hidden"):
        if getattr(a, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be at least 1")
    if not 0 <= a.short_steps <= a.steps_T:
        p.error("--short-steps must be from 0 to --steps-T")
    if a.augment == "none" and a.short_steps:
        p.error("--short-steps needs --augment permute (one velocity set)")
    if a.iters < 1 or a.warmup < 0:
        p.error("--iters must be at least 1 and --warmup at least 0")
    return a


class SIC(nn.Module):
    """g0 and mlp, registered so that state_dict names them as gridgpu's
    checkpoints do (g0, mlp.0.weight, ..., mlp.4.bias)."""

    def __init__(self, N, H, gen):
        super().__init__()
        self.N = N
        self.mlp = nn.Sequential(nn.Linear(2, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, N * N))
        self.g0 = nn.Parameter(torch.empty(N))
        # nn.Linear's default bounds, drawn here from gen so that the draws
        # do not depend on nn.Linear's own reset_parameters.
        with torch.no_grad():
            for layer in (self.mlp[0], self.mlp[2], self.mlp[4]):
                bound = 1 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
            self.g0.normal_(0, 1, generator=gen)

    def tensors(self):
        """The seven tensors in gridgpu's order, with their names."""
        sd = dict(self.named_parameters())
        return [(n, sd[n]) for n in PARAM_NAMES]


def norm_relu(y):
    """ReLU(y)/||ReLU(y)|| over the last axis; zero where the norm <= ZERO_NORM.
    The division is by a safe norm, so a zero state has a zero gradient
    instead of 0 * inf."""
    r = torch.relu(y)
    n = torch.sqrt((r * r).sum(-1, keepdim=True))
    live = n > ZERO_NORM
    return torch.where(live, r / torch.where(live, n, torch.ones_like(n)), torch.zeros_like(r))


def sample_velocities(gen, a):
    """One microbatch of velocities, float32 [B,T,2] on the CPU."""
    B, T, s = a.batch, a.steps_T, a.max_speed
    if a.augment == "none":
        return (torch.rand(B, T, 2, generator=gen, dtype=torch.float64) * 2 - 1).mul(s).float()
    v = (torch.rand(T, 2, generator=gen, dtype=torch.float64) * 2 - 1) * s
    if a.short_steps:
        k = a.short_steps
        length = (0.4 + 0.5 * torch.rand(k, generator=gen, dtype=torch.float64)) * a.sigma_x
        angle = torch.rand(k, generator=gen, dtype=torch.float64) * (2 * math.pi)
        which = torch.randperm(T, generator=gen)[:k]
        v[which, 0] = length * torch.cos(angle)
        v[which, 1] = length * torch.sin(angle)
    v = v.float()
    perms = torch.stack([torch.randperm(T, generator=gen) for _ in range(B)])
    return v[perms]


def positions(vel):
    """x_{b,t} = v_{b,1} + ... + v_{b,t}, summed step by step in float32 (as
    gridgpu's data.Batch.Positions does, so that both split the pairs at
    sigma_x alike)."""
    pos = torch.empty_like(vel)
    acc = torch.zeros_like(vel[:, 0])
    for t in range(vel.shape[1]):
        acc = acc + vel[:, t]
        pos[:, t] = acc
    return pos


def states(model, vel):
    """g_0 [N] and the stepped states [B,T,N] for velocities [B,T,2]."""
    B, T, _ = vel.shape
    N = model.N
    # Time-major, and split with unbind: indexing W[:, t] would make the
    # backward pass build a whole [B,T,N,N] gradient per step.
    W = model.mlp(vel.transpose(0, 1).reshape(T * B, 2)).reshape(T, B, N, N)
    g0 = norm_relu(model.g0)
    g = g0.expand(B, N)
    out = []
    for Wt in W.unbind(0):
        g = norm_relu(torch.bmm(Wt, g.unsqueeze(-1)).squeeze(-1))
        out.append(g)
    return g0, torch.stack(out, 1)


def loss_terms(model, vel, pos, c):
    """The four unweighted terms, the weighted total and the pair counts, as
    tensors (no host synchronisation, so that torch.compile sees one graph).
    vel [B,T,2] and pos [B,T,2] are in the compute dtype; distances and the
    near/far split are computed in it too."""
    B, T, _ = vel.shape
    g0, G = states(model, vel)
    P, N = B * T, G.shape[-1]
    g = G.reshape(P, N)
    zero = g.new_zeros(())
    terms = {"sep": zero, "inv": zero, "cap": zero, "ci": zero}
    counts = {}
    if c.lambda_sep or c.lambda_inv:
        x = pos.reshape(P, 2)
        dx = x[:, None, 0] - x[None, :, 0]
        dy = x[:, None, 1] - x[None, :, 1]
        r2 = dx * dx + dy * dy
        s2 = c.sigma_x * c.sigma_x
        near = r2 < s2
        near.fill_diagonal_(False)
        far = r2 > s2  # a pair exactly sigma_x apart is in neither set
        sq = (g * g).sum(1)
        d = sq[:, None] + sq[None, :] - 2 * (g @ g.t())
        nfar, nnear = far.sum(), near.sum()
        counts["far_pairs"], counts["near_pairs"] = nfar, nnear
        mfar = nfar.clamp(min=1).to(g.dtype) if c.reduction == "mean" else 1
        mnear = nnear.clamp(min=1).to(g.dtype) if c.reduction == "mean" else 1
        if c.lambda_sep:
            terms["sep"] = torch.where(far, torch.exp(d / (-2 * c.sigma_g * c.sigma_g)), zero).sum() / mfar
        if c.lambda_inv:
            terms["inv"] = torch.where(near, d, zero).sum() / mnear
    if c.lambda_cap:
        m = g.mean(0)
        terms["cap"] = -(m * m).sum()
    if c.lambda_ci:
        prev = torch.cat([g0.expand(B, 1, N), G[:, :-1]], 1)
        e = G - prev
        e2 = (e * e).sum(-1)
        dist = torch.where(e2 > 0, torch.sqrt(torch.where(e2 > 0, e2, torch.ones_like(e2))), torch.zeros_like(e2))
        sp = torch.sqrt(vel[..., 0] * vel[..., 0] + vel[..., 1] * vel[..., 1])
        use = (sp > 0) & (sp < c.sigma_x)
        K = use.sum()
        counts["ci_pairs"] = K
        r = dist / torch.where(use, sp, torch.ones_like(sp))
        k = K.clamp(min=1).to(g.dtype)
        mean = torch.where(use, r, zero).sum() / k
        dev = torch.where(use, r - mean, zero)
        terms["ci"] = (dev * dev).sum() / k  # two passes: mean, then squared deviations
    total = c.lambda_sep * terms["sep"] + c.lambda_inv * terms["inv"] + c.lambda_cap * terms["cap"] + c.lambda_ci * terms["ci"]
    return total, terms, counts


# --- files -------------------------------------------------------------------


def write_safetensors(path, named, metadata):
    """A safetensors file of float32 tensors, in the given order."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in named:
        b = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """The float32 tensors of a safetensors file, by name."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        if h["dtype"] != "F32":
            sys.exit(f"torch_reference: {path}: {name} is {h['dtype']}, want F32")
        lo, hi = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[lo:hi], dtype="<f4").copy()).reshape(h["shape"])
    return out


def evaluate(model, vel32, a):
    """The float64 losses, gradient norms and pair counts of model (float32
    parameters, widened exactly) on the velocities vel32, on the CPU."""
    model64 = copy.deepcopy(model).double()
    total, terms, counts = loss_terms(model64, vel32.double(), positions(vel32).double(), a)
    total.backward()
    ref = {"loss": float(total)}
    ref.update({k: float(v) for k, v in terms.items()})
    ref["grad_norm"] = {n: math.sqrt(float((p.grad * p.grad).sum())) for n, p in model64.tensors()}
    ref.update({k: int(v) for k, v in counts.items()})
    return ref


def dump(a, argv):
    torch.set_num_threads(1)  # one summation order: the numbers do not depend on the machine's cores
    gen = torch.Generator().manual_seed(a.seed)
    model = SIC(a.units, a.hidden, gen)
    vel32 = sample_velocities(gen, a)
    ref = evaluate(model, vel32, a)
    ref["args"] = argv
    ref["torch"] = torch.__version__
    if ref.get("ci_pairs", 0) == 0 and a.lambda_ci:
        print("torch_reference: no step is shorter than sigma_x: the conformal-isometry term is 0 (use --short-steps)", file=sys.stderr)
    os.makedirs(a.dump, exist_ok=True)
    meta = {"source": "scripts/torch_reference.py", "units": str(a.units), "hidden": str(a.hidden), "seed": str(a.seed)}
    write_safetensors(os.path.join(a.dump, "model.safetensors"), model.tensors(), meta)
    np.savez(os.path.join(a.dump, "batch.npz"), velocities=vel32.numpy())
    with open(os.path.join(a.dump, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(json.dumps({k: ref[k] for k in ("loss", "sep", "inv", "cap", "ci")}))


def eval_case(a):
    """--eval DIR: evaluate DIR/model.safetensors on DIR/batch.npz (written by
    this script or any other program) and print the float64 numbers as JSON;
    with DIR/reference.json, also the relative difference from each of its
    numbers."""
    torch.set_num_threads(1)
    ts = read_safetensors(os.path.join(a.eval, "model.safetensors"))
    N, H = ts["g0"].shape[0], ts["mlp.0.weight"].shape[0]
    model = SIC(N, H, torch.Generator().manual_seed(0))
    model.load_state_dict({n: ts[n] for n in PARAM_NAMES})  # a training checkpoint holds more
    vel32 = torch.from_numpy(np.load(os.path.join(a.eval, "batch.npz"))["velocities"].astype(np.float32))
    ref = evaluate(model, vel32, a)
    path = os.path.join(a.eval, "reference.json")
    if os.path.exists(path):
        with open(path) as f:
            other = json.load(f)
        rel = lambda x, y: abs(x - y) / abs(y) if y else abs(x)  # noqa: E731
        diff = {k: rel(ref[k], other[k]) for k in ("loss", "sep", "inv", "cap", "ci") if k in other}
        diff.update({"grad " + n: rel(ref["grad_norm"][n], g) for n, g in other.get("grad_norm", {}).items()})
        ref["relative_difference"] = diff
        ref["max_relative_difference"] = max(diff.values(), default=0.0)
    print(json.dumps(ref))


# --- benchmark ----------------------------------------------------------------


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def blas_libraries():
    """The BLAS and LAPACK libraries mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "lapack" in line.lower()}
        return sorted(l for l in libs if l.startswith("/"))
    except OSError:
        return []


def bench(a):
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"torch_reference: --device {a.device}: CUDA is not available to this PyTorch")
    gen = torch.Generator().manual_seed(a.seed)
    model = SIC(a.units, a.hidden, gen).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    fn = lambda vel, pos: loss_terms(model, vel, pos, a)  # noqa: E731
    if a.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"torch_reference: --compile needs PyTorch 2 (this is {torch.__version__})")
        fn = torch.compile(fn)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times, last = [], None
    for i in range(a.warmup + a.iters):
        vel = sample_velocities(gen, a)
        pos = positions(vel)
        vel, pos = vel.to(dev), pos.to(dev)
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        total, terms, _ = fn(vel, pos)
        total.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
        last = (total, terms)
    total, terms = last
    loss = {k: float(v) for k, v in terms.items()}
    loss["total"] = float(total)
    cfg = {k: getattr(a, k) for k in ("batch", "steps_T", "units", "hidden", "iters", "warmup", "threads", "seed", "device", "compile", "augment")}
    out = {
        "config": cfg,
        "P": a.batch * a.steps_T,
        "torch": torch.__version__,
        "blas": blas_libraries(),
        "median_s_per_step": float(np.median(times)),
        "step_times_s": [round(t, 6) for t in times],
        "loss": loss,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_device_mb": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == "cuda" else None,
    }
    print(json.dumps(out))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.dump:
        # "args" in reference.json: the arguments without --dump, which is
        # where, not what.
        rest, skip = [], False
        for x in argv:
            if skip:
                skip = False
            elif x == "--dump":
                skip = True
            elif not x.startswith("--dump="):
                rest.append(x)
        dump(a, rest)
    elif a.eval:
        eval_case(a)
    else:
        bench(a)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Reference values for the Go test of the "banino" grid scorer.

Writes expected.npz beside this script: test ratemaps, their spatial
autocorrelograms (SACs), score60/score90 (best ring and every ring), and
scipy.ndimage.rotate outputs for the spline-rotation test.

This is an independent re-statement, written for this project, of the
grid-score method of Banino et al. (2018) as their published scorer
computes it (and as Sorscher et al. use it), with numpy and scipy doing the
numerical work exactly where the published scorer uses them:

  * SAC: NaN bins are replaced by 0 before anything else, so every bin
    (including the formerly missing ones) counts as valid; the six sums of
    the Pearson correlation are full 2-D cross-correlations
    (scipy.signal.convolve2d with the 180-degree-rotated kernel, mode
    'full'); std = (E[x^2] - E[x]^2)^0.5; the result has NaN (0/0) and
    infinities replaced by numpy.nan_to_num.
  * Ring masks on the (2n-1) x (2n-1) SAC grid, coordinates
    numpy.linspace(-(n-1), n-1, 2n-1): inside the outer circle
    (r <= outer*n) and outside the inner one (not r <= 0.2*n), with outer
    radii numpy.linspace(0.4, 1.0, 10).
  * Rotations: scipy.ndimage.rotate(sac, angle, reshape=False), i.e. order
    3 spline with prefilter, mode 'constant', cval 0.
  * Ring correlation at angle a: sum(c * (rot_a - m) * mask) / area divided
    by (sum(c^2) / area + 1e-5), where m is the SAC's mean over the ring and
    c = (sac - m) * mask.
  * score60 = (c60 + c120)/2 - (c30 + c90 + c150)/3,
    score90 = c90 - (c45 + c135)/2, each maximised over the rings
    independently.

Run with Debian's python3-scipy / python3-numpy:  /usr/bin/python3 make_expected.py
"""

import json
import os

import numpy as np
import scipy
import scipy.ndimage
import scipy.signal

ANGLES = [30, 45, 60, 90, 120, 135, 150]


def sac_published(m):
    """Spatial autocorrelogram as the published scorer computes it."""
    a = np.nan_to_num(np.asarray(m, dtype=np.float64))
    ones = np.ones(a.shape)  # after nan_to_num no bin is NaN any more

    def xcorr(p, q):
        return scipy.signal.convolve2d(q, np.rot90(p, 2), mode="full")

    s12 = xcorr(a, a)
    s1 = xcorr(a, ones)
    s2 = xcorr(ones, a)
    q1 = xcorr(a * a, ones)
    q2 = xcorr(ones, a * a)
    n = xcorr(ones, ones)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd1 = np.power(q1 / n - np.square(s1) / np.square(n), 0.5)
        sd2 = np.power(q2 / n - np.square(s2) / np.square(n), 0.5)
        cov = s12 / n - s1 * s2 / np.square(n)
        r = cov / (sd1 * sd2)
    return np.nan_to_num(np.real(r))


def circle(size, radius):
    half = size // 2
    x = np.linspace(-half, half, size)
    xx = np.repeat(x[None, :], size, axis=0)
    yy = np.repeat(x[:, None], size, axis=1)
    return (np.sqrt(xx ** 2 + yy ** 2) <= radius).astype(np.float64)


def ring_params():
    return list(zip([0.2] * 10, np.linspace(0.4, 1.0, num=10).tolist()))


def rotated(sac):
    return [scipy.ndimage.rotate(sac, a, reshape=False) for a in ANGLES]


def ring_scores(sac, rots, mask):
    area = np.sum(mask)
    mean = np.sum(sac * mask) / area
    cen = (sac - mean) * mask
    var = np.sum(cen ** 2) / area + 1e-5
    c = {}
    for a, r in zip(ANGLES, rots):
        c[a] = np.sum(cen * ((r - mean) * mask)) / area / var
    s60 = (c[60] + c[120]) / 2 - (c[30] + c[90] + c[150]) / 3
    s90 = c[90] - (c[45] + c[135]) / 2
    return s60, s90


def scores(m):
    n = m.shape[0]
    assert m.shape == (n, n)
    sac = sac_published(m)
    rots = rotated(sac)
    size = 2 * n - 1
    per = []
    for lo, hi in ring_params():
        mask = circle(size, hi * n) * (1 - circle(size, lo * n))
        per.append(ring_scores(sac, rots, mask))
    s60 = np.array([p[0] for p in per])
    s90 = np.array([p[1] for p in per])
    return sac, s60, s90


# ---- test maps -------------------------------------------------------------

def hexagonal(n, period, ori_deg, rng, phase=None):
    """Sum of three plane waves 60 degrees apart (rows are x, columns y)."""
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    k = 4 * np.pi / (np.sqrt(3) * period)
    ph = rng.uniform(0, 2 * np.pi, 3) if phase is None else phase
    g = np.zeros((n, n))
    for i in range(3):
        t = np.deg2rad(ori_deg + 30 + 60 * i)
        g += np.cos(k * (np.cos(t) * x + np.sin(t) * y) + ph[i])
    return g


def square(n, period, ori_deg, rng):
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    k = 2 * np.pi / period
    g = np.zeros((n, n))
    for i in range(2):
        t = np.deg2rad(ori_deg + 90 * i)
        g += np.cos(k * (np.cos(t) * x + np.sin(t) * y) + rng.uniform(0, 2 * np.pi))
    return g


def place(n, centres, sigma):
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    g = np.zeros((n, n))
    for cx, cy in centres:
        g += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))
    return g


def smooth_noise(n, sigma, rng):
    return scipy.ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")


def with_nan(m, frac, rng):
    m = m.copy()
    m[rng.random(m.shape) < frac] = np.nan
    return m


def make_maps(rng):
    maps = []

    def add(name, m):
        # Maps are rounded to float32 (and stored so) before they are
        # scored, so the stored map is exactly the scored one.
        maps.append((name, np.asarray(m, dtype=np.float32).astype(np.float64)))

    add("hex_n20_p7_o10_nan", with_nan(hexagonal(20, 7, 10, rng) + 0.2 * rng.standard_normal((20, 20)), 0.05, rng))
    add("hex_n20_p5_o33", hexagonal(20, 5, 33, rng) + 0.1 * rng.standard_normal((20, 20)))
    m = hexagonal(40, 11, 25, rng) + 0.3 * rng.standard_normal((40, 40))
    m[:8, :8] = np.nan  # an unvisited corner
    add("hex_n40_p11_o25_corner", with_nan(m, 0.03, rng))
    add("hex_n40_p18_o0", hexagonal(40, 18, 0, rng) + 0.1 * rng.standard_normal((40, 40)))
    add("hex_n40_p9_o47_relu_sparse", with_nan(np.maximum(0, hexagonal(40, 9, 47, rng) - 0.5), 0.3, rng))
    add("hex_n60_p15_o40", hexagonal(60, 15, 40, rng) + 0.2 * rng.standard_normal((60, 60)))
    add("hex_n60_p24_o12_nan", with_nan(hexagonal(60, 24, 12, rng) + 0.5 * rng.standard_normal((60, 60)), 0.1, rng))
    add("square_n40_p10_o0", square(40, 10, 0, rng) + 0.1 * rng.standard_normal((40, 40)))
    add("square_n60_p14_o20_nan", with_nan(square(60, 14, 20, rng) + 0.2 * rng.standard_normal((60, 60)), 0.05, rng))
    add("square_n20_p6_o0", square(20, 6, 0, rng))
    add("place_n20_s3", place(20, [(9.3, 11.1)], 3) + 0.05 * rng.standard_normal((20, 20)))
    add("place3_n40_s4_nan", with_nan(place(40, [(8, 30), (25, 12), (33, 33)], 4) + 0.05 * rng.standard_normal((40, 40)), 0.05, rng))
    add("place_n60_s6", place(60, [(35.5, 22.5)], 6) + 0.02 * rng.standard_normal((60, 60)))
    add("noise_n20_s1.5", smooth_noise(20, 1.5, rng))
    add("noise_n40_s2", smooth_noise(40, 2, rng))
    add("noise_n60_s3_nan", with_nan(smooth_noise(60, 3, rng), 0.08, rng))
    add("white_n40", rng.standard_normal((40, 40)))
    return maps


def main():
    rng = np.random.default_rng(20231102)
    out = {}
    names = []
    for i, (name, m) in enumerate(make_maps(rng)):
        sac, s60, s90 = scores(m)
        names.append(name)
        out["map_%02d" % i] = m.astype(np.float32)
        out["score60_%02d" % i] = np.array(s60.max())
        out["score90_%02d" % i] = np.array(s90.max())
        out["ring_score60_%02d" % i] = s60
        out["ring_score90_%02d" % i] = s90
        if m.shape[0] <= 40:
            out["sac_%02d" % i] = sac.astype(np.float32)
        print("%-28s n=%2d score60 % .6f (ring %d) score90 % .6f (ring %d)"
              % (name, m.shape[0], s60.max(), s60.argmax(), s90.max(), s90.argmax()))

    # Spline rotation alone: arrays of odd and even, square and oblong
    # shapes, at the scorer's angles and at angles that are not multiples
    # of 15 degrees.
    rot_in = [rng.standard_normal((15, 17)), rng.standard_normal((16, 16)),
              scipy.ndimage.gaussian_filter(rng.standard_normal((21, 12)), 1.0),
              sac_published(make_maps(np.random.default_rng(20231102))[0][1])]
    rot_angles = ANGLES + [17.3, -33.0, 200.0]
    for i, a in enumerate(rot_in):
        a = a.astype(np.float32).astype(np.float64)
        out["rot_in_%d" % i] = a.astype(np.float32)
        r = np.stack([scipy.ndimage.rotate(a, ang, reshape=False) for ang in rot_angles])
        # Full precision for the small arrays, float32 for the SAC.
        out["rot_out_%d" % i] = r if a.size < 1000 else r.astype(np.float32)
    out["rot_angles"] = np.array(rot_angles, dtype=np.float64)

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "expected.npz")
    np.savez_compressed(path, **out)
    # Names and summary numbers, for people (the Go test reads the .npz
    # and takes the map names from here).
    summary = {"numpy": np.__version__, "scipy": scipy.__version__, "maps": [
        {"index": i, "name": nm, "n": int(out["map_%02d" % i].shape[0]),
         "score60": float(out["score60_%02d" % i]), "score90": float(out["score90_%02d" % i])}
        for i, nm in enumerate(names)]}
    with open(os.path.join(here, "expected.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print("wrote", path, "(numpy %s, scipy %s)" % (np.__version__, scipy.__version__))


if __name__ == "__main__":
    main()

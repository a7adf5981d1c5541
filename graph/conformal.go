package graph

import (
	"math"

	G "gorgonia.org/gorgonia"
)

// CIWindow selects the pairs of states the conformal-isometry term compares
// and its form (see LossConfig's CI fields); the zero value of each field
// is the paper's choice.
type CIWindow struct {
	MaxLag  int     // pairs (g_{b,t-k}, g_{b,t}) for k = 1..MaxLag of one trajectory; 0 means 1
	MaxDist float64 // only pairs whose displacement has 0 < ||dx|| < MaxDist
	Scale   float64 // 0: variance of r; > 0: mean of (r - Scale)^2
	// Bins > 1 splits (0, MaxDist) into this many equal bins of ||dx|| and
	// takes the variance of r within each bin (pooled), so that only pairs
	// displaced by about the same distance in different directions are
	// compared. 0 or 1: one bin.
	Bins int
}

// ciWindow is the window of lc, its zero fields replaced by the paper's.
func (lc LossConfig) ciWindow() CIWindow {
	w := CIWindow{MaxLag: lc.CIMaxLag, MaxDist: lc.CIMaxDist, Scale: lc.CIScale, Bins: lc.CIBins}
	if w.Bins < 1 {
		w.Bins = 1
	}
	if w.MaxLag < 1 {
		w.MaxLag = 1
	}
	if w.MaxDist <= 0 {
		w.MaxDist = lc.SigmaX
	}
	return w
}

// forEachCIPair calls f for each pair of states the conformal-isometry
// term compares, in a fixed order: g_{b,t} and g_{b,t-lag} (t = 1..steps,
// lag = 1..MaxLag) whose displacement sp = ||v_{t-lag+1} + ... + v_t|| lies
// in (0, MaxDist).
func forEachCIPair(B, steps int, vel []float32, w CIWindow, f func(b, t, lag int, sp float64)) {
	for b := 0; b < B; b++ {
		for t := 1; t <= steps; t++ {
			var dx, dy float64
			for lag := 1; lag <= w.MaxLag && lag <= t; lag++ {
				dx += float64(vel[(b*steps+t-lag)*2])
				dy += float64(vel[(b*steps+t-lag)*2+1])
				if sp := math.Hypot(dx, dy); sp > 0 && sp < w.MaxDist {
					f(b, t, lag, sp)
				}
			}
		}
	}
}

// ciPairs counts the pairs of states the conformal-isometry term compares:
// none means the term is undefined.
func ciPairs(B, steps int, vel []float32, w CIWindow) int {
	n := 0
	forEachCIPair(B, steps, vel, w, func(int, int, int, float64) { n++ })
	return n
}

// Conformal isometry over pairs of states of one trajectory. For the K pairs
// k = (b, t, lag) with 1 <= lag <= MaxLag and 0 < ||dx_k|| < MaxDist, where
// dx_k = x_{b,t} - x_{b,t-lag} is the sum of the lag velocities between
// them, r_k = ||g_{b,t} - g_{b,t-lag}|| / ||dx_k||. The paper's term is
// MaxLag = 1, MaxDist = sigma_x: consecutive states over small steps.
//
//	variance form (Scale = 0): L = (1/K) sum_k (r_k - mean r)^2,
//	  dL/dr_k = (2/K)(r_k - mean r) (the mean's own dependence sums to zero);
//	fixed scale (Scale = s > 0): L = (1/K) sum_k (r_k - s)^2,
//	  dL/dr_k = (2/K)(r_k - s);
//	binned variance (Bins = m > 1): the pooled within-bin variance
//	  L = (1/K) sum_k (r_k - mean of r over k's bin of ||dx||)^2,
//	  dL/dr_k = (2/K)(r_k - bin mean) (each bin's mean drops out as above);
//
// The binned form asks only that equal displacements in different
// directions give equal neural distances: it leaves the code free to
// saturate with distance (a unit-norm code cannot grow linearly for ever),
// and it is what tells a hexagonal lattice (isotropic to fourth order in
// ||dx||) from a square one (isotropic only to second order).
//
// and dr_k/dg_{b,t} = -dr_k/dg_{b,t-lag} = (g_{b,t} - g_{b,t-lag}) /
// (||g_{b,t} - g_{b,t-lag}|| ||dx_k||), taken as zero where the two states
// coincide. The variance form is minimised by any constant r, including
// r -> 0 on the compared pairs: over small steps only, that is a code that
// ignores small steps. Longer lags bring in displacements that the
// separation term needs resolved, so a constant r must then be large.
func ciLoss[T float](B, steps, N int, s []T, vel []float32, w CIWindow, ds []T, up float64) float64 {
	type item struct {
		row, prev int // rows of g_{b,t} and g_{b,t-lag} in s
		r, sp     float64
		dist      float64
		bin       int
	}
	var items []item
	forEachCIPair(B, steps, vel, w, func(b, t, lag int, sp float64) {
		row, prev := b*(steps+1)+t, b*(steps+1)+t-lag
		var d2 float64
		for k := 0; k < N; k++ {
			d := float64(s[row*N+k]) - float64(s[prev*N+k])
			d2 += d * d
		}
		dist := math.Sqrt(d2)
		bin := min(int(sp/w.MaxDist*float64(w.Bins)), w.Bins-1)
		items = append(items, item{row: row, prev: prev, r: dist / sp, sp: sp, dist: dist, bin: bin})
	})
	if len(items) == 0 {
		return 0
	}
	K := float64(len(items))
	centre := make([]float64, w.Bins) // per bin: the scale, or the bin's mean r
	if w.Scale > 0 {
		for i := range centre {
			centre[i] = w.Scale
		}
	} else {
		count := make([]float64, w.Bins)
		for _, it := range items {
			centre[it.bin] += it.r
			count[it.bin]++
		}
		for i := range centre {
			if count[i] > 0 {
				centre[i] /= count[i]
			}
		}
	}
	var l float64
	for _, it := range items {
		l += (it.r - centre[it.bin]) * (it.r - centre[it.bin])
	}
	l /= K
	if ds != nil {
		for _, it := range items {
			if it.dist == 0 {
				continue
			}
			f := up * 2 / K * (it.r - centre[it.bin]) / (it.dist * it.sp)
			for k := 0; k < N; k++ {
				d := f * (float64(s[it.row*N+k]) - float64(s[it.prev*N+k]))
				ds[it.row*N+k] += T(d)
				ds[it.prev*N+k] -= T(d)
			}
		}
	}
	return l
}

// ciTerm also needs the microbatch's velocities, set before each run.
type ciTerm[T float] struct {
	scalarTerm[T]
	vel []float32
}

func newCITerm[T float](mdl *model[T], B, steps, N int, win CIWindow, s *G.Node) (*ciTerm[T], *G.Node, error) {
	c := &ciTerm[T]{}
	out, err := newScalarTerm(&c.scalarTerm, "sicConformalIsometry", B, steps, N, s,
		func(s []T) float64 { return ciLoss(B, steps, N, s, c.vel, win, nil, 0) },
		func(s []T, up float64, ds []T) { ciLoss(B, steps, N, s, c.vel, win, ds, up) })
	return c, out, err
}

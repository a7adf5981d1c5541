package reference

import "math"

// CIWindow selects the pairs of states the conformal-isometry term compares
// and its form. Unlike graph's configuration it has no defaults: every
// field is meant as written (PaperCI gives the paper's window).
type CIWindow struct {
	// MaxLag >= 1: the pairs (g_{b,t-lag}, g_{b,t}), lag = 1..MaxLag (and
	// lag <= t), of one trajectory; g_{b,0} = g_0 takes part.
	MaxLag int
	// MaxDist > 0: only pairs whose displacement has 0 < ||dx|| < MaxDist.
	MaxDist float64
	// Scale 0: the variance form, c = the mean of r (per bin). Scale > 0:
	// the fixed-scale form, c = Scale.
	Scale float64
	// Bins >= 1 splits [0, MaxDist) into equal bins of ||dx||; the variance
	// form then takes each pair's deviation from its own bin's mean (the
	// pooled within-bin variance). Bins = 1 is the plain variance.
	Bins int
}

// PaperCI is the paper's window: consecutive states, steps shorter than
// sigma_x, the variance of r.
func PaperCI(sigmaX float64) CIWindow {
	return CIWindow{MaxLag: 1, MaxDist: sigmaX, Bins: 1}
}

// CIPair is one compared pair of states of trajectory B: g_{B,T} and
// g_{B,T-Lag}.
type CIPair struct {
	B, T, Lag int
	Disp      float64 // ||x_{B,T} - x_{B,T-Lag}||, the norm of the sum of the Lag velocities between them
	Dist      float64 // ||g_{B,T} - g_{B,T-Lag}||
	R         float64 // Dist / Disp
	Bin       int     // floor(Disp / MaxDist * Bins), at most Bins-1
}

// CIPairs lists the pairs the term compares, in the order b, t, lag, from
// the states G[b][t] (t = 0..T) and the velocities vel ([B][T][2]). The
// displacement of a lag is summed from the step nearest t backwards,
// dx = v_{b,t} + v_{b,t-1} + ... + v_{b,t-lag+1}.
func CIPairs(G [][][]float64, vel []float64, w CIWindow) []CIPair {
	var out []CIPair
	for b := range G {
		T := len(G[b]) - 1
		for t := 1; t <= T; t++ {
			var dx, dy float64
			for lag := 1; lag <= w.MaxLag && lag <= t; lag++ {
				v := vel[(b*T+t-lag)*2:] // v_{b,t-lag+1}
				dx += v[0]
				dy += v[1]
				disp := math.Hypot(dx, dy)
				if !(disp > 0 && disp < w.MaxDist) {
					continue
				}
				dist := math.Sqrt(dist2(G[b][t], G[b][t-lag]))
				bin := min(int(disp/w.MaxDist*float64(w.Bins)), w.Bins-1)
				out = append(out, CIPair{B: b, T: t, Lag: lag, Disp: disp, Dist: dist, R: dist / disp, Bin: bin})
			}
		}
	}
	return out
}

// ciCentres returns c per bin: Scale, or the mean of r over the bin's
// pairs (0 for an empty bin, which no pair refers to).
func ciCentres(pairs []CIPair, w CIWindow) []float64 {
	c := make([]float64, w.Bins)
	if w.Scale > 0 {
		for i := range c {
			c[i] = w.Scale
		}
		return c
	}
	n := make([]int, w.Bins)
	for _, p := range pairs {
		c[p.Bin] += p.R
		n[p.Bin]++
	}
	for i := range c {
		if n[i] > 0 {
			c[i] /= float64(n[i])
		}
	}
	return c
}

// ConformalIsometry is L_ci = (1/K) sum_k (r_k - c_k)^2 over the K pairs of
// CIPairs, and K; with no pair the term is undefined and returned as 0.
//
// The variance is computed in two passes, the mean first and then the mean
// of squared deviations from it, and that is its definition here. The
// one-pass form E[r^2] - E[r]^2 subtracts two numbers of size E[r]^2 to get
// one of size Var(r): r is a neural distance per metre, which over short
// steps can be in the hundreds, and where the spread is small against the mean the
// subtraction cancels most of the significant digits (all of them in
// float32, and it can even come out negative). An implementation that
// accumulates sum r and sum r^2 is an approximation of this definition,
// and is tested as one.
func ConformalIsometry(G [][][]float64, vel []float64, w CIWindow) (float64, int) {
	pairs := CIPairs(G, vel, w)
	if len(pairs) == 0 {
		return 0, 0
	}
	c := ciCentres(pairs, w)
	var l float64
	for _, p := range pairs {
		d := p.R - c[p.Bin]
		l += d * d
	}
	return l / float64(len(pairs)), len(pairs)
}

// CIGrad is the gradient of L_ci with respect to every state, G[b][t] for
// t = 0..T (the t = 0 rows are the gradient with respect to g_0 through
// trajectory b).
//
// With c_k the bin mean, dL/dr_k = (2/K)(r_k - c_k) - (2/K) sum_{l in bin}
// (r_l - c_l) / n_bin, and the sum of deviations from a mean is zero, so
// dL/dr_k = (2/K)(r_k - c_k) in the variance form as in the fixed-scale
// one. With e = g_{b,t} - g_{b,t-lag}, r_k = ||e|| / Disp_k, so
//
//	dr_k/dg_{b,t} = -dr_k/dg_{b,t-lag} = e / (||e|| Disp_k),
//
// taken as zero where the two states coincide (||e|| = 0, where r_k is not
// differentiable).
func CIGrad(G [][][]float64, vel []float64, w CIWindow) [][][]float64 {
	grad := make([][][]float64, len(G))
	for b := range G {
		grad[b] = make([][]float64, len(G[b]))
		for t := range G[b] {
			grad[b][t] = make([]float64, len(G[b][t]))
		}
	}
	pairs := CIPairs(G, vel, w)
	if len(pairs) == 0 {
		return grad
	}
	c := ciCentres(pairs, w)
	K := float64(len(pairs))
	for _, p := range pairs {
		if p.Dist == 0 {
			continue
		}
		f := 2 / K * (p.R - c[p.Bin]) / (p.Dist * p.Disp)
		a, z := G[p.B][p.T], G[p.B][p.T-p.Lag]
		for k := range a {
			d := f * (a[k] - z[k])
			grad[p.B][p.T][k] += d
			grad[p.B][p.T-p.Lag][k] -= d
		}
	}
	return grad
}

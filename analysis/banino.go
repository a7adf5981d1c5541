package analysis

import (
	"fmt"
	"math"
)

// The grid scorers Scorer.Method can name.
const (
	// ScorerBanino is the grid score of Banino et al. (2018) exactly as
	// their published scorer computes it, which is also what Sorscher et
	// al. report: rings tied to the map size, spline-rotated SACs. It is
	// the default, and the scorer whose numbers compare with the papers'.
	ScorerBanino = "banino"
	// ScorerRings is this project's variant: rings tied to the SAC's
	// central peak, NaN-aware SAC, bilinear rotation (see Scorer).
	ScorerRings = "rings"
	// DefaultScorer is the scorer an empty name selects.
	DefaultScorer = ScorerBanino
)

// CheckScorer returns the scorer an option value names ("" selects
// DefaultScorer), or a one-line error naming the --scorer flag.
func CheckScorer(name string) (string, error) {
	switch name {
	case "":
		return DefaultScorer, nil
	case ScorerBanino, ScorerRings:
		return name, nil
	}
	return "", fmt.Errorf("--scorer: %q is not a grid scorer; use banino (the published method of Banino et al. 2018, default) or rings", name)
}

// GridThreshold is the score60 above which a unit counts as a grid cell
// under the named scorer ("" is DefaultScorer): 0.3 for banino, the
// literature's threshold for that score (Banino et al. 2018; Sorscher et
// al.), and 0.4 for rings, above the 95th percentile of that scorer on
// smoothed-noise maps (see DefaultModuleOptions). An unknown name gets the
// default scorer's threshold.
func GridThreshold(scorer string) float64 {
	if scorer == ScorerRings {
		return 0.4
	}
	return 0.3
}

// BaninoRings are the ring masks of the banino scorer: inner and outer
// radius in units of the map side n (bins), 0.2 and
// numpy.linspace(0.4, 1.0, 10), as the published scorer is used.
var BaninoRings = baninoRings()

func baninoRings() [][2]float64 {
	// numpy.linspace's arithmetic (start + i*step, the last one exactly
	// stop), so that bins at exactly an outer radius fall on the same side
	// of it as in the published masks.
	const num = 10
	step := (1.0 - 0.4) / (num - 1)
	r := make([][2]float64, num)
	for i := range r {
		r[i] = [2]float64{0.2, float64(float64(i)*step) + 0.4}
	}
	r[num-1][1] = 1.0
	return r
}

// BaninoSAC is the spatial autocorrelogram as the published banino scorer
// computes it, which differs from SAC in how it treats missing bins and
// undefined lags:
//
//   - NaN bins of the map count as valid bins of value 0. (The published
//     code replaces NaN by 0 before it builds the masks of valid bins,
//     so its masks are all ones; Sorscher et al.'s ratemaps have 0 in
//     unvisited bins to begin with.)
//   - There is no minimum overlap: every lag with two or more overlapping
//     bins gets the Pearson correlation over the full overlap.
//   - Lags where the correlation is undefined (one overlapping bin, or one
//     copy constant over the overlap, i.e. 0/0) are 0, as numpy.nan_to_num
//     makes them in the published code. (Where rounding leaves a nonzero
//     covariance over a zero standard deviation, the published code gets
//     an infinity that nan_to_num turns into +-1.8e308; such lags are 0
//     here too.)
//
// The layout is SAC's: (2nx-1) by (2ny-1), lag (dx, dy) at index
// (dx+nx-1)*(2ny-1) + (dy+ny-1). (The published code puts lag l at -l;
// the SAC is point-symmetric, so the arrays are the same.) The correlation
// itself is the same Pearson correlation SAC computes (by FFT here, by
// direct sums there; they agree to about 1e-12). It returns nil if the map
// has no defined correlation at all (every bin missing, or the zero-filled
// map constant), or if the map is constant over its valid bins, where the
// only pattern left is that of the missing bins. (The published code would
// return all zeros in the first case and score the pattern of missing bins
// in the second; both are reported as undefined here, as SAC does.)
func BaninoSAC(m []float64, nx, ny int) []float64 {
	z := make([]float64, nx*ny)
	first, constant := math.NaN(), true
	for i, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			z[i] = v
			if math.IsNaN(first) {
				first = v
			} else if v != first {
				constant = false
			}
		}
	}
	if constant {
		return nil
	}
	sac := SAC(z, nx, ny, 2)
	defined := false
	for i, v := range sac {
		if math.IsNaN(v) {
			sac[i] = 0
		} else {
			defined = true
		}
	}
	if !defined {
		return nil
	}
	return sac
}

// baninoScore is the banino grid score of a BaninoSAC of an nx by ny map:
// for each ring of BaninoRings (radii times n = min(nx, ny); the published
// scorer takes square maps, and this is its natural extension to oblong
// ones), with m the SAC's mean over the ring and c = SAC - m on it,
//
//	corr(a) = mean(c * (rot_a(SAC) - m)) / (mean(c^2) + 1e-5)
//
// over the ring's bins, rot_a being scipy.ndimage.rotate(SAC, a,
// reshape=False) (see rotateSpline). Note that this is not quite a Pearson
// correlation: the rotated SAC is centred on the unrotated SAC's ring mean
// and the normaliser is the unrotated SAC's ring variance (plus 1e-5), as
// in the published code. Then score60 = (c60+c120)/2 - (c30+c90+c150)/3
// and score90 = c90 - (c45+c135)/2, each maximised over the rings
// independently; ring60 and ring90 are the inner and outer radii (bins) of
// the rings that gave them. A nil SAC, or an empty ring, gives NaN scores.
func baninoScore(sac []float64, nx, ny int) (s60, s90 float64, ring60, ring90 [2]float64) {
	nan := math.NaN()
	s60, s90, ring60, ring90 = nan, nan, [2]float64{nan, nan}, [2]float64{nan, nan}
	g60, g90, lo, hi := baninoScoreRings(sac, nx, ny)
	// numpy.argmax: the first maximum wins ties, and a NaN (an empty ring,
	// only possible in maps under 3 bins a side) wins over any number.
	best := func(g []float64) int {
		b := -1
		for r, v := range g {
			if math.IsNaN(v) {
				return -1
			}
			if b < 0 || v > g[b] {
				b = r
			}
		}
		return b
	}
	if b := best(g60); b >= 0 {
		s60, ring60 = g60[b], [2]float64{lo[b], hi[b]}
	}
	if b := best(g90); b >= 0 {
		s90, ring90 = g90[b], [2]float64{lo[b], hi[b]}
	}
	return
}

// baninoScoreRings returns score60 and score90 in each ring of
// BaninoRings (NaN for an empty ring), and the rings' radii in bins; all
// nil for a nil SAC.
func baninoScoreRings(sac []float64, nx, ny int) (s60, s90, lo, hi []float64) {
	if sac == nil {
		return
	}
	sx, sy := 2*nx-1, 2*ny-1
	cx, cy := nx-1, ny-1
	n := float64(min(nx, ny))
	coef := splineFilter(sac, sx, sy)
	var rots [len(scoreAngles)][]float64
	for ai, a := range scoreAngles {
		rots[ai] = rotateSpline(coef, sx, sy, a)
	}
	// The lags inside the widest ring, with their radius, as the published
	// masks compute it: sqrt(x^2 + y^2) on integer coordinates.
	rmax := 0.0
	for _, r := range BaninoRings {
		rmax = max(rmax, r[1]*n)
	}
	type lag struct {
		k int
		r float64
	}
	var lags []lag
	for i := 0; i < sx; i++ {
		for j := 0; j < sy; j++ {
			di, dj := float64(i-cx), float64(j-cy)
			if r := math.Sqrt(di*di + dj*dj); r <= rmax {
				lags = append(lags, lag{i*sy + j, r})
			}
		}
	}
	for _, ring := range BaninoRings {
		rlo, rhi := ring[0]*n, ring[1]*n
		lo, hi = append(lo, rlo), append(hi, rhi)
		in := func(r float64) bool { return r <= rhi && !(r <= rlo) }
		var area, sum float64
		for _, l := range lags {
			if in(l.r) {
				area++
				sum += sac[l.k]
			}
		}
		if area == 0 {
			s60, s90 = append(s60, math.NaN()), append(s90, math.NaN())
			continue
		}
		mean := sum / area
		var ss float64
		var cross [len(scoreAngles)]float64
		for _, l := range lags {
			if in(l.r) {
				c := sac[l.k] - mean
				ss += c * c
				for ai := range rots {
					cross[ai] += c * (rots[ai][l.k] - mean)
				}
			}
		}
		variance := ss/area + 1e-5
		var corr [len(scoreAngles)]float64
		for ai := range corr {
			corr[ai] = cross[ai] / area / variance
		}
		s60 = append(s60, (corr[2]+corr[4])/2-(corr[0]+corr[3]+corr[6])/3)
		s90 = append(s90, corr[3]-(corr[1]+corr[5])/2)
	}
	return
}

// Cubic B-spline interpolation as scipy.ndimage does it (order 3, with the
// prefilter): the coefficients come from the exact inverse filter with
// mirror-symmetric boundaries (scipy's choice for mode 'constant', which
// has no analytic prefilter of its own), and samples are taken from them
// with mirror extension at the edges; a sample point outside [0, len-1]
// on either axis is cval = 0 ('constant' does not interpolate beyond the
// edge samples).

// splinePole is the pole of the cubic B-spline prefilter, sqrt(3) - 2.
const splinePole = -0.267949192431122706472553658494127633

// splineFilter returns the cubic B-spline coefficients of the rows by cols
// array a (row-major), filtering along axis 0 and then axis 1 as
// scipy.ndimage.spline_filter does.
func splineFilter(a []float64, rows, cols int) []float64 {
	c := append([]float64(nil), a[:rows*cols]...)
	line := make([]float64, max(rows, cols))
	if rows > 1 {
		for j := 0; j < cols; j++ {
			l := line[:rows]
			for i := range l {
				l[i] = c[i*cols+j]
			}
			splineFilter1D(l)
			for i, v := range l {
				c[i*cols+j] = v
			}
		}
	}
	if cols > 1 {
		for i := 0; i < rows; i++ {
			splineFilter1D(c[i*cols : (i+1)*cols])
		}
	}
	return c
}

// splineFilter1D turns samples into cubic B-spline coefficients in place
// (len > 1): the gain, then a causal and an anticausal first-order
// recursion, each started from the mirror-symmetric extension of the line.
func splineFilter1D(c []float64) {
	n := len(c)
	z := splinePole
	gain := (1 - z) * (1 - 1/z)
	for i := range c {
		c[i] *= gain
	}
	// Causal start: the sum over the mirrored line, in closed form.
	zn1 := math.Pow(z, float64(n-1))
	c0 := c[0] + zn1*c[n-1]
	zi := z
	for i := 1; i < n-1; i++ {
		c0 += zi * (c[i] + zn1*c[n-1-i])
		zi *= z
	}
	c[0] = c0 / (1 - zn1*zn1)
	for i := 1; i < n; i++ {
		c[i] += z * c[i-1]
	}
	// Anticausal start for a mirror-symmetric line.
	c[n-1] = (z*c[n-2] + c[n-1]) * z / (z*z - 1)
	for i := n - 2; i >= 0; i-- {
		c[i] = z * (c[i+1] - c[i])
	}
}

// mirrorIndex maps an index beyond [0, n-1] by mirror symmetry about the
// edge samples (scipy.ndimage's 'mirror' extension).
func mirrorIndex(i, n int) int {
	if n <= 1 {
		return 0
	}
	p := 2*n - 2
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// rotationCosSin returns the cosine and sine of deg degrees as
// scipy.special.cosdg and sindg do (which scipy.ndimage.rotate uses): for
// the score angles and multiples of 90 these are the cephes values, which
// for some angles are an ulp off the correctly rounded ones (sindg(30) is
// 0.49999999999999994); exact zeros and ones keep a 90-degree rotation
// exactly on the grid.
func rotationCosSin(deg float64) (c, s float64) {
	switch deg {
	case 0:
		return 1, 0
	case 30:
		return 0.8660254037844387, 0.49999999999999994
	case 45:
		return 0.7071067811865475, 0.7071067811865476
	case 60:
		return 0.49999999999999994, 0.8660254037844387
	case 90:
		return 0, 1
	case 120:
		return -0.49999999999999994, 0.8660254037844387
	case 135:
		return -0.7071067811865476, 0.7071067811865475
	case 150:
		return -0.8660254037844387, 0.49999999999999994
	case 180:
		return -1, 0
	case 270, -90:
		return 0, -1
	}
	t := deg * math.Pi / 180
	return math.Cos(t), math.Sin(t)
}

// rotateSpline is scipy.ndimage.rotate(a, deg, reshape=False) with the
// defaults order=3, mode='constant', cval=0, prefilter=True, for the
// rows by cols array a whose cubic B-spline coefficients coef are (see
// splineFilter). Output bin (i, j) is the spline sampled at
//
//	(u, v) = M (i, j) + offset,  M = [[cos, sin], [-sin, cos]],
//
// with offset such that the array centre ((rows-1)/2, (cols-1)/2) maps to
// itself; a sample point outside [0, rows-1] x [0, cols-1] gives 0.
func rotateSpline(coef []float64, rows, cols int, deg float64) []float64 {
	c, s := rotationCosSin(deg)
	ci, cj := float64(rows-1)/2, float64(cols-1)/2
	off0 := ci - float64(float64(c*ci)+float64(s*cj))
	off1 := cj - float64(float64(-s*ci)+float64(c*cj))
	out := make([]float64, rows*cols)
	var wu, wv [4]float64
	var iu, iv [4]int
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			// Explicit conversions keep the compiler from fusing these into
			// FMAs, so the coordinates round as numpy's do.
			u := float64(float64(float64(i)*c)+float64(float64(j)*s)) + off0
			v := float64(float64(float64(i)*-s)+float64(float64(j)*c)) + off1
			if u < 0 || u > float64(rows-1) || v < 0 || v > float64(cols-1) {
				continue // cval
			}
			splineWeights(u, rows, &wu, &iu)
			splineWeights(v, cols, &wv, &iv)
			var t float64
			for a := 0; a < 4; a++ {
				row := coef[iu[a]*cols:]
				for b := 0; b < 4; b++ {
					t += row[iv[b]] * wu[a] * wv[b]
				}
			}
			out[i*cols+j] = t
		}
	}
	return out
}

// splineWeights fills the four cubic B-spline weights for sample position
// x in [0, n-1] and the (mirrored) indices they apply to, with the
// arithmetic of scipy's get_spline_interpolation_weights.
func splineWeights(x float64, n int, w *[4]float64, idx *[4]int) {
	f := math.Floor(x)
	start := int(f) - 1
	y := x - f
	z := 1 - y
	w[1] = (y*y*(y-2)*3 + 4) / 6
	w[2] = (z*z*(z-2)*3 + 4) / 6
	w[0] = z * z * z / 6
	w[3] = 1 - w[0] - w[1] - w[2]
	for k := 0; k < 4; k++ {
		i := start + k
		if i < 0 || i >= n {
			i = mirrorIndex(i, n)
		}
		idx[k] = i
	}
}

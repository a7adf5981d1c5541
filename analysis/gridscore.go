package analysis

import (
	"math"
	"sort"
)

// Scorer computes grid scores, scales and orientations of ratemaps.
//
// Two grid scorers are implemented, and Score reports both; Method chooses
// which one gives Score60 and Score90:
//
//   - "banino" (ScorerBanino, the default): the published scorer of
//     Banino et al. 2018 as Sorscher et al. use it, reproduced to 1e-3
//     (see BaninoSAC and baninoScore): ring masks with inner radius 0.2 n
//     and outer radii 0.4 n to n for an n-bin map, SACs rotated by cubic
//     splines as scipy.ndimage.rotate does, missing bins counted as 0.
//   - "rings" (ScorerRings): this project's variant, steps 1 to 4 below.
//
// Scale and orientation (steps 5 and 6) come from the NaN-aware SAC of
// step 1 under either scorer.
//
// The rings method (Sargolini et al. 2006, in the multi-mask form of
// Banino et al. 2018's scoring code, with rings tied to the SAC):
//
//  1. The SAC of the map (see SAC).
//  2. The radius of the SAC's central peak, r0: where the SAC's radial mean
//     first drops to zero or below (or reaches a local minimum).
//  3. Ring masks with inner radius r0 and outer radii r0 times OuterRadii.
//     Banino et al. tie the rings to the map size (inner radius 0.2 of the
//     map side); tying them to the central peak instead keeps the first ring
//     of six peaks inside the masks whatever the arena size, which matters
//     here because the same network is scored in 1 to 4 m arenas.
//  4. In each ring, the Pearson correlation c(a) of the SAC with itself
//     rotated by a = 30, 45, 60, 90, 120, 135, 150 degrees (bilinear
//     interpolation; NaN lags are left out), then
//     score60 = (c60+c120)/2 - (c30+c90+c150)/3 and
//     score90 = c90 - (c45+c135)/2. Each score is the maximum over rings.
//  5. Scale: the median distance from the SAC centre to the (up to) six
//     nearest local maxima of the SAC beyond r0 with positive correlation,
//     located to sub-bin precision by parabolic interpolation, times the bin
//     size. At least three such peaks are needed, else the scale is NaN.
//  6. Orientation: the mean direction of those peaks modulo 60 degrees (a
//     circular mean of 6 times the peak angles), in [0, 60).
type Scorer struct {
	Method     string    // ScorerBanino or ScorerRings; "" is DefaultScorer
	BinSize    float64   // metres per bin; scales are reported in these units
	MinOverlap int       // see SAC; DefaultMinOverlap when 0
	OuterRadii []float64 // outer ring radii in units of r0; DefaultOuterRadii when nil
}

// DefaultOuterRadii are the ring masks' outer radii in units of the central
// peak radius r0. For a hexagonal SAC r0 is about a third of the grid scale,
// so these rings reach from just beyond the six nearest peaks to about the
// second ring of peaks.
var DefaultOuterRadii = []float64{3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}

// scoreAngles are the rotation angles the two scores use, in degrees.
var scoreAngles = [...]float64{30, 45, 60, 90, 120, 135, 150}

// minRingBins is the fewest valid bins a ring needs for its correlations.
const minRingBins = 12

// Score is the grid analysis of one ratemap. NaN marks an undefined value.
type Score struct {
	Score60     float64 // hexagonal grid score of the chosen scorer, max over rings
	Score90     float64 // square grid score of the chosen scorer, max over rings
	Scale       float64 // median distance to the six nearest SAC peaks, in BinSize units
	Orientation float64 // degrees in [0, 60)
	Ring60      [2]float64
	Ring90      [2]float64 // inner and outer radius (BinSize units) of the ring that gave each score
	Peaks       []Peak     // the SAC peaks used for scale and orientation

	// Both scorers' scores; Score60 and Score90 repeat one pair.
	BaninoScore60, BaninoScore90 float64
	RingsScore60, RingsScore90   float64
}

// Peak is a local maximum of a SAC, relative to its centre, in bins.
type Peak struct {
	DX, DY, Value float64
}

func nanScore() Score {
	n := math.NaN()
	return Score{Score60: n, Score90: n, Scale: n, Orientation: n, Ring60: [2]float64{n, n}, Ring90: [2]float64{n, n},
		BaninoScore60: n, BaninoScore90: n, RingsScore60: n, RingsScore90: n}
}

// Score analyses the nx by ny ratemap m (row-major, NaN = missing) with
// both scorers. It also returns the chosen scorer's SAC, for plotting: for
// banino the BaninoSAC, for rings (and for a map that has no BaninoSAC)
// the NaN-aware SAC.
func (s *Scorer) Score(m []float64, nx, ny int) (Score, []float64) {
	mo := s.MinOverlap
	if mo == 0 {
		mo = DefaultMinOverlap
	}
	sac := SAC(m, nx, ny, mo)
	res := s.ScoreSAC(sac, nx, ny)
	bsac := BaninoSAC(m, nx, ny)
	bs := s.BinSize
	if !(bs > 0) {
		bs = 1
	}
	b60, b90, r60, r90 := baninoScore(bsac, nx, ny)
	res.BaninoScore60, res.BaninoScore90 = b60, b90
	if s.Method == ScorerRings {
		return res, sac
	}
	res.Score60, res.Score90 = b60, b90
	res.Ring60 = [2]float64{r60[0] * bs, r60[1] * bs}
	res.Ring90 = [2]float64{r90[0] * bs, r90[1] * bs}
	if bsac == nil {
		return res, sac // all NaN: nothing is defined
	}
	return res, bsac
}

// ScoreSAC analyses a SAC of a nx by ny map, as returned by SAC, with the
// rings scorer (Score60 = RingsScore60, Score90 = RingsScore90), and finds
// scale and orientation; the banino scores stay NaN.
func (s *Scorer) ScoreSAC(sac []float64, nx, ny int) Score {
	res := nanScore()
	bs := s.BinSize
	if !(bs > 0) {
		bs = 1
	}
	sx, sy := 2*nx-1, 2*ny-1
	cx, cy := nx-1, ny-1
	// Lags beyond the smaller half-width are not available in every
	// direction, so rings and peaks stay inside it.
	rmax := float64(min(nx, ny) - 1)
	if rmax < 3 {
		return res
	}
	r0, ok := centralRadius(sac, nx, ny)
	if !ok {
		return res
	}
	outers := s.OuterRadii
	if outers == nil {
		outers = DefaultOuterRadii
	}
	var rings [][2]float64
	for _, k := range outers {
		if ro := k * r0; ro <= rmax {
			rings = append(rings, [2]float64{r0, ro})
		}
	}
	// A central peak so wide that no ring fits: fall back to the widest
	// ring there is, if it is still a ring.
	if len(rings) == 0 && rmax >= r0+2 {
		rings = append(rings, [2]float64{r0, rmax})
	}
	if len(rings) > 0 {
		router := 0.0
		for _, r := range rings {
			router = max(router, r[1])
		}
		corr := ringCorrelations(sac, sx, sy, cx, cy, router, rings)
		best60, best90 := math.Inf(-1), math.Inf(-1)
		for i, c := range corr {
			g60 := (c[2]+c[4])/2 - (c[0]+c[3]+c[6])/3
			g90 := c[3] - (c[1]+c[5])/2
			if !math.IsNaN(g60) && g60 > best60 {
				best60, res.Score60, res.Ring60 = g60, g60, [2]float64{rings[i][0] * bs, rings[i][1] * bs}
			}
			if !math.IsNaN(g90) && g90 > best90 {
				best90, res.Score90, res.Ring90 = g90, g90, [2]float64{rings[i][0] * bs, rings[i][1] * bs}
			}
		}
		res.RingsScore60, res.RingsScore90 = res.Score60, res.Score90
	}
	peaks := sacPeaks(sac, sx, sy, cx, cy, r0, rmax)
	if len(peaks) >= 3 {
		res.Peaks = peaks
		d := make([]float64, len(peaks))
		var c6, s6 float64
		for i, p := range peaks {
			d[i] = math.Hypot(p.DX, p.DY)
			a := 6 * math.Atan2(p.DY, p.DX)
			c6 += math.Cos(a)
			s6 += math.Sin(a)
		}
		res.Scale = median(d) * bs
		o := math.Atan2(s6, c6) / 6 * 180 / math.Pi
		res.Orientation = math.Mod(o+60, 60)
		if res.Orientation > 60-1e-6 { // Mod can round up to (almost) 60
			res.Orientation = 0
		}
	}
	return res
}

// centralRadius returns r0, the radius at which the SAC's mean over rings
// of width one bin first drops to zero (linearly interpolated) or reaches a
// local minimum.
func centralRadius(sac []float64, nx, ny int) (float64, bool) {
	sy := 2*ny - 1
	cx, cy := nx-1, ny-1
	R := min(nx, ny) - 1
	sum := make([]float64, R+2)
	cnt := make([]float64, R+2)
	for i := -R; i <= R; i++ {
		for j := -R; j <= R; j++ {
			r := int(math.Round(math.Hypot(float64(i), float64(j))))
			if r > R {
				continue
			}
			v := sac[(cx+i)*sy+cy+j]
			if math.IsNaN(v) {
				continue
			}
			sum[r] += v
			cnt[r]++
		}
	}
	prof := make([]float64, R+1)
	for r := range prof {
		prof[r] = math.NaN()
		if cnt[r] > 0 {
			prof[r] = sum[r] / cnt[r]
		}
	}
	if math.IsNaN(prof[0]) {
		return 0, false
	}
	prev := prof[0]
	for r := 1; r <= R; r++ {
		v := prof[r]
		if math.IsNaN(v) {
			return 0, false
		}
		if v <= 0 {
			// Interpolate the zero crossing between r-1 and r.
			return max(1, float64(r-1)+prev/(prev-v)), true
		}
		if r < R && !math.IsNaN(prof[r+1]) && prof[r+1] > v {
			return max(1, float64(r)), true
		}
		prev = v
	}
	return 0, false
}

// ringCorrelations returns, for each ring, the Pearson correlation of the
// SAC with its rotations by scoreAngles, over the bins of the ring where
// both are defined. The sums are accumulated once per angle over bins sorted
// by radius, so that every ring is a difference of two prefix sums.
func ringCorrelations(sac []float64, sx, sy, cx, cy int, router float64, rings [][2]float64) [][len(scoreAngles)]float64 {
	type bin struct {
		r    float64
		i, j int
	}
	R := int(math.Ceil(router))
	var bins []bin
	for i := -R; i <= R; i++ {
		for j := -R; j <= R; j++ {
			r := math.Hypot(float64(i), float64(j))
			if r > router || cx+i < 0 || cx+i >= sx || cy+j < 0 || cy+j >= sy {
				continue
			}
			if math.IsNaN(sac[(cx+i)*sy+cy+j]) {
				continue
			}
			bins = append(bins, bin{r, i, j})
		}
	}
	sort.Slice(bins, func(a, b int) bool { return bins[a].r < bins[b].r })
	radii := make([]float64, len(bins))
	for k, b := range bins {
		radii[k] = b.r
	}
	// upto(r) is the number of bins with radius <= r; a small tolerance
	// keeps bins exactly on a ring edge from flipping with rounding.
	upto := func(r float64) int { return sort.SearchFloat64s(radii, r+1e-9) }
	out := make([][len(scoreAngles)]float64, len(rings))
	type acc struct{ n, x, y, xx, yy, xy float64 }
	pre := make([]acc, len(bins)+1)
	for ai, deg := range scoreAngles {
		th := deg * math.Pi / 180
		c, s := math.Cos(th), math.Sin(th)
		for k, b := range bins {
			x := sac[(cx+b.i)*sy+cy+b.j]
			// The rotated SAC at (i, j) is the SAC at (i, j) rotated back.
			u := c*float64(b.i) + s*float64(b.j)
			v := -s*float64(b.i) + c*float64(b.j)
			y := bilinear(sac, sx, sy, float64(cx)+u, float64(cy)+v)
			p := pre[k]
			if !math.IsNaN(y) {
				p.n++
				p.x += x
				p.y += y
				p.xx += x * x
				p.yy += y * y
				p.xy += x * y
			}
			pre[k+1] = p
		}
		for ri, ring := range rings {
			a, b := pre[upto(ring[0])], pre[upto(ring[1])]
			n := b.n - a.n
			if n < minRingBins {
				out[ri][ai] = math.NaN()
				continue
			}
			sxv, syv := b.x-a.x, b.y-a.y
			vx := n*(b.xx-a.xx) - sxv*sxv
			vy := n*(b.yy-a.yy) - syv*syv
			if !(vx > 1e-12*n*n) || !(vy > 1e-12*n*n) {
				out[ri][ai] = math.NaN()
				continue
			}
			out[ri][ai] = (n*(b.xy-a.xy) - sxv*syv) / math.Sqrt(vx*vy)
		}
	}
	return out
}

// bilinear samples a at the fractional position (x, y); NaN if any
// neighbour that carries weight is NaN or outside the array.
func bilinear(a []float64, sx, sy int, x, y float64) float64 {
	const eps = 1e-9
	x0, y0 := math.Floor(x+eps), math.Floor(y+eps)
	fx, fy := x-x0, y-y0
	if fx < eps {
		fx = 0
	}
	if fy < eps {
		fy = 0
	}
	i0, j0 := int(x0), int(y0)
	var v float64
	// The weights of the neighbours below and above in x and in y.
	for di, wx := range [2]float64{1 - fx, fx} {
		if wx == 0 {
			continue
		}
		for dj, wy := range [2]float64{1 - fy, fy} {
			if wy == 0 {
				continue
			}
			i, j := i0+di, j0+dj
			if i < 0 || i >= sx || j < 0 || j >= sy {
				return math.NaN()
			}
			t := a[i*sy+j]
			if math.IsNaN(t) {
				return math.NaN()
			}
			v += wx * wy * t
		}
	}
	return v
}

// sacPeaks returns up to six local maxima of the SAC nearest its centre,
// between r0 and rmax, with positive correlation, each refined to sub-bin
// position by a parabola through it and its neighbours along each axis.
func sacPeaks(sac []float64, sx, sy, cx, cy int, r0, rmax float64) []Peak {
	R := int(rmax)
	var peaks []Peak
	at := func(i, j int) float64 {
		if i < 0 || i >= sx || j < 0 || j >= sy {
			return math.NaN()
		}
		return sac[i*sy+j]
	}
	for i := -R; i <= R; i++ {
		for j := -R; j <= R; j++ {
			r := math.Hypot(float64(i), float64(j))
			if r <= r0 || r > rmax {
				continue
			}
			v := at(cx+i, cy+j)
			if !(v > 0) {
				continue
			}
			isMax := true
			for di := -1; di <= 1 && isMax; di++ {
				for dj := -1; dj <= 1; dj++ {
					if di == 0 && dj == 0 {
						continue
					}
					// Ties go to the lower index, so a flat top counts once.
					w := at(cx+i+di, cy+j+dj)
					if w > v || (w == v && (di < 0 || (di == 0 && dj < 0))) {
						isMax = false
						break
					}
				}
			}
			if !isMax {
				continue
			}
			dx := float64(i) + parabolicOffset(at(cx+i-1, cy+j), v, at(cx+i+1, cy+j))
			dy := float64(j) + parabolicOffset(at(cx+i, cy+j-1), v, at(cx+i, cy+j+1))
			peaks = append(peaks, Peak{DX: dx, DY: dy, Value: v})
		}
	}
	sort.Slice(peaks, func(a, b int) bool {
		ra, rb := math.Hypot(peaks[a].DX, peaks[a].DY), math.Hypot(peaks[b].DX, peaks[b].DY)
		if ra != rb {
			return ra < rb
		}
		return math.Atan2(peaks[a].DY, peaks[a].DX) < math.Atan2(peaks[b].DY, peaks[b].DX)
	})
	if len(peaks) > 6 {
		peaks = peaks[:6]
	}
	return peaks
}

// parabolicOffset is the position, in (-0.5, 0.5), of the vertex of the
// parabola through (-1, a), (0, b), (1, c); 0 if a neighbour is missing.
func parabolicOffset(a, b, c float64) float64 {
	if math.IsNaN(a) || math.IsNaN(c) {
		return 0
	}
	den := a - 2*b + c
	if den >= 0 {
		return 0
	}
	return max(-0.5, min(0.5, 0.5*(a-c)/den))
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	y := append([]float64(nil), x...)
	sort.Float64s(y)
	n := len(y)
	if n%2 == 1 {
		return y[n/2]
	}
	return (y[n/2-1] + y[n/2]) / 2
}

package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Kinds of lattice that FourierAnalyse reports (FourierUnit.Kind).
const (
	LatticeHexagonal = "hexagonal" // three peaks of similar |k|, 60 degrees apart
	LatticeSquare    = "square"    // two peaks of similar |k|, 90 degrees apart
	LatticeSheared   = "sheared"   // three peaks that close as a lattice's reciprocal vectors do, not hexagonal: a hexagonal lattice under an affine stretch
	LatticeNone      = "none"      // neither
	LatticeSilent    = "silent"    // the unit never fires (its map is all zero)
	LatticeFlat      = "flat"      // the map is constant or empty
)

// FourierOptions are the thresholds of FourierAnalyse.
type FourierOptions struct {
	Pad          int     `json:"pad"`               // the windowed map is zero-padded to Pad times its side (finer frequency sampling)
	MaxKRatio    float64 `json:"max_k_ratio"`       // largest ratio of the peaks' |k| within a lattice
	AngleTol     float64 `json:"angle_tolerance"`   // degrees: how far from 60 (90) the angles between peaks may be
	MinPeakRatio float64 `json:"min_peak_ratio"`    // weakest peak of a lattice, relative to the strongest
	MinFraction  float64 `json:"min_peak_fraction"` // share of the band's power that a lattice's peaks must hold
	// ClosureTol is the largest |f_a +- f_b +- f_c| (the smallest over
	// the signs), relative to the peaks' mean |f|, for which three peaks
	// count as a sheared lattice's first reciprocal vectors.
	ClosureTol float64 `json:"closure_tolerance"`
	// MaxStretch is the largest stretch (FourierUnit.Stretch) of a
	// sheared lattice.
	MaxStretch float64 `json:"max_stretch"`
}

// DefaultFourierOptions: on the tests' noisy hexagonal maps (0.4 sd of
// noise, 5% missing bins) the peak fraction is 0.4-0.8 and the angles
// are within 5 degrees of 60; on smoothed noise the peak fraction is
// mostly below 0.25 and random triples seldom pass the angle test too.
//
// ClosureTol 0.1: a peak's location is uncertain by a small part of the
// frequency resolution 1/L (L the map's side), so the closure of a true
// lattice's peaks, relative to |f|, grows as L |f| (the number of
// wavelengths across the map) falls. On noisy hexagonal and stretched
// hexagonal maps (stretch up to 1.5, rectified or not, 0.4 sd of noise, 5%
// missing bins, periods of 6-18 bins in maps of 40 and 60 bins) it is at
// most 0.05 (median 0.007) where L |f| is about 3 or more, and reaches
// 0.1-0.15 at 2.5 wavelengths or fewer (period 18 in 40 bins, stretched),
// the limit of the method's resolution; 0.1 leaves a factor of two for
// the maps the method resolves. Of 1000 smoothed noise maps (40 and 60
// bins, widths 1.5-6 bins), 134 pass every other test of a sheared
// lattice (their strongest peaks hold much of the band's power), and of
// those 1 closes within 0.1 (5 within 0.15, 9 within 0.2): the closure is
// what tells a lattice from noise.
//
// MaxStretch 1.6: a square lattice has stretch sqrt(3) = 1.73; a sheared
// lattice is nearer the hexagonal one than that. The stretch of the tests'
// stretched lattices is measured to within 3% (TestFourierSheared, over
// several seeds), so 1.6 keeps square lattices out (their diagonal
// harmonic, f_a + f_b, closes with their two peaks) and stretches up to
// 1.5 in.
var DefaultFourierOptions = FourierOptions{Pad: 4, MaxKRatio: 1.25, AngleTol: 10, MinPeakRatio: 0.15, MinFraction: 0.3, ClosureTol: 0.1, MaxStretch: 1.6}

// FourierPeak is a peak of a ratemap's power spectrum, in the half-plane
// (FY > 0, or FY = 0 and FX > 0; the spectrum of a real map is symmetric).
type FourierPeak struct {
	FX    float64 `json:"fx"`    // cycles per metre (per bin without a bin size)
	FY    float64 `json:"fy"`    //
	Power float64 `json:"power"` // relative to the strongest peak
}

// F is the peak's spatial frequency |f| (cycles per metre); its wave
// vector is k = 2 pi f.
func (p FourierPeak) F() float64 { return math.Hypot(p.FX, p.FY) }

// Angle is the direction of the peak's wave vector, degrees in [0, 180).
func (p FourierPeak) Angle() float64 {
	return math.Mod(math.Atan2(p.FY, p.FX)*180/math.Pi+360, 180)
}

// FourierUnit is the Fourier analysis of one ratemap.
type FourierUnit struct {
	Kind  string        `json:"kind"`  // LatticeHexagonal, LatticeSquare, LatticeSheared, LatticeNone, LatticeSilent, LatticeFlat
	Peaks []FourierPeak `json:"peaks"` // up to three, strongest first
	// Spacing is the lattice spacing (distance between neighbouring
	// fields, which the SAC method calls scale), m: 2/(sqrt(3) f) for a
	// hexagonal lattice whose peaks have mean frequency f, 1/f for a
	// square one, and for a sheared one the spacing of the hexagonal
	// lattice with the same unit-cell area (sheared spacing below); NaN
	// for other kinds. Wavelength is 1/f, f the mean frequency of the
	// lattice's peaks.
	Spacing    float64 `json:"spacing"`
	Wavelength float64 `json:"wavelength"`
	// Orientation is the direction of the lattice vectors (the SAC's
	// peaks), degrees modulo 60 for hexagonal and sheared lattices (the
	// wave vectors' directions plus 30) and modulo 90 for square ones.
	Orientation float64 `json:"orientation"`
	// Stretch is the shear of a hexagonal or sheared lattice: the ratio
	// of the singular values of the linear map that takes two unit
	// vectors 60 degrees apart to the two strongest peaks' wave vectors
	// (LatticeStretch; where the three peaks close within ClosureTol, the
	// two are first moved by a third of the closure error, closedBasis):
	// 1 for a perfect hexagonal lattice, sqrt(3) for a square one, s for
	// a hexagonal lattice stretched s times along one axis. NaN for other
	// kinds.
	Stretch  float64   `json:"stretch"`
	Angles   []float64 `json:"angles"`        // degrees between the lines of peaks 1-2, 1-3, 2-3 (0-90)
	Fraction float64   `json:"peak_fraction"` // share of the band's power within 1/L of the peaks
}

// MarshalJSON writes undefined values (NaN) as null.
func (f FourierUnit) MarshalJSON() ([]byte, error) {
	type plain FourierUnit
	return json.Marshal(struct {
		plain
		Spacing     Num `json:"spacing"`
		Wavelength  Num `json:"wavelength"`
		Orientation Num `json:"orientation"`
		Stretch     Num `json:"stretch"`
		Fraction    Num `json:"peak_fraction"`
	}{plain(f), Num(f.Spacing), Num(f.Wavelength), Num(f.Orientation), Num(f.Stretch), Num(f.Fraction)})
}

func nanFourier(kind string) FourierUnit {
	n := math.NaN()
	return FourierUnit{Kind: kind, Peaks: []FourierPeak{}, Angles: []float64{}, Spacing: n, Wavelength: n, Orientation: n, Stretch: n, Fraction: n}
}

// FourierAnalyse finds the lattice of an nx by ny ratemap (m[ix*ny+iy],
// NaN = unvisited) from its 2-D power spectrum:
//
//  1. The map less its mean, missing bins set to 0 (the mean), times a
//     Hann window in x and y (the window keeps the side lobes of a strong
//     peak from passing for peaks of their own), the weighted mean
//     removed again so that the DC term is exactly 0, zero-padded to Pad
//     times its size.
//  2. The power spectrum's local maxima in the half-plane with
//     frequencies from 1/L (one cycle across the arena) to 0.4 cycles per
//     bin, L the map's shorter side; the strongest three that are at
//     least 1.5/L apart (and from each other's mirror images), located to
//     sub-bin precision by a parabola through the log power.
//  3. Hexagonal: the three peaks have |f| within MaxKRatio of each other,
//     the lines through them meet at 60 +- AngleTol degrees, the weakest
//     has at least MinPeakRatio of the strongest's power, and the peaks
//     (discs of radius 1/L around them and their mirrors) hold at least
//     MinFraction of the band's power. Square: two peaks meeting at 90 +-
//     AngleTol, the same |f| and power tests.
//  4. Sheared (neither of those): the three peaks close as the first
//     reciprocal vectors of a 2-D lattice do, one the sum or difference
//     of the other two (|f_a +- f_b +- f_c| at most ClosureTol of their
//     mean |f|), with hexagonal's power and fraction tests and a stretch
//     (LatticeStretch of the two strongest) of at most MaxStretch: a
//     hexagonal lattice under an affine map, too sheared for the
//     hexagonal test's angles, such as the slightly sheared hexagonal and
//     rhombic lattices that trained networks show. The |f| ratio is not
//     tested: a stretch s allows ratios up to s.
//
// Hexagonal and sheared lattices report their Stretch; sheared ones the
// spacing of the hexagonal lattice with the same unit-cell area and the
// orientation of their first three reciprocal vectors.
//
// The steps are centredMap and windowedSpectrum (1), localMaxima and
// strongestPeaks (2), hexagonalLattice and squareLattice (3) and
// shearedLattice (4).
func FourierAnalyse(m []float64, nx, ny int, binSize float64, opt FourierOptions) FourierUnit {
	if !(binSize > 0) {
		binSize = 1
	}
	if opt.Pad < 1 {
		opt.Pad = 1
	}
	a, ok := centredMap(m, nx, ny)
	if !ok {
		return nanFourier(LatticeFlat)
	}
	sp := windowedSpectrum(a, nx, ny, opt.Pad)
	cands := sp.localMaxima()
	if len(cands) == 0 || !(sp.band > 0) {
		return nanFourier(LatticeNone)
	}
	res := nanFourier(LatticeNone)
	res.Peaks = append(res.Peaks, sp.strongestPeaks(cands, opt.MinPeakRatio, binSize)...)
	res.Angles = append(res.Angles, peakAngles(res.Peaks)...)
	P := res.Peaks
	if len(P) == 3 {
		res.Fraction = sp.peakFraction(P, binSize)
		if hexagonalLattice(&res, opt) {
			return res
		}
	}
	if squareLattice(&res, sp, binSize, opt) {
		return res
	}
	if len(P) == 3 && math.IsNaN(res.Fraction) {
		res.Fraction = sp.peakFraction(P, binSize)
	}
	shearedLattice(&res, opt)
	return res
}

// centredMap is the nx by ny map m less its mean, missing bins (NaN) set
// to 0 (the mean); false for a flat map: fewer than 4 visited bins, or a
// variance that is 0 to rounding.
func centredMap(m []float64, nx, ny int) ([]float64, bool) {
	var mean float64
	var cnt int
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			mean += v
			cnt++
		}
	}
	if cnt < 4 {
		return nil, false
	}
	mean /= float64(cnt)
	var ss float64
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	if !(ss/float64(cnt) > 1e-24*(1+mean*mean)) {
		return nil, false
	}
	a := make([]float64, nx*ny)
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			v := m[i*ny+j]
			if math.IsNaN(v) {
				v = mean
			}
			a[i*ny+j] = v - mean
		}
	}
	return a, true
}

// powerSpectrum is the power spectrum of a windowed, zero-padded map
// (FourierAnalyse's step 1), px by py, in cycles per bin: index i means
// i/px. The band is the frequencies from fmin = 1/L (one cycle across the
// map, L its shorter side in bins) to fmax = 0.4 cycles per bin; band is
// its power, once localMaxima has summed it.
type powerSpectrum struct {
	pow        []float64
	px, py     int
	L          float64
	fmin, fmax float64
	dfx, dfy   float64
	band       float64
}

// windowedSpectrum is the power spectrum of the centred nx by ny map a
// times a Hann window in x and y, the weighted mean removed again so that
// the DC term is exactly 0, zero-padded to pad times its size (at least
// 32).
func windowedSpectrum(a []float64, nx, ny, pad int) *powerSpectrum {
	hann := func(i, n int) float64 { return 0.5 - 0.5*math.Cos(2*math.Pi*(float64(i)+0.5)/float64(n)) }
	var sw, swv float64
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			w := hann(i, nx) * hann(j, ny)
			sw += w
			swv += w * a[i*ny+j]
		}
	}
	wmean := swv / sw
	px, py := fftSize(max(pad*nx, 32)), fftSize(max(pad*ny, 32))
	buf := make([]complex128, px*py)
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			buf[i*py+j] = complex(hann(i, nx)*hann(j, ny)*(a[i*ny+j]-wmean), 0)
		}
	}
	f := getFFT2(px, py)
	f.forward(buf)
	putFFT2(f)
	pow := make([]float64, px*py)
	for k, c := range buf {
		pow[k] = real(c)*real(c) + imag(c)*imag(c)
	}
	L := float64(min(nx, ny)) // bins
	return &powerSpectrum{pow: pow, px: px, py: py, L: L, fmin: 1 / L, fmax: 0.4, dfx: 1 / float64(px), dfy: 1 / float64(py)}
}

// at is the power at index (i, j), taken modulo the size.
func (s *powerSpectrum) at(i, j int) float64 {
	px, py := s.px, s.py
	return s.pow[((i%px+px)%px)*py+(j%py+py)%py]
}

// spectralPeak is a local maximum of a power spectrum: its index and
// power.
type spectralPeak struct {
	i, j int
	p    float64
}

// localMaxima sums the band's power into s.band and returns the band's
// local maxima in the half-plane (j > 0, or j = 0 and i > 0) with
// positive power, in index order.
func (s *powerSpectrum) localMaxima() []spectralPeak {
	px, py := s.px, s.py
	var cands []spectralPeak
	for i := -px / 2; i < (px+1)/2; i++ {
		for j := -py / 2; j < (py+1)/2; j++ {
			fr := math.Hypot(float64(i)*s.dfx, float64(j)*s.dfy)
			if fr < s.fmin || fr > s.fmax {
				continue
			}
			p := s.at(i, j)
			s.band += p
			if j < 0 || (j == 0 && i <= 0) {
				continue
			}
			if p <= 0 {
				continue
			}
			peak := true
			for di := -1; di <= 1 && peak; di++ {
				for dj := -1; dj <= 1; dj++ {
					if (di != 0 || dj != 0) && s.at(i+di, j+dj) > p {
						peak = false
						break
					}
				}
			}
			if peak {
				cands = append(cands, spectralPeak{i, j, p})
			}
		}
	}
	return cands
}

// strongestPeaks are the strongest three of cands (sorted here, strongest
// first) that are at least 1.5/L apart and from each other's mirror
// images, leaving out those weaker than minPeakRatio/2 of the strongest:
// located to sub-bin precision by a parabola through the log power, in
// cycles per metre (bins of binSize metres), their power relative to the
// strongest's.
func (s *powerSpectrum) strongestPeaks(cands []spectralPeak, minPeakRatio, binSize float64) []FourierPeak {
	sort.Slice(cands, func(x, y int) bool { return cands[x].p > cands[y].p })
	sep := 1.5 / s.L
	var sel []spectralPeak
	var fxs, fys []float64
	for _, c := range cands {
		if len(sel) == 3 || c.p < minPeakRatio*0.5*cands[0].p {
			break
		}
		// Sub-bin location: a parabola through the log power.
		ox := parabolicOffset(math.Log(s.at(c.i-1, c.j)+1e-300), math.Log(c.p), math.Log(s.at(c.i+1, c.j)+1e-300))
		oy := parabolicOffset(math.Log(s.at(c.i, c.j-1)+1e-300), math.Log(c.p), math.Log(s.at(c.i, c.j+1)+1e-300))
		fx, fy := (float64(c.i)+ox)*s.dfx, (float64(c.j)+oy)*s.dfy
		ok := true
		for k := range sel {
			if math.Hypot(fx-fxs[k], fy-fys[k]) < sep || math.Hypot(fx+fxs[k], fy+fys[k]) < sep {
				ok = false
				break
			}
		}
		if ok {
			sel = append(sel, c)
			fxs, fys = append(fxs, fx), append(fys, fy)
		}
	}
	var out []FourierPeak
	for k, c := range sel {
		out = append(out, FourierPeak{FX: fxs[k] / binSize, FY: fys[k] / binSize, Power: c.p / sel[0].p})
	}
	return out
}

// peakFraction is the peaks' share of the band's power: discs of radius
// 1/L around each peak ps (cycles per metre, bins of binSize metres) and
// its mirror image.
func (s *powerSpectrum) peakFraction(ps []FourierPeak, binSize float64) float64 {
	px, py := s.px, s.py
	var sum float64
	r2 := 1 / (s.L * s.L)
	for i := -px / 2; i < (px+1)/2; i++ {
		for j := -py / 2; j < (py+1)/2; j++ {
			fx, fy := float64(i)*s.dfx, float64(j)*s.dfy
			fr := math.Hypot(fx, fy)
			if fr < s.fmin || fr > s.fmax {
				continue
			}
			for _, p := range ps {
				qx, qy := p.FX*binSize, p.FY*binSize
				if (fx-qx)*(fx-qx)+(fy-qy)*(fy-qy) <= r2 || (fx+qx)*(fx+qx)+(fy+qy)*(fy+qy) <= r2 {
					sum += s.at(i, j)
					break
				}
			}
		}
	}
	return sum / s.band
}

// peakLineAngle is the angle between the lines through the origin and
// peaks a and b, degrees in [0, 90].
func peakLineAngle(a, b FourierPeak) float64 {
	c := math.Abs(a.FX*b.FX+a.FY*b.FY) / (a.F() * b.F())
	return math.Acos(min(1, c)) * 180 / math.Pi
}

// peakAngles are the angles (peakLineAngle) between peaks 1-2, 1-3, 2-3.
func peakAngles(P []FourierPeak) []float64 {
	var out []float64
	for x := 0; x < len(P); x++ {
		for y := x + 1; y < len(P); y++ {
			out = append(out, peakLineAngle(P[x], P[y]))
		}
	}
	return out
}

// peakKRatio is the ratio of the largest |f| of ps to the smallest.
func peakKRatio(ps ...FourierPeak) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, p := range ps {
		lo, hi = min(lo, p.F()), max(hi, p.F())
	}
	return hi / lo
}

// meanPeakF is the mean |f| of ps.
func meanPeakF(ps ...FourierPeak) float64 {
	var s float64
	for _, p := range ps {
		s += p.F()
	}
	return s / float64(len(ps))
}

// hexagonalLattice applies step 3's hexagonal test to res's three peaks
// (their angles and peak fraction set) and, where they pass, makes res a
// hexagonal lattice with its spacing, orientation and stretch.
func hexagonalLattice(res *FourierUnit, opt FourierOptions) bool {
	P := res.Peaks
	hex := peakKRatio(P...) <= opt.MaxKRatio && P[2].Power >= opt.MinPeakRatio && res.Fraction >= opt.MinFraction
	for _, an := range res.Angles {
		hex = hex && math.Abs(an-60) <= opt.AngleTol
	}
	if !hex {
		return false
	}
	f := meanPeakF(P...)
	res.Kind, res.Spacing = LatticeHexagonal, 2/(math.Sqrt(3)*f)
	var c, s float64
	for _, p := range P {
		th := 6 * p.Angle() * math.Pi / 180
		c, s = c+math.Cos(th), s+math.Sin(th)
	}
	res.Wavelength = 1 / f
	res.Orientation = math.Mod(math.Atan2(s, c)*180/math.Pi/6+30+120, 60)
	a, b := closedBasis(P, opt.ClosureTol)
	res.Stretch = peakStretch(a, b)
	return true
}

// squareLattice applies step 3's square test to res's two strongest peaks
// (a third peak, if any, is usually the diagonal harmonic): at right
// angles, with the hexagonal test's |f| and power tests and the two
// peaks' fraction of the band's power in sp. Where they pass, res becomes a
// square lattice with its spacing, orientation and that fraction.
func squareLattice(res *FourierUnit, sp *powerSpectrum, binSize float64, opt FourierOptions) bool {
	P := res.Peaks
	if !(len(P) >= 2 && math.Abs(peakLineAngle(P[0], P[1])-90) <= opt.AngleTol && peakKRatio(P[0], P[1]) <= opt.MaxKRatio && P[1].Power >= opt.MinPeakRatio) {
		return false
	}
	fr := sp.peakFraction(P[:2], binSize)
	if !(fr >= opt.MinFraction) {
		return false
	}
	f := meanPeakF(P[0], P[1])
	res.Kind, res.Wavelength, res.Spacing, res.Fraction = LatticeSquare, 1/f, 1/f, fr
	var c, s float64
	for _, p := range P[:2] {
		th := 4 * p.Angle() * math.Pi / 180
		c, s = c+math.Cos(th), s+math.Sin(th)
	}
	res.Orientation = math.Mod(math.Atan2(s, c)*180/math.Pi/4+90, 90)
	return true
}

// shearedLattice applies step 4's test to res's peaks (their peak fraction
// set): three peaks that close as a lattice's reciprocal vectors do, with
// the hexagonal lattice's power and fraction tests and a stretch of at
// most MaxStretch. Where they pass, res becomes a sheared lattice with its
// stretch, spacing and orientation.
func shearedLattice(res *FourierUnit, opt FourierOptions) {
	P := res.Peaks
	if len(P) == 3 && P[2].Power >= opt.MinPeakRatio && res.Fraction >= opt.MinFraction && peakClosure(P) <= opt.ClosureTol {
		a, b := closedBasis(P, opt.ClosureTol)
		if st := peakStretch(a, b); st <= opt.MaxStretch {
			res.Kind, res.Stretch = LatticeSheared, st
			res.Wavelength = 1 / meanPeakF(P...)
			res.Spacing = shearedSpacing(a, b)
			res.Orientation = shearedOrientation(a, b)
		}
	}
}

// closedBasis is the two strongest of three peaks, corrected so that the
// three close exactly where they close within tol (peakClosure): with the
// signs s_i that make c = p_1 + s_2 p_2 + s_3 p_3 smallest, p_i - s_i c/3
// are the vectors nearest the measured ones (least squares) whose signed
// sum is 0. The third peak so helps to locate the first two (its
// location error is as large as theirs). Otherwise the two strongest as
// they are.
func closedBasis(p []FourierPeak, tol float64) (FourierPeak, FourierPeak) {
	if len(p) < 3 || !(peakClosure(p) <= tol) {
		return p[0], p[1]
	}
	best, cx, cy, s2 := math.Inf(1), 0.0, 0.0, 1.0
	for _, sb := range []float64{-1, 1} {
		for _, sc := range []float64{-1, 1} {
			x, y := p[0].FX+sb*p[1].FX+sc*p[2].FX, p[0].FY+sb*p[1].FY+sc*p[2].FY
			if h := math.Hypot(x, y); h < best {
				best, cx, cy, s2 = h, x, y, sb
			}
		}
	}
	a, b := p[0], p[1]
	a.FX, a.FY = a.FX-cx/3, a.FY-cy/3
	b.FX, b.FY = b.FX-s2*cx/3, b.FY-s2*cy/3
	return a, b
}

// peakClosure is how far three peaks are from closing as a 2-D lattice's
// reciprocal vectors do (one the sum or difference of the other two): the
// smallest |f_a +- f_b +- f_c| over the signs, relative to their mean |f|.
// It is 0 for the three peaks of a hexagonal lattice and for those of any
// affine image of one.
func peakClosure(p []FourierPeak) float64 {
	best := math.Inf(1)
	for _, sb := range []float64{-1, 1} {
		for _, sc := range []float64{-1, 1} {
			best = min(best, math.Hypot(p[0].FX+sb*p[1].FX+sc*p[2].FX, p[0].FY+sb*p[1].FY+sc*p[2].FY))
		}
	}
	return best / ((p[0].F() + p[1].F() + p[2].F()) / 3)
}

// peakStretch is LatticeStretch of two peaks' frequency vectors.
func peakStretch(a, b FourierPeak) float64 {
	return LatticeStretch([2]float64{a.FX, a.FY}, [2]float64{b.FX, b.FY})
}

// LatticeStretch is the shear of the lattice whose reciprocal basis is k1,
// k2: the ratio of the singular values of the linear map A that takes the
// ideal hexagonal reciprocal basis, e1 = (1, 0) and e2 = (1/2, sqrt(3)/2)
// (unit vectors 60 degrees apart), to k1 and s k2, the sign s = +-1 chosen
// so that k1 and s k2 are at most 90 degrees apart (60 rather than 120 for
// a hexagonal lattice). 1 for a hexagonal lattice of any size and
// orientation, sqrt(3) for a square one. A real-space map M (a stretch s
// along one axis: singular values s and 1) takes wave vectors k to
// M^-T k, whose singular values are 1/s and 1, so the stretched lattice
// has stretch s. The ratio depends neither on the order of k1 and k2 nor
// on their scale. +Inf where k1 and k2 are parallel.
//
// With B = (e1 e2), B^-1 has columns (1, 0) and (-1, 2)/sqrt(3), so A =
// (k1 sk2) B^-1 has columns k1 and (2 s k2 - k1)/sqrt(3), and det A =
// det(k1, s k2) 2/sqrt(3). The singular values' ratio r satisfies r + 1/r
// = q = |A|_F^2 / |det A| (their squares sum to |A|_F^2, their product is
// |det A|), so r = (q + sqrt(q^2 - 4))/2.
func LatticeStretch(k1, k2 [2]float64) float64 {
	s := 1.0
	if k1[0]*k2[0]+k1[1]*k2[1] < 0 {
		s = -1
	}
	bx, by := (2*s*k2[0]-k1[0])/math.Sqrt(3), (2*s*k2[1]-k1[1])/math.Sqrt(3)
	det := math.Abs(k1[0]*by - k1[1]*bx)
	if !(det > 0) {
		return math.Inf(1)
	}
	q := (k1[0]*k1[0] + k1[1]*k1[1] + bx*bx + by*by) / det
	return (q + math.Sqrt(max(0, q*q-4))) / 2
}

// shearedSpacing is the spacing of the hexagonal lattice with the same
// unit-cell area as the lattice whose reciprocal basis is a, b (cycles per
// metre): the real-space cell has area 1/|det(a, b)|, and a hexagonal
// lattice of spacing d has cell area sqrt(3)/2 d^2, so d = sqrt(2 /
// (sqrt(3) |det(a, b)|)). For a perfect hexagonal lattice with |a| = |b|
// = f at 60 degrees, |det(a, b)| = f^2 sin 60 = sqrt(3)/2 f^2 and d =
// sqrt(4/(3 f^2)) = 2/(sqrt(3) f), the hexagonal spacing.
func shearedSpacing(a, b FourierPeak) float64 {
	return math.Sqrt(2 / (math.Sqrt(3) * math.Abs(a.FX*b.FY-a.FY*b.FX)))
}

// shearedOrientation is the hexagonal orientation (degrees modulo 60: the
// six-fold mean of the wave vectors' directions, plus 30) of the lattice
// whose reciprocal basis is a, b: its first three reciprocal vectors are a,
// s b and a - s b with the sign s of LatticeStretch (for a hexagonal
// lattice, its three peaks).
func shearedOrientation(a, b FourierPeak) float64 {
	s := 1.0
	if a.FX*b.FX+a.FY*b.FY < 0 {
		s = -1
	}
	var c, si float64
	for _, v := range [][2]float64{{a.FX, a.FY}, {s * b.FX, s * b.FY}, {a.FX - s*b.FX, a.FY - s*b.FY}} {
		th := 6 * math.Atan2(v[1], v[0])
		c, si = c+math.Cos(th), si+math.Sin(th)
	}
	return math.Mod(math.Atan2(si, c)*180/math.Pi/6+30+120, 60)
}

// FourierModules groups the units with a hexagonal or sheared Fourier
// lattice (a sheared one at the spacing of the hexagonal lattice with the
// same cell area) into modules with the method of DetectModules, applied
// to their Fourier spacings and orientations: gaps in ln(spacing) of at
// least MinLogGap separate modules, a module has at least MinSize units,
// an ln(spacing) spread of at most MaxLogSpread and an orientation spread
// of at most MaxOriSpread degrees, and wide gaps in orientation split it.
// (The paper finds modules from each cell's Fourier peaks; sheared units
// take part so that the module count does not hinge on the hexagonal
// test's angle tolerance.) Periods are lattice spacings (m), comparable
// with the SAC method's scales.
func FourierModules(units []FourierUnit, opt ModuleOptions) ModuleReport {
	pseudo := make([]Score, len(units))
	for u, f := range units {
		pseudo[u] = nanScore()
		if f.Kind == LatticeHexagonal || f.Kind == LatticeSheared {
			pseudo[u].Score60, pseudo[u].Scale, pseudo[u].Orientation = 1, f.Spacing, f.Orientation
		}
	}
	opt.MinScore = 0.5
	return DetectModules(pseudo, opt)
}

// ModuleComparison says whether the Fourier and SAC-scale methods found the
// same modules.
type ModuleComparison struct {
	Agree bool   `json:"agree"`
	Note  string `json:"note"`
}

// CompareModules matches each module of one method to the module of the
// other with the nearest period: they agree when both found the same
// number of modules and every matched pair has periods within 10% and
// shares at least half of the smaller module's units.
func CompareModules(fourier, sac ModuleReport) ModuleComparison {
	nf, ns := len(fourier.Modules), len(sac.Modules)
	if nf == 0 && ns == 0 {
		return ModuleComparison{Agree: true, Note: "neither method finds a module"}
	}
	if nf != ns {
		return ModuleComparison{Note: fmt.Sprintf("the Fourier method finds %d module(s), the SAC-scale method %d", nf, ns)}
	}
	for i, fm := range fourier.Modules {
		sm := sac.Modules[i] // both sorted by period
		rel := math.Abs(fm.Period-sm.Period) / sm.Period
		in := map[int]bool{}
		for _, u := range sm.Units {
			in[u] = true
		}
		shared := 0
		for _, u := range fm.Units {
			if in[u] {
				shared++
			}
		}
		if rel > 0.1 || 2*shared < min(len(fm.Units), len(sm.Units)) {
			return ModuleComparison{Note: fmt.Sprintf("module %d: Fourier period %.3g m with %d units, SAC-scale period %.3g m with %d units, %d shared", i, fm.Period, len(fm.Units), sm.Period, len(sm.Units), shared)}
		}
	}
	return ModuleComparison{Agree: true, Note: fmt.Sprintf("both methods find the same %d module(s)", nf)}
}

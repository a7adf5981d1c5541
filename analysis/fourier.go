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
}

// DefaultFourierOptions: on the tests' noisy hexagonal maps (0.4 sd of
// noise, 5% missing bins) the peak fraction is 0.4-0.8 and the angles
// are within 5 degrees of 60; on smoothed noise the peak fraction is
// mostly below 0.25 and random triples seldom pass the angle test too.
var DefaultFourierOptions = FourierOptions{Pad: 4, MaxKRatio: 1.25, AngleTol: 10, MinPeakRatio: 0.15, MinFraction: 0.3}

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
	Kind  string        `json:"kind"`  // LatticeHexagonal, LatticeSquare, LatticeNone, LatticeSilent, LatticeFlat
	Peaks []FourierPeak `json:"peaks"` // up to three, strongest first
	// Spacing is the lattice spacing (distance between neighbouring
	// fields, which the SAC method calls scale), m: 2/(sqrt(3) f) for a
	// hexagonal lattice whose peaks have mean frequency f, 1/f for a
	// square one; NaN for other kinds. Wavelength is 1/f.
	Spacing    float64 `json:"spacing"`
	Wavelength float64 `json:"wavelength"`
	// Orientation is the direction of the lattice vectors (the SAC's
	// peaks), degrees modulo 60 for hexagonal lattices (the wave vectors'
	// directions plus 30) and modulo 90 for square ones.
	Orientation float64   `json:"orientation"`
	Angles      []float64 `json:"angles"`        // degrees between the lines of peaks 1-2, 1-3, 2-3 (0-90)
	Fraction    float64   `json:"peak_fraction"` // share of the band's power within 1/L of the peaks
}

// MarshalJSON writes undefined values (NaN) as null.
func (f FourierUnit) MarshalJSON() ([]byte, error) {
	type plain FourierUnit
	return json.Marshal(struct {
		plain
		Spacing     Num `json:"spacing"`
		Wavelength  Num `json:"wavelength"`
		Orientation Num `json:"orientation"`
		Fraction    Num `json:"peak_fraction"`
	}{plain(f), Num(f.Spacing), Num(f.Wavelength), Num(f.Orientation), Num(f.Fraction)})
}

func nanFourier(kind string) FourierUnit {
	n := math.NaN()
	return FourierUnit{Kind: kind, Peaks: []FourierPeak{}, Angles: []float64{}, Spacing: n, Wavelength: n, Orientation: n, Fraction: n}
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
func FourierAnalyse(m []float64, nx, ny int, binSize float64, opt FourierOptions) FourierUnit {
	if !(binSize > 0) {
		binSize = 1
	}
	if opt.Pad < 1 {
		opt.Pad = 1
	}
	var mean float64
	var cnt int
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			mean += v
			cnt++
		}
	}
	if cnt < 4 {
		return nanFourier(LatticeFlat)
	}
	mean /= float64(cnt)
	var ss float64
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	if !(ss/float64(cnt) > 1e-24*(1+mean*mean)) {
		return nanFourier(LatticeFlat)
	}
	hann := func(i, n int) float64 { return 0.5 - 0.5*math.Cos(2*math.Pi*(float64(i)+0.5)/float64(n)) }
	a := make([]float64, nx*ny)
	var sw, swv float64
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			w := hann(i, nx) * hann(j, ny)
			v := m[i*ny+j]
			if math.IsNaN(v) {
				v = mean
			}
			a[i*ny+j] = v - mean
			sw += w
			swv += w * (v - mean)
		}
	}
	wmean := swv / sw
	px, py := fftSize(max(opt.Pad*nx, 32)), fftSize(max(opt.Pad*ny, 32))
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
	at := func(i, j int) float64 { return pow[((i%px+px)%px)*py+(j%py+py)%py] }
	// Frequencies in cycles per bin: index i means i/px.
	L := float64(min(nx, ny)) // bins
	fmin, fmax := 1/L, 0.4
	dfx, dfy := 1/float64(px), 1/float64(py)
	var band float64
	type cand struct {
		i, j int
		p    float64
	}
	var cands []cand
	for i := -px / 2; i < (px+1)/2; i++ {
		for j := -py / 2; j < (py+1)/2; j++ {
			fr := math.Hypot(float64(i)*dfx, float64(j)*dfy)
			if fr < fmin || fr > fmax {
				continue
			}
			p := at(i, j)
			band += p
			if j < 0 || (j == 0 && i <= 0) {
				continue
			}
			if p <= 0 {
				continue
			}
			peak := true
			for di := -1; di <= 1 && peak; di++ {
				for dj := -1; dj <= 1; dj++ {
					if (di != 0 || dj != 0) && at(i+di, j+dj) > p {
						peak = false
						break
					}
				}
			}
			if peak {
				cands = append(cands, cand{i, j, p})
			}
		}
	}
	if len(cands) == 0 || !(band > 0) {
		return nanFourier(LatticeNone)
	}
	sort.Slice(cands, func(x, y int) bool { return cands[x].p > cands[y].p })
	sep := 1.5 / L
	var sel []cand
	var fxs, fys []float64
	for _, c := range cands {
		if len(sel) == 3 || c.p < opt.MinPeakRatio*0.5*cands[0].p {
			break
		}
		// Sub-bin location: a parabola through the log power.
		ox := parabolicOffset(math.Log(at(c.i-1, c.j)+1e-300), math.Log(c.p), math.Log(at(c.i+1, c.j)+1e-300))
		oy := parabolicOffset(math.Log(at(c.i, c.j-1)+1e-300), math.Log(c.p), math.Log(at(c.i, c.j+1)+1e-300))
		fx, fy := (float64(c.i)+ox)*dfx, (float64(c.j)+oy)*dfy
		ok := true
		for s := range sel {
			if math.Hypot(fx-fxs[s], fy-fys[s]) < sep || math.Hypot(fx+fxs[s], fy+fys[s]) < sep {
				ok = false
				break
			}
		}
		if ok {
			sel = append(sel, c)
			fxs, fys = append(fxs, fx), append(fys, fy)
		}
	}
	res := nanFourier(LatticeNone)
	for s, c := range sel {
		res.Peaks = append(res.Peaks, FourierPeak{FX: fxs[s] / binSize, FY: fys[s] / binSize, Power: c.p / sel[0].p})
	}
	// The peaks' share of the band's power: discs of radius 1/L around
	// each peak and its mirror image.
	inPeaks := func(ps []FourierPeak) float64 {
		var s float64
		r2 := 1 / (L * L)
		for i := -px / 2; i < (px+1)/2; i++ {
			for j := -py / 2; j < (py+1)/2; j++ {
				fx, fy := float64(i)*dfx, float64(j)*dfy
				fr := math.Hypot(fx, fy)
				if fr < fmin || fr > fmax {
					continue
				}
				for _, p := range ps {
					qx, qy := p.FX*binSize, p.FY*binSize
					if (fx-qx)*(fx-qx)+(fy-qy)*(fy-qy) <= r2 || (fx+qx)*(fx+qx)+(fy+qy)*(fy+qy) <= r2 {
						s += at(i, j)
						break
					}
				}
			}
		}
		return s / band
	}
	lineAngle := func(a, b FourierPeak) float64 {
		c := math.Abs(a.FX*b.FX+a.FY*b.FY) / (a.F() * b.F())
		return math.Acos(min(1, c)) * 180 / math.Pi
	}
	kRatio := func(ps ...FourierPeak) float64 {
		lo, hi := math.Inf(1), 0.0
		for _, p := range ps {
			lo, hi = min(lo, p.F()), max(hi, p.F())
		}
		return hi / lo
	}
	meanF := func(ps ...FourierPeak) float64 {
		var s float64
		for _, p := range ps {
			s += p.F()
		}
		return s / float64(len(ps))
	}
	P := res.Peaks
	for x := 0; x < len(P); x++ {
		for y := x + 1; y < len(P); y++ {
			res.Angles = append(res.Angles, lineAngle(P[x], P[y]))
		}
	}
	if len(P) == 3 {
		res.Fraction = inPeaks(P)
		hex := kRatio(P...) <= opt.MaxKRatio && P[2].Power >= opt.MinPeakRatio && res.Fraction >= opt.MinFraction
		for _, an := range res.Angles {
			hex = hex && math.Abs(an-60) <= opt.AngleTol
		}
		if hex {
			f := meanF(P...)
			res.Kind, res.Spacing = LatticeHexagonal, 2/(math.Sqrt(3)*f)
			var c, s float64
			for _, p := range P {
				th := 6 * p.Angle() * math.Pi / 180
				c, s = c+math.Cos(th), s+math.Sin(th)
			}
			res.Wavelength = 1 / f
			res.Orientation = math.Mod(math.Atan2(s, c)*180/math.Pi/6+30+120, 60)
			return res
		}
	}
	// Square: the two strongest peaks at right angles (a third peak, if
	// any, is usually the diagonal harmonic).
	if len(P) >= 2 && math.Abs(lineAngle(P[0], P[1])-90) <= opt.AngleTol && kRatio(P[0], P[1]) <= opt.MaxKRatio && P[1].Power >= opt.MinPeakRatio {
		fr := inPeaks(P[:2])
		if fr >= opt.MinFraction {
			f := meanF(P[0], P[1])
			res.Kind, res.Wavelength, res.Spacing, res.Fraction = LatticeSquare, 1/f, 1/f, fr
			var c, s float64
			for _, p := range P[:2] {
				th := 4 * p.Angle() * math.Pi / 180
				c, s = c+math.Cos(th), s+math.Sin(th)
			}
			res.Orientation = math.Mod(math.Atan2(s, c)*180/math.Pi/4+90, 90)
			return res
		}
	}
	if len(P) == 3 && math.IsNaN(res.Fraction) {
		res.Fraction = inPeaks(P)
	}
	return res
}

// FourierModules groups the units with a hexagonal Fourier lattice into
// modules with the method of DetectModules, applied to their Fourier
// spacings and orientations: gaps in ln(spacing) of at least MinLogGap
// separate modules, a module has at least MinSize units, an ln(spacing)
// spread of at most MaxLogSpread and an orientation spread of at most
// MaxOriSpread degrees, and wide gaps in orientation split it. Periods are
// lattice spacings (m), comparable with the SAC method's scales.
func FourierModules(units []FourierUnit, opt ModuleOptions) ModuleReport {
	pseudo := make([]Score, len(units))
	for u, f := range units {
		pseudo[u] = nanScore()
		if f.Kind == LatticeHexagonal {
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

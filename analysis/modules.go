package analysis

import (
	"math"
	"sort"
)

// ModuleOptions sets the module detection thresholds (see DetectModules).
type ModuleOptions struct {
	MinScore          float64 `json:"min_score"`              // grid units have score60 above this
	MinLogGap         float64 `json:"min_log_gap"`            // a gap in ln(scale) at least this wide separates modules
	MinSize           int     `json:"min_size"`               // fewest units in a module
	MaxLogSpread      float64 `json:"max_log_spread"`         // largest standard deviation of ln(scale) within a module
	MinOrientationGap float64 `json:"min_orientation_gap"`    // degrees; a gap in orientation (mod 60) this wide splits a scale cluster
	MaxOriSpread      float64 `json:"max_orientation_spread"` // degrees; largest circular standard deviation of orientation within a module (0: no limit)
}

// DefaultModuleOptions: the grid threshold is GridThreshold of the default
// scorer, 0.3 for banino (the literature's value); Options.SetScorer and
// the commands use the chosen scorer's threshold. Neither threshold keeps
// out smoothed noise on its own: on 20-60 bin maps of Gaussian-smoothed
// white noise (widths 1.5-4 bins) the 95th percentile of score60 is about
// 0.5-0.85 for banino and 0.45-0.85 for rings (measured, 100 maps per
// case). So a module must also be coherent: module period ratios in the
// entorhinal cortex and in the paper are about 1.4 (ln 1.4 = 0.34), well
// above a gap of 0.15 (ratio 1.16), while scale estimates within one module
// vary by a few percent and orientations by a degree or two (in the tests'
// noisy lattices, under 1.5 degrees); clusters of noise maps that pass the
// score threshold have orientation spreads of about 14 degrees.
var DefaultModuleOptions = ModuleOptions{MinScore: 0.3, MinLogGap: 0.15, MinSize: 3, MaxLogSpread: 0.1, MinOrientationGap: 15, MaxOriSpread: 8}

// Module is a group of grid units with a common scale (and orientation).
type Module struct {
	ID          int     `json:"id"`
	Period      float64 `json:"period"`      // median member scale, same units as the scores' Scale
	Orientation float64 `json:"orientation"` // circular mean of member orientations, degrees mod 60
	LogSpread   float64 `json:"log_spread"`  // standard deviation of ln(scale) over members
	OriSpread   float64 `json:"orientation_spread"`
	Units       []int   `json:"units"`
	// HarmonicOf is the ID of a larger module whose lattice this one
	// repeats at a harmonic (see markHarmonics), with Harmonic naming
	// which: such a group is not a module of its own; nil otherwise.
	HarmonicOf *int   `json:"harmonic_of,omitempty"`
	Harmonic   string `json:"harmonic,omitempty"`
}

// Harmonics a unit's ratemap can take from one lattice of period p
// (markHarmonics): the second shell of its Fourier peaks, a lattice of
// period p/sqrt(3) turned by 30 degrees; and the octave, the same
// orientation at p/2 or 2p (fields of alternating strength read at twice
// the period).
const (
	HarmonicSqrt3  = "sqrt3_30deg"
	HarmonicOctave = "octave"
)

// Tolerances of markHarmonics: period ratios within 5% of sqrt(3) or 2,
// orientations within 5 degrees of 30 or 0 apart. Scales within one module
// vary by a few percent and orientations by a degree or two.
const (
	harmonicLogTol = 0.05
	harmonicOriTol = 5.0
)

// markHarmonics marks each module whose period and orientation are a
// harmonic of another module's (HarmonicSqrt3: ratio sqrt(3) and 30
// degrees apart; HarmonicOctave: ratio 2 at the same orientation) as a
// harmonic of the one with more units. A trained network's lattice shows
// such groups: units tuned to its second Fourier shell have fields on a
// finer lattice that contains the coarser one, which is one module's
// code, not a second module with its own period.
func markHarmonics(mods []Module) {
	for i := range mods {
		for j := i + 1; j < len(mods); j++ {
			a, b := &mods[i], &mods[j] // a.Period <= b.Period
			lr := math.Log(b.Period / a.Period)
			d := math.Abs(a.Orientation - b.Orientation)
			d = min(d, 60-d)
			kind := ""
			switch {
			case math.Abs(lr-math.Log(math.Sqrt(3))) < harmonicLogTol && math.Abs(d-30) < harmonicOriTol:
				kind = HarmonicSqrt3
			case math.Abs(lr-math.Log(2)) < harmonicLogTol && d < harmonicOriTol:
				kind = HarmonicOctave
			default:
				continue
			}
			h, of := a, b
			if len(a.Units) > len(b.Units) {
				h, of = b, a
			}
			if h.HarmonicOf == nil {
				id := of.ID
				h.HarmonicOf, h.Harmonic = &id, kind
			}
		}
	}
}

// ModuleReport is the result of DetectModules.
type ModuleReport struct {
	Modules    []Module  `json:"modules"`
	GridUnits  []int     `json:"grid_units"` // units passing the score threshold with a defined scale
	Unassigned []int     `json:"unassigned"` // grid units in no module
	Ratios     []float64 `json:"period_ratios"`
}

// DetectModules groups grid units into modules.
//
// Method: only units with score60 > MinScore and a defined scale take part.
// Their scales are sorted on a log axis and cut wherever two neighbours are
// at least MinLogGap apart (modules differ by a ratio, so gaps are measured
// in ln(scale)). A cluster becomes a module only if it has at least MinSize
// units and its ln(scale) standard deviation is at most MaxLogSpread: a
// cluster that is too small, or a wide smear of scales such as grid-like
// noise produces, stays unassigned rather than being reported as a module.
// A module is then split by orientation if its members' orientations (mod
// 60 degrees) fall into groups separated by gaps of at least
// MinOrientationGap and at least two of those groups have MinSize units;
// units of smaller groups join the nearest large group. A module whose
// orientations then spread (circular standard deviation) by more than
// MaxOriSpread degrees is not a module either, and its units stay
// unassigned: noise maps that pass the score threshold can have similar
// scales by chance, but not similar orientations. Modules are numbered by
// increasing period; Ratios are the ratios of consecutive periods. A
// module that repeats a larger one's lattice at a harmonic is marked as
// such (markHarmonics).
func DetectModules(scores []Score, opt ModuleOptions) ModuleReport {
	rep := ModuleReport{Modules: []Module{}, GridUnits: []int{}, Unassigned: []int{}, Ratios: []float64{}}
	for u, s := range scores {
		if s.Score60 > opt.MinScore && s.Scale > 0 && !math.IsNaN(s.Orientation) {
			rep.GridUnits = append(rep.GridUnits, u)
		}
	}
	units := append([]int(nil), rep.GridUnits...)
	sort.SliceStable(units, func(a, b int) bool { return scores[units[a]].Scale < scores[units[b]].Scale })
	var clusters [][]int
	start := 0
	for i := 1; i <= len(units); i++ {
		if i == len(units) || math.Log(scores[units[i]].Scale)-math.Log(scores[units[i-1]].Scale) >= opt.MinLogGap {
			clusters = append(clusters, units[start:i])
			start = i
		}
	}
	var mods [][]int
	for _, c := range clusters {
		if len(c) < max(1, opt.MinSize) || logSpread(scores, c) > opt.MaxLogSpread {
			rep.Unassigned = append(rep.Unassigned, c...)
			continue
		}
		mods = append(mods, splitByOrientation(scores, c, opt)...)
	}
	for _, m := range mods {
		sort.Ints(m)
		sc := make([]float64, len(m))
		for i, u := range m {
			sc[i] = scores[u].Scale
		}
		mean, spread := orientationStats(scores, m)
		if opt.MaxOriSpread > 0 && spread > opt.MaxOriSpread {
			rep.Unassigned = append(rep.Unassigned, m...)
			continue
		}
		rep.Modules = append(rep.Modules, Module{Period: median(sc), Orientation: mean, OriSpread: spread, LogSpread: logSpread(scores, m), Units: m})
	}
	sort.SliceStable(rep.Modules, func(a, b int) bool { return rep.Modules[a].Period < rep.Modules[b].Period })
	for i := range rep.Modules {
		rep.Modules[i].ID = i
		if i > 0 {
			rep.Ratios = append(rep.Ratios, rep.Modules[i].Period/rep.Modules[i-1].Period)
		}
	}
	markHarmonics(rep.Modules)
	sort.Ints(rep.Unassigned)
	return rep
}

func logSpread(scores []Score, units []int) float64 {
	var s, ss float64
	for _, u := range units {
		l := math.Log(scores[u].Scale)
		s += l
		ss += l * l
	}
	n := float64(len(units))
	return math.Sqrt(max(0, ss/n-(s/n)*(s/n)))
}

// orientationStats returns the circular mean and circular standard
// deviation (degrees) of the units' orientations on the 60-degree circle.
func orientationStats(scores []Score, units []int) (mean, spread float64) {
	var c, s float64
	for _, u := range units {
		a := scores[u].Orientation * 6 * math.Pi / 180
		c += math.Cos(a)
		s += math.Sin(a)
	}
	n := float64(len(units))
	mean = math.Mod(math.Atan2(s, c)*180/math.Pi/6+60, 60)
	r := min(1, math.Hypot(c, s)/n)
	spread = math.Sqrt(-2*math.Log(max(r, 1e-12))) * 180 / math.Pi / 6
	return mean, spread
}

// splitByOrientation splits a scale cluster at wide gaps in orientation.
func splitByOrientation(scores []Score, units []int, opt ModuleOptions) [][]int {
	if opt.MinOrientationGap <= 0 || len(units) < 2*opt.MinSize {
		return [][]int{units}
	}
	us := append([]int(nil), units...)
	sort.SliceStable(us, func(a, b int) bool { return scores[us[a]].Orientation < scores[us[b]].Orientation })
	n := len(us)
	// Find gaps on the circle: between i-1 and i, and the wrap-around.
	var cuts []int
	for i := 0; i < n; i++ {
		prev := scores[us[(i+n-1)%n]].Orientation
		cur := scores[us[i]].Orientation
		gap := cur - prev
		if i == 0 {
			gap += 60
		}
		if gap >= opt.MinOrientationGap {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) < 2 {
		return [][]int{units}
	}
	var groups [][]int
	// Group k runs from cut k up to the unit before cut k+1, circularly;
	// with at least two cuts, every group ends before it wraps onto itself.
	for k, c := range cuts {
		end := cuts[(k+1)%len(cuts)]
		var g []int
		for i := c; ; i = (i + 1) % n {
			g = append(g, us[i])
			if (i+1)%n == end {
				break
			}
		}
		groups = append(groups, g)
	}
	var big, small [][]int
	for _, g := range groups {
		if len(g) >= opt.MinSize {
			big = append(big, g)
		} else {
			small = append(small, g)
		}
	}
	if len(big) < 2 {
		return [][]int{units}
	}
	means := make([]float64, len(big))
	for i, g := range big {
		means[i], _ = orientationStats(scores, g)
	}
	for _, g := range small {
		for _, u := range g {
			best, bd := 0, math.Inf(1)
			for i, m := range means {
				if d := angleDist60(scores[u].Orientation, m); d < bd {
					best, bd = i, d
				}
			}
			big[best] = append(big[best], u)
		}
	}
	return big
}

// angleDist60 is the distance of two orientations on the 60-degree circle.
func angleDist60(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 60)
	return min(d, 60-d)
}

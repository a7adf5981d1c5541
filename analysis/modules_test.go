package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// scoreMaps scores n by n maps with bin size 1.
func scoreMaps(maps [][]float64, n int, method string) []Score {
	sc := &Scorer{BinSize: 1, Method: method}
	out := make([]Score, len(maps))
	for i, m := range maps {
		out[i], _ = sc.Score(m, n, n)
	}
	return out
}

// moduleMaps makes k noisy hexagonal maps of one module: a common period
// and orientation (with a little jitter, as within real modules), random
// phases.
func moduleMaps(rng *rand.Rand, n, k int, period, orient float64) [][]float64 {
	var maps [][]float64
	for i := 0; i < k; i++ {
		o := orient + rng.NormFloat64()
		m := hexMap(n, period*(1+0.01*rng.NormFloat64()), o, rng.Float64()*period, rng.Float64()*period)
		maps = append(maps, damage(m, 0.4, 0.05, rng))
	}
	return maps
}

func TestDetectModules(t *testing.T) {
	const n = 40
	rng := rand.New(rand.NewPCG(11, 12))
	noise := func(k int) [][]float64 {
		var maps [][]float64
		for i := 0; i < k; i++ {
			maps = append(maps, smoothNoise(n, []float64{1.5, 2.5, 4}[i%3], rng))
		}
		return maps
	}
	places := func(k int) [][]float64 {
		var maps [][]float64
		for i := 0; i < k; i++ {
			maps = append(maps, placeMap(n, 3+rng.Float64()*3, 5+rng.Float64()*30, 5+rng.Float64()*30))
		}
		return maps
	}
	cat := func(parts ...[][]float64) [][]float64 {
		var out [][]float64
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name    string
		maps    [][]float64
		periods []float64 // expected module periods, increasing
		orients []float64 // expected orientations, same order (NaN: any)
	}{
		{"two-periods-ratio-1.4", cat(moduleMaps(rng, n, 12, 6, 10), moduleMaps(rng, n, 12, 8.4, 25)), []float64{6, 8.4}, []float64{10, 25}},
		{"two-periods-with-noise-units", cat(moduleMaps(rng, n, 10, 5.5, 40), noise(20), moduleMaps(rng, n, 8, 7.7, 5), places(6)), []float64{5.5, 7.7}, []float64{40, 5}},
		{"three-periods", cat(moduleMaps(rng, n, 8, 5, 0), moduleMaps(rng, n, 8, 7, 20), moduleMaps(rng, n, 8, 9.8, 40)), []float64{5, 7, 9.8}, []float64{0, 20, 40}},
		{"one-period", moduleMaps(rng, n, 20, 7, 33), []float64{7}, []float64{33}},
		{"one-period-two-orientations", cat(moduleMaps(rng, n, 10, 8, 3), moduleMaps(rng, n, 10, 8, 33)), []float64{8, 8}, []float64{math.NaN(), math.NaN()}},
		{"noise", noise(40), nil, nil},
		{"place-fields", places(30), nil, nil},
		{"too-few-grid-units", cat(moduleMaps(rng, n, 2, 6, 10), noise(10)), nil, nil},
	}
	for _, method := range []string{ScorerBanino, ScorerRings} {
		opt := DefaultModuleOptions
		opt.MinScore = GridThreshold(method)
		for _, c := range cases {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				testModuleCase(t, scoreMaps(c.maps, n, method), opt, c.periods, c.orients)
			})
		}
	}
}

func testModuleCase(t *testing.T, scores []Score, opt ModuleOptions, periods, orients []float64) {
	rep := DetectModules(scores, opt)
	if len(rep.Modules) != len(periods) {
		var desc []string
		for _, u := range rep.GridUnits {
			desc = append(desc, fmt.Sprintf("%d:%.2f/%.1f", u, scores[u].Scale, scores[u].Orientation))
		}
		t.Fatalf("%d modules %+v, want %d (grid units scale/orientation: %v)", len(rep.Modules), rep.Modules, len(periods), desc)
	}
	for _, m := range rep.Modules {
		t.Logf("module %d: period %.3f orientation %.1f, %d units (log spread %.3f)", m.ID, m.Period, m.Orientation, len(m.Units), m.LogSpread)
	}
	t.Logf("grid units %d, unassigned %d", len(rep.GridUnits), len(rep.Unassigned))
	if len(periods) > 1 && periods[0] == periods[1] {
		// Split by orientation: the two modules' orientations must
		// differ by about 30 degrees.
		if d := angleDist60(rep.Modules[0].Orientation, rep.Modules[1].Orientation); d < 25 {
			t.Errorf("orientation split: module orientations %.1f and %.1f", rep.Modules[0].Orientation, rep.Modules[1].Orientation)
		}
		return
	}
	for i, m := range rep.Modules {
		if math.Abs(m.Period-periods[i]) > 0.05*periods[i] {
			t.Errorf("module %d period %.3f, want %.3f +- 5%%", i, m.Period, periods[i])
		}
		if !math.IsNaN(orients[i]) && angleDist60(m.Orientation, orients[i]) > 3 {
			t.Errorf("module %d orientation %.2f, want %.2f +- 3", i, m.Orientation, orients[i])
		}
		if i > 0 {
			if want := periods[i] / periods[i-1]; math.Abs(rep.Ratios[i-1]-want) > 0.05*want {
				t.Errorf("ratio %d: %.3f, want %.3f", i-1, rep.Ratios[i-1], want)
			}
		}
	}
}

// TestDetectModulesMembership checks that units go to the module they were
// made for.
func TestDetectModulesMembership(t *testing.T) {
	const n = 40
	rng := rand.New(rand.NewPCG(13, 14))
	maps := append(moduleMaps(rng, n, 9, 6, 12), moduleMaps(rng, n, 9, 8.4, 12)...)
	rep := DetectModules(scoreMaps(maps, n, ScorerBanino), DefaultModuleOptions)
	if len(rep.Modules) != 2 {
		t.Fatalf("%d modules, want 2", len(rep.Modules))
	}
	for mi, m := range rep.Modules {
		for _, u := range m.Units {
			if u/9 != mi {
				t.Errorf("unit %d (made for module %d) is in module %d", u, u/9, mi)
			}
		}
	}
	if len(rep.Unassigned) > 2 {
		t.Errorf("%d grid units unassigned: %v", len(rep.Unassigned), rep.Unassigned)
	}
}

// markHarmonics: a group at p/sqrt(3) turned by 30 degrees, or at p/2 with
// the same orientation, is a harmonic of the larger module; a group at
// ratio 1.4 (the entorhinal and paper ratio), or at sqrt(3) without the
// turn, is a module of its own.
func TestDetectModulesHarmonics(t *testing.T) {
	lattice := func(n int, period, orient float64) []Score {
		var s []Score
		for i := 0; i < n; i++ {
			s = append(s, Score{Score60: 1, Scale: period * (1 + 0.005*float64(i%3-1)), Orientation: orient + 0.3*float64(i%3-1)})
		}
		return s
	}
	for _, c := range []struct {
		name     string
		small    []Score // the finer group
		harmonic string  // "" when it is a module of its own
	}{
		{"sqrt3, 30 degrees (the capacity curriculum's seed 8)", lattice(8, 0.795/math.Sqrt(3), 30.3), HarmonicSqrt3},
		{"octave, same orientation", lattice(5, 0.795/2, 59.5), HarmonicOctave},
		{"sqrt3 without the turn", lattice(8, 0.795/math.Sqrt(3), 58), ""},
		{"ratio 1.4", lattice(8, 0.795/1.4, 30.3), ""},
		{"sqrt3, 30 degrees, 8% off the ratio", lattice(8, 0.795/math.Sqrt(3)/1.08, 30.3), ""},
	} {
		scores := append(lattice(44, 0.795, 59.8), c.small...)
		rep := DetectModules(scores, DefaultModuleOptions)
		if len(rep.Modules) != 2 {
			t.Fatalf("%s: %d modules, want 2", c.name, len(rep.Modules))
		}
		fine, coarse := rep.Modules[0], rep.Modules[1]
		if coarse.HarmonicOf != nil {
			t.Errorf("%s: the 44-unit module is marked a harmonic", c.name)
		}
		switch {
		case c.harmonic == "" && fine.HarmonicOf != nil:
			t.Errorf("%s: marked a %s harmonic of module %d", c.name, fine.Harmonic, *fine.HarmonicOf)
		case c.harmonic != "" && (fine.HarmonicOf == nil || *fine.HarmonicOf != coarse.ID || fine.Harmonic != c.harmonic):
			t.Errorf("%s: harmonic_of %v %q, want %d %q", c.name, fine.HarmonicOf, fine.Harmonic, coarse.ID, c.harmonic)
		}
	}
}

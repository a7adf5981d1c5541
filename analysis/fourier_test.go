package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fourierMaps analyses maps of n by n bins of size bs.
func fourierMaps(maps [][]float64, n int, bs float64) []FourierUnit {
	out := make([]FourierUnit, len(maps))
	for i, m := range maps {
		out[i] = FourierAnalyse(m, n, n, bs, DefaultFourierOptions)
	}
	return out
}

func TestFourierHexagonal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{40, 60} {
		for _, period := range []float64{6, 9, 13, 18} {
			for _, orient := range []float64{0, 7, 22, 41, 55} {
				m := damage(hexMap(n, period, orient, rng.Float64()*period, rng.Float64()*period), 0.4, 0.05, rng)
				f := FourierAnalyse(m, n, n, 1, DefaultFourierOptions)
				if f.Kind != LatticeHexagonal {
					t.Errorf("n=%d period %g orient %g: kind %s (peaks %+v, angles %.1f, fraction %.2f)", n, period, orient, f.Kind, f.Peaks, f.Angles, f.Fraction)
					continue
				}
				if rel := math.Abs(f.Spacing-period) / period; rel > 0.04 {
					t.Errorf("n=%d period %g orient %g: spacing %.3f (%.1f%% off)", n, period, orient, f.Spacing, 100*rel)
				}
				if d := angleDiff60(f.Orientation, orient); d > 2 {
					t.Errorf("n=%d period %g orient %g: orientation %.2f", n, period, orient, f.Orientation)
				}
				if f.Fraction < 0.35 {
					t.Errorf("n=%d period %g orient %g: peak fraction %.2f", n, period, orient, f.Fraction)
				}
			}
		}
	}
}

func TestFourierSquare(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 40
	for _, period := range []float64{6, 9, 13} {
		for _, orient := range []float64{0, 20, 45, 70} {
			m := damage(squareMap(n, period, orient, rng.Float64()*period, rng.Float64()*period), 0.3, 0.05, rng)
			f := FourierAnalyse(m, n, n, 1, DefaultFourierOptions)
			if f.Kind != LatticeSquare {
				t.Errorf("period %g orient %g: kind %s, want square (peaks %+v, angles %.1f)", period, orient, f.Kind, f.Peaks, f.Angles)
				continue
			}
			if rel := math.Abs(f.Spacing-period) / period; rel > 0.04 {
				t.Errorf("period %g orient %g: spacing %.3f", period, orient, f.Spacing)
			}
			d := math.Mod(math.Abs(f.Orientation-orient), 90)
			if d = min(d, 90-d); d > 2 {
				t.Errorf("period %g orient %g: orientation %.2f (mod 90)", period, orient, f.Orientation)
			}
		}
	}
}

func TestFourierDegenerate(t *testing.T) {
	const n = 20
	flat := make([]float64, n*n)
	empty := make([]float64, n*n)
	for i := range empty {
		empty[i] = math.NaN()
	}
	for name, m := range map[string][]float64{"zero": flat, "empty": empty} {
		f := FourierAnalyse(m, n, n, 0.05, DefaultFourierOptions)
		if f.Kind != LatticeFlat || !math.IsNaN(f.Spacing) {
			t.Errorf("%s map: kind %s spacing %v", name, f.Kind, f.Spacing)
		}
	}
	f := FourierAnalyse(placeMap(n, 3, 8, 11), n, n, 0.05, DefaultFourierOptions)
	if f.Kind == LatticeHexagonal || f.Kind == LatticeSquare {
		t.Errorf("place field: kind %s", f.Kind)
	}
}

// TestFourierModules: mixtures of two and three modules (periods 0.5, 0.8
// and 1.3 m in 2 and 3 m arenas of 0.05 m bins, random phases, noise and
// missing bins) give back their modules; noise gives none.
func TestFourierModules(t *testing.T) {
	const bs = 0.05
	rng := rand.New(rand.NewPCG(7, 8))
	mix := func(n int, periods []float64, each int) [][]float64 {
		var maps [][]float64
		for k, p := range periods {
			maps = append(maps, moduleMaps(rng, n, each, p/bs, 10+17*float64(k))...)
		}
		return maps
	}
	cases := []struct {
		name    string
		n       int
		maps    [][]float64
		periods []float64
	}{
		{"two modules, 2 m", 40, mix(40, []float64{0.5, 0.8}, 12), []float64{0.5, 0.8}},
		{"three modules, 3 m", 60, mix(60, []float64{0.5, 0.8, 1.3}, 10), []float64{0.5, 0.8, 1.3}},
		{"one module, 1 m", 20, mix(20, []float64{0.35}, 10), []float64{0.35}},
	}
	var noise [][]float64
	for i := 0; i < 40; i++ {
		noise = append(noise, smoothNoise(40, []float64{1.5, 2.5, 4}[i%3], rng))
	}
	cases = append(cases, struct {
		name    string
		n       int
		maps    [][]float64
		periods []float64
	}{"smoothed noise", 40, noise, nil})
	for _, c := range cases {
		units := fourierMaps(c.maps, c.n, bs)
		rep := FourierModules(units, DefaultModuleOptions)
		hex := 0
		for _, u := range units {
			if u.Kind == LatticeHexagonal {
				hex++
			}
		}
		sac := DetectModules(scoreMaps(c.maps, c.n, ScorerBanino), DefaultModuleOptions)
		for i := range sac.Modules {
			sac.Modules[i].Period *= bs
		}
		cmp := CompareModules(rep, sac)
		t.Logf("%s: %d of %d hexagonal, %d Fourier modules, SAC method: %d; %s", c.name, hex, len(units), len(rep.Modules), len(sac.Modules), cmp.Note)
		if len(rep.Modules) != len(c.periods) {
			t.Errorf("%s: %d modules %+v, want periods %v", c.name, len(rep.Modules), rep.Modules, c.periods)
			continue
		}
		for i, m := range rep.Modules {
			if rel := math.Abs(m.Period-c.periods[i]) / c.periods[i]; rel > 0.05 {
				t.Errorf("%s: module %d period %.3f m, want %.3f", c.name, i, m.Period, c.periods[i])
			}
		}
		if c.periods == nil && hex > len(units)/10 {
			t.Errorf("noise: %d of %d maps hexagonal", hex, len(units))
		}
	}
}

func BenchmarkFourierAnalyse(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 80
	m := damage(hexMap(n, 9, 12, 0, 0), 0.4, 0.05, rng)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		FourierAnalyse(m, n, n, 0.05, DefaultFourierOptions)
	}
}

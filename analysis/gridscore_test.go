package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// hexMap is the sum of three plane waves whose wave vectors are 60 degrees
// apart: a hexagonal lattice with nearest-peak spacing period (bins), one
// lattice vector at orient degrees, and a peak at (px, py).
func hexMap(n int, period, orient, px, py float64) []float64 {
	k := 4 * math.Pi / (math.Sqrt(3) * period)
	m := make([]float64, n*n)
	for w := 0; w < 3; w++ {
		th := (orient + 30 + 60*float64(w)) * math.Pi / 180
		kx, ky := k*math.Cos(th), k*math.Sin(th)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				m[i*n+j] += math.Cos(kx*(float64(i)-px) + ky*(float64(j)-py))
			}
		}
	}
	return m
}

// squareMap is a square lattice of the given period and orientation.
func squareMap(n int, period, orient, px, py float64) []float64 {
	k := 2 * math.Pi / period
	m := make([]float64, n*n)
	for w := 0; w < 2; w++ {
		th := (orient + 90*float64(w)) * math.Pi / 180
		kx, ky := k*math.Cos(th), k*math.Sin(th)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				m[i*n+j] += math.Cos(kx*(float64(i)-px) + ky*(float64(j)-py))
			}
		}
	}
	return m
}

// placeMap is one Gaussian place field of width sigma bins at (px, py).
func placeMap(n int, sigma, px, py float64) []float64 {
	m := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			d2 := (float64(i)-px)*(float64(i)-px) + (float64(j)-py)*(float64(j)-py)
			m[i*n+j] = math.Exp(-d2 / (2 * sigma * sigma))
		}
	}
	return m
}

// smoothNoise is white noise blurred by a Gaussian of width sigma bins.
func smoothNoise(n int, sigma float64, rng *rand.Rand) []float64 {
	w := make([]float64, n*n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	m := make([]float64, n*n)
	R := int(3 * sigma)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s, ws float64
			for di := -R; di <= R; di++ {
				for dj := -R; dj <= R; dj++ {
					a, b := i+di, j+dj
					if a < 0 || a >= n || b < 0 || b >= n {
						continue
					}
					g := math.Exp(-float64(di*di+dj*dj) / (2 * sigma * sigma))
					s += g * w[a*n+b]
					ws += g
				}
			}
			m[i*n+j] = s / ws
		}
	}
	return m
}

// damage adds Gaussian noise of the given size (relative to the map's
// standard deviation) and removes a fraction of bins, in place.
func damage(m []float64, noise, missing float64, rng *rand.Rand) []float64 {
	var mu, ss float64
	for _, v := range m {
		mu += v
	}
	mu /= float64(len(m))
	for _, v := range m {
		ss += (v - mu) * (v - mu)
	}
	sd := math.Sqrt(ss / float64(len(m)))
	for i := range m {
		m[i] += noise * sd * rng.NormFloat64()
		if rng.Float64() < missing {
			m[i] = math.NaN()
		}
	}
	return m
}

// angleDiff60 is the distance between two orientations modulo 60 degrees.
func angleDiff60(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 60)
	return min(d, 60-d)
}

func TestGridScoreHexagonal(t *testing.T) {
	const n = 44
	rng := rand.New(rand.NewPCG(1, 2))
	sc := &Scorer{BinSize: 1}
	for _, period := range []float64{5, 7, 9.5, 13} {
		for _, orient := range []float64{0, 7, 23, 41, 58} {
			for _, cond := range []struct {
				name           string
				noise, missing float64
				min60          float64
			}{
				{"clean", 0, 0, 1.0},
				{"noisy", 0.5, 0, 0.5},
				{"missing", 0, 0.2, 0.5},
				{"noisy+missing", 0.5, 0.15, 0.5},
			} {
				px, py := rng.Float64()*period, rng.Float64()*period
				name := fmt.Sprintf("period%g/orient%g/%s", period, orient, cond.name)
				t.Run(name, func(t *testing.T) {
					m := damage(hexMap(n, period, orient, px, py), cond.noise, cond.missing, rng)
					s, _ := sc.Score(m, n, n)
					for _, g := range []struct {
						name     string
						s60, s90 float64
					}{{"banino", s.BaninoScore60, s.BaninoScore90}, {"rings", s.RingsScore60, s.RingsScore90}} {
						if !(g.s60 > cond.min60) {
							t.Errorf("%s score60 = %.3f, want > %.2f", g.name, g.s60, cond.min60)
						}
						if g.s60 <= g.s90 {
							t.Errorf("%s score60 %.3f not above score90 %.3f for a hexagonal map", g.name, g.s60, g.s90)
						}
					}
					if !(math.Abs(s.Scale-period) <= 1) {
						t.Errorf("scale = %.3f bins, want %.3f +- 1", s.Scale, period)
					}
					if !(angleDiff60(s.Orientation, orient) <= 3) {
						t.Errorf("orientation = %.2f deg, want %.2f +- 3", s.Orientation, orient)
					}
				})
			}
		}
	}
}

func TestGridScoreNonHexagonal(t *testing.T) {
	const n = 44
	rng := rand.New(rand.NewPCG(3, 4))
	sc := &Scorer{BinSize: 1}
	hex, _ := sc.Score(hexMap(n, 8, 10, 1, 2), n, n)
	type tc struct {
		name  string
		m     []float64
		check func(s Score) error
	}
	var cases []tc
	for _, period := range []float64{6, 9, 12} {
		for _, orient := range []float64{0, 20, 35} {
			cases = append(cases, tc{fmt.Sprintf("square/period%g/orient%g", period, orient),
				squareMap(n, period, orient, rng.Float64()*period, rng.Float64()*period),
				func(s Score) error {
					if !(s.Score90 > 1) {
						return fmt.Errorf("score90 = %.3f, want > 1", s.Score90)
					}
					if !(s.Score60 < hex.Score60-0.5) || !(s.Score60 < 0.3) {
						return fmt.Errorf("score60 = %.3f, want well below hexagonal %.3f and < 0.3", s.Score60, hex.Score60)
					}
					return nil
				}})
		}
	}
	low := func(s Score) error {
		if !(s.Score60 < 0.5) && !math.IsNaN(s.Score60) {
			return fmt.Errorf("score60 = %.3f, want < 0.5 (hexagonal: %.3f)", s.Score60, hex.Score60)
		}
		return nil
	}
	for i := 0; i < 8; i++ {
		sigma := []float64{1.5, 2.5, 4}[i%3]
		cases = append(cases, tc{fmt.Sprintf("smoothed-noise/%d/sigma%g", i, sigma), smoothNoise(n, sigma, rng), low})
	}
	for i := 0; i < 6; i++ {
		sigma := []float64{2, 4, 7}[i%3]
		cases = append(cases, tc{fmt.Sprintf("place-field/%d/sigma%g", i, sigma),
			placeMap(n, sigma, 5+rng.Float64()*(n-10), 5+rng.Float64()*(n-10)), low})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := sc.Score(c.m, n, n)
			// The checks look at Score60/Score90: once with each scorer's.
			for _, g := range []struct {
				name     string
				s60, s90 float64
			}{{"banino", s.BaninoScore60, s.BaninoScore90}, {"rings", s.RingsScore60, s.RingsScore90}} {
				s.Score60, s.Score90 = g.s60, g.s90
				if err := c.check(s); err != nil {
					t.Errorf("%s: %v", g.name, err)
				}
			}
		})
	}
}

func TestGridScoreUndefined(t *testing.T) {
	const n = 20
	nan := math.NaN()
	constant := make([]float64, n*n)
	missing := make([]float64, n*n)
	oneBin := make([]float64, n*n)
	for i := range constant {
		constant[i] = 3.5
		missing[i] = nan
		oneBin[i] = nan
	}
	oneBin[7] = 1
	constWithHoles := damage(append([]float64(nil), constant...), 0, 0.3, rand.New(rand.NewPCG(5, 6)))
	for _, c := range []struct {
		name string
		m    []float64
		nx   int
	}{
		{"constant", constant, n}, {"all-missing", missing, n}, {"one-bin", oneBin, n},
		{"constant-with-holes", constWithHoles, n}, {"tiny", []float64{1, 2, 3, 4}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{ScorerBanino, ScorerRings} {
				s, sac := (&Scorer{BinSize: 0.05, Method: method}).Score(c.m, c.nx, len(c.m)/c.nx)
				// The banino SAC of the 2x2 map is defined (no minimum
				// overlap); its first ring is empty, so its scores are not.
				if method == ScorerRings || c.name != "tiny" {
					for k, v := range sac {
						if !math.IsNaN(v) {
							t.Fatalf("%s: SAC[%d] = %g, want NaN (undefined)", method, k, v)
						}
					}
				}
				for name, v := range map[string]float64{"score60": s.Score60, "score90": s.Score90, "scale": s.Scale, "orientation": s.Orientation,
					"banino score60": s.BaninoScore60, "banino score90": s.BaninoScore90, "rings score60": s.RingsScore60, "rings score90": s.RingsScore90} {
					if !math.IsNaN(v) {
						t.Errorf("%s: %s = %g, want NaN (undefined)", method, name, v)
					}
				}
			}
		})
	}
}

// directSAC is the O(n^4) definition of SAC, to check the FFT version.
func directSAC(m []float64, nx, ny, minOverlap int) []float64 {
	sx, sy := 2*nx-1, 2*ny-1
	out := make([]float64, sx*sy)
	for dx := -(nx - 1); dx <= nx-1; dx++ {
		for dy := -(ny - 1); dy <= ny-1; dy++ {
			var a, b []float64
			for i := 0; i < nx; i++ {
				for j := 0; j < ny; j++ {
					i2, j2 := i+dx, j+dy
					if i2 < 0 || i2 >= nx || j2 < 0 || j2 >= ny {
						continue
					}
					u, v := m[i*ny+j], m[i2*ny+j2]
					if math.IsNaN(u) || math.IsNaN(v) {
						continue
					}
					a, b = append(a, u), append(b, v)
				}
			}
			out[(dx+nx-1)*sy+dy+ny-1] = pearson(a, b, minOverlap)
		}
	}
	return out
}

func pearson(a, b []float64, minN int) float64 {
	n := float64(len(a))
	if len(a) < max(minN, 2) {
		return math.NaN()
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	if saa <= 1e-20 || sbb <= 1e-20 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}

func TestSACMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		nx, ny     int
		missing    float64
		minOverlap int
	}{
		{5, 5, 0, 2}, {9, 7, 0.2, 3}, {16, 16, 0.3, 5}, {13, 20, 0.1, 20}, {24, 24, 0.5, 10},
	} {
		t.Run(fmt.Sprintf("%dx%d/missing%g/min%d", c.nx, c.ny, c.missing, c.minOverlap), func(t *testing.T) {
			m := make([]float64, c.nx*c.ny)
			for i := range m {
				m[i] = 10 + rng.NormFloat64() // offset tests the mean removal
				if rng.Float64() < c.missing {
					m[i] = math.NaN()
				}
			}
			got := SAC(m, c.nx, c.ny, c.minOverlap)
			want := directSAC(m, c.nx, c.ny, c.minOverlap)
			defined := 0
			for k := range want {
				g, w := got[k], want[k]
				if math.IsNaN(w) != math.IsNaN(g) {
					// Overlaps whose values are all but constant may fall
					// either side of the tolerance; only accept that for
					// tiny overlaps.
					t.Fatalf("lag index %d: FFT %g, direct %g", k, g, w)
				}
				if !math.IsNaN(w) {
					defined++
					if math.Abs(g-w) > 1e-9 {
						t.Fatalf("lag index %d: FFT %.12f, direct %.12f", k, g, w)
					}
				}
			}
			if defined == 0 {
				t.Fatal("no defined lags: test is vacuous")
			}
			centre := (c.nx-1)*(2*c.ny-1) + c.ny - 1
			if math.Abs(got[centre]-1) > 1e-12 {
				t.Errorf("SAC at zero lag = %g, want 1", got[centre])
			}
		})
	}
}

func BenchmarkSAC(b *testing.B) {
	for _, n := range []int{20, 40, 80} {
		m := damage(hexMap(n, 7, 10, 0, 0), 0.2, 0.05, rand.New(rand.NewPCG(1, 1)))
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			for b.Loop() {
				SAC(m, n, n, DefaultMinOverlap)
			}
		})
	}
}

func BenchmarkGridScore(b *testing.B) {
	for _, n := range []int{20, 40, 80} {
		m := damage(hexMap(n, 7, 10, 0, 0), 0.2, 0.05, rand.New(rand.NewPCG(1, 1)))
		sc := &Scorer{BinSize: 0.05}
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			for b.Loop() {
				sc.Score(m, n, n)
			}
		})
	}
}

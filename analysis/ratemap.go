package analysis

import (
	"math"
	"sort"
)

// Binning divides the square arena [-L/2, L/2]^2 into NB by NB bins.
type Binning struct {
	L  float64 // arena side, m
	NB int     // bins per side
}

// NewBinning bins an arena of side L with about binsPerMetre bins per
// metre; the bin count is rounded so that the bins tile the arena exactly.
func NewBinning(L float64, binsPerMetre int) Binning {
	return Binning{L: L, NB: max(1, int(math.Round(L*float64(binsPerMetre))))}
}

// BinSize is the side of one bin, m.
func (b Binning) BinSize() float64 { return b.L / float64(b.NB) }

// Index is the bin of position (x, y): ix*NB + iy. Points on or beyond the
// arena edge go to the edge bins.
func (b Binning) Index(x, y float64) int {
	s := float64(b.NB) / b.L
	ix := int(math.Floor((x + b.L/2) * s))
	iy := int(math.Floor((y + b.L/2) * s))
	ix = max(0, min(b.NB-1, ix))
	iy = max(0, min(b.NB-1, iy))
	return ix*b.NB + iy
}

// Centre is the position of the centre of bin (ix, iy).
func (b Binning) Centre(ix, iy int) (x, y float64) {
	bs := b.BinSize()
	return -b.L/2 + (float64(ix)+0.5)*bs, -b.L/2 + (float64(iy)+0.5)*bs
}

// Accumulator sums the activation of N units per spatial bin.
type Accumulator struct {
	N     int
	Bins  Binning
	Sum   []float64 // [bin][unit]: bin-major, so adding one state touches one contiguous row
	Count []int64   // [bin]
	// Statistics for the coverage report.
	Samples   int64
	Outside   int64   // positions outside the arena (should stay 0)
	MaxAbs    float64 // largest |x| or |y| seen, m
	PathLen   float64 // total path length, m
	Steps     int64
	ZeroState int64 // states that are the all-zero vector (NormReLU below threshold)
}

// NewAccumulator returns an empty accumulator for N units.
func NewAccumulator(N int, b Binning) *Accumulator {
	nb := b.NB * b.NB
	return &Accumulator{N: N, Bins: b, Sum: make([]float64, nb*N), Count: make([]int64, nb)}
}

// Add bins k samples: positions pos ([k][2]) with states ([k][N]).
func (a *Accumulator) Add(pos []float64, states []float32) {
	N := a.N
	half := a.Bins.L / 2
	for s := 0; s*2 < len(pos); s++ {
		x, y := pos[2*s], pos[2*s+1]
		ax, ay := math.Abs(x), math.Abs(y)
		a.MaxAbs = max(a.MaxAbs, ax, ay)
		if ax > half*(1+1e-9) || ay > half*(1+1e-9) {
			a.Outside++
		}
		k := a.Bins.Index(x, y)
		a.Count[k]++
		row := a.Sum[k*N : (k+1)*N]
		zero := true
		for u, v := range states[s*N : (s+1)*N] {
			row[u] += float64(v)
			if v != 0 {
				zero = false
			}
		}
		if zero {
			a.ZeroState++
		}
		a.Samples++
	}
}

// Merge adds b's sums into a; both must bin the same arena.
func (a *Accumulator) Merge(b *Accumulator) {
	for i, v := range b.Sum {
		a.Sum[i] += v
	}
	for i, v := range b.Count {
		a.Count[i] += v
	}
	a.Samples += b.Samples
	a.Outside += b.Outside
	a.MaxAbs = max(a.MaxAbs, b.MaxAbs)
	a.PathLen += b.PathLen
	a.Steps += b.Steps
	a.ZeroState += b.ZeroState
}

// Reset empties a, keeping its buffers.
func (a *Accumulator) Reset() {
	clear(a.Sum)
	clear(a.Count)
	a.Samples, a.Outside, a.MaxAbs, a.PathLen, a.Steps, a.ZeroState = 0, 0, 0, 0, 0, 0
}

// Ratemaps returns the mean activation per bin, unit-major [N][NB*NB]
// (ix*NB+iy within a map), NaN where a bin was never visited.
func (a *Accumulator) Ratemaps() []float64 {
	nb := a.Bins.NB * a.Bins.NB
	out := make([]float64, a.N*nb)
	for k := 0; k < nb; k++ {
		c := a.Count[k]
		for u := 0; u < a.N; u++ {
			if c == 0 {
				out[u*nb+k] = math.NaN()
			} else {
				out[u*nb+k] = a.Sum[k*a.N+u] / float64(c)
			}
		}
	}
	return out
}

// Coverage summarises how well the walks covered an arena.
type Coverage struct {
	Samples         int64   `json:"samples"`
	Bins            int     `json:"bins"`
	VisitedFraction float64 `json:"visited_fraction"`
	MinVisits       int64   `json:"min_visits"`    // over all bins, 0 if any bin was missed
	MedianVisits    float64 `json:"median_visits"` // over all bins
	MaxVisits       int64   `json:"max_visits"`
	SparseFraction  float64 `json:"sparse_fraction"` // bins with fewer than 5 visits
	OutsideSamples  int64   `json:"outside_samples"`
	MaxAbsCoord     float64 `json:"max_abs_coord_m"`
	MeanSpeed       float64 `json:"mean_speed_m_per_s"`
	ZeroStates      int64   `json:"zero_states"` // states where NormReLU returned the zero vector
}

// Coverage reports the visit statistics; dt converts steps to seconds.
func (a *Accumulator) Coverage(dt float64) Coverage {
	c := Coverage{Samples: a.Samples, Bins: len(a.Count), OutsideSamples: a.Outside, MaxAbsCoord: a.MaxAbs, ZeroStates: a.ZeroState}
	v := make([]float64, len(a.Count))
	visited, sparse := 0, 0
	c.MinVisits = math.MaxInt64
	for i, n := range a.Count {
		v[i] = float64(n)
		if n > 0 {
			visited++
		}
		if n < 5 {
			sparse++
		}
		c.MinVisits = min(c.MinVisits, n)
		c.MaxVisits = max(c.MaxVisits, n)
	}
	sort.Float64s(v)
	if len(v) > 0 {
		c.MedianVisits = median(v)
		c.VisitedFraction = float64(visited) / float64(len(v))
		c.SparseFraction = float64(sparse) / float64(len(v))
	}
	if a.Steps > 0 && dt > 0 {
		c.MeanSpeed = a.PathLen / (float64(a.Steps) * dt)
	}
	return c
}

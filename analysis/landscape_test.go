package analysis

import (
	"math"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// argmaxNear searches f over a grid of step h within radius r of (cx, cy)
// and returns where it is largest and its value there.
func argmaxNear(f func(x, y float64) float64, cx, cy, r, h float64) (x, y, v float64) {
	v = math.Inf(-1)
	for dx := -r; dx <= r; dx += h {
		for dy := -r; dy <= r; dy += h {
			if w := f(cx+dx, cy+dy); w > v {
				x, y, v = cx+dx, cy+dy, w
			}
		}
	}
	return x, y, v
}

// A hexagonal unit's ratemap peaks at its phase and at the phase moved by
// a lattice vector of length period along orientation + 30 and + 90
// degrees, as a triangular lattice of that spacing does; halfway between
// two peaks it does not.
func TestLandscapeHexagonalPeaks(t *testing.T) {
	for _, o := range []float64{0, 15} {
		const period = 0.6
		c, err := NewGridCode(CodeSpec{Family: FamilyHexagonal, Period: period, Threshold: 0, Orientation: o}, 16)
		if err != nil {
			t.Fatal(err)
		}
		rad := math.Pi / 180
		for _, u := range []int{0, 5, 11} {
			p := c.Phase(u)
			f := func(x, y float64) float64 { return c.Field(u, x, y) }
			// Written out here rather than taken from c.Lattice, so that a
			// wrong lattice in the code cannot agree with itself.
			for _, at := range [][2]float64{
				{p[0], p[1]},
				{p[0] + period*math.Cos((o+30)*rad), p[1] + period*math.Sin((o+30)*rad)},
				{p[0] + period*math.Cos((o+90)*rad), p[1] + period*math.Sin((o+90)*rad)},
				{p[0] - 2*period*math.Cos((o+150)*rad), p[1] - 2*period*math.Sin((o+150)*rad)},
			} {
				x, y, v := argmaxNear(f, at[0], at[1], 0.35*period, period/200)
				if math.Hypot(x-at[0], y-at[1]) > period/100 || math.Abs(v-1) > 1e-3 {
					t.Errorf("orientation %g, unit %d: the field near (%.3f, %.3f) peaks at (%.3f, %.3f) with %.4f, want there with 1", o, u, at[0], at[1], x, y, v)
				}
			}
			mid := [2]float64{p[0] + period/2*math.Cos((o+30)*rad), p[1] + period/2*math.Sin((o+30)*rad)}
			if v := f(mid[0], mid[1]); v > 0 {
				t.Errorf("orientation %g, unit %d: field %.3f halfway between two peaks, want <= 0", o, u, v)
			}
		}
		for _, a := range c.Lattice(0) {
			if l := math.Hypot(a[0], a[1]); math.Abs(l-period) > 1e-12 {
				t.Errorf("lattice vector %v has length %g, want the period %g", a, l, period)
			}
		}
	}
}

// A square unit peaks on the square lattice of side period along the
// orientation.
func TestLandscapeSquarePeaks(t *testing.T) {
	const period, o = 0.5, 15.0
	c, err := NewGridCode(CodeSpec{Family: FamilySquare, Period: period, Orientation: o}, 9)
	if err != nil {
		t.Fatal(err)
	}
	p, rad := c.Phase(4), math.Pi/180
	f := func(x, y float64) float64 { return c.Field(4, x, y) }
	for _, d := range []float64{0, 90} {
		at := [2]float64{p[0] + period*math.Cos((o+d)*rad), p[1] + period*math.Sin((o+d)*rad)}
		if x, y, v := argmaxNear(f, at[0], at[1], 0.3*period, period/200); math.Hypot(x-at[0], y-at[1]) > period/100 || math.Abs(v-1) > 1e-3 {
			t.Errorf("field near %v peaks at (%.3f, %.3f) with %.4f", at, x, y, v)
		}
	}
	// The diagonal half-way point is a trough of a square lattice.
	at := [2]float64{p[0] + period/2*(math.Cos(o*rad)+math.Cos((o+90)*rad)), p[1] + period/2*(math.Sin(o*rad)+math.Sin((o+90)*rad))}
	if v := f(at[0], at[1]); math.Abs(v+1) > 1e-9 {
		t.Errorf("field at the cell centre %.4f, want -1", v)
	}
}

// Modules split the units evenly, their periods grow by the ratio, and the
// phases of a module are distinct and spread over its cell.
func TestLandscapeModulesAndPhases(t *testing.T) {
	c, err := NewGridCode(CodeSpec{Family: FamilyModules3, Period: 0.4, Ratio: 1.5}, 64)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for i := 0; i < 64; i++ {
		count[c.Module(i)]++
	}
	if count[0] != 22 || count[1] != 21 || count[2] != 21 {
		t.Errorf("module sizes %v, want 22, 21, 21", count)
	}
	for m, want := range []float64{0.4, 0.6, 0.9} {
		a := c.Lattice(m)[0]
		if l := math.Hypot(a[0], a[1]); math.Abs(l-want) > 1e-12 {
			t.Errorf("module %d: period %g, want %g", m, l, want)
		}
	}
	// 64 phases on one hexagonal cell of area (sqrt(3)/2) period^2: a
	// perfect triangular arrangement would space them period/8 apart;
	// the rank-1 lattice must come close.
	h, _ := NewGridCode(CodeSpec{Family: FamilyHexagonal, Period: 1}, 64)
	a := h.Lattice(0)
	minD := math.Inf(1)
	for i := 0; i < 64; i++ {
		for j := 0; j < i; j++ {
			pi, pj := h.Phase(i), h.Phase(j)
			for di := -1.0; di <= 1; di++ {
				for dj := -1.0; dj <= 1; dj++ {
					dx := pi[0] - pj[0] + di*a[0][0] + dj*a[1][0]
					dy := pi[1] - pj[1] + di*a[0][1] + dj*a[1][1]
					minD = min(minD, math.Hypot(dx, dy))
				}
			}
		}
	}
	if minD < 0.8/8 {
		t.Errorf("closest two of 64 phases are %.4f apart, want near 1/8", minD)
	}
}

// States follow the microbatch's positions: g_{b,0} is the state at the
// origin, and each row is unit-norm or zero.
func TestLandscapeStatesLayout(t *testing.T) {
	s, _ := data.NewSampler(1, 3, 5, data.AugmentPermute, 0.15)
	b := s.Next()
	c, _ := NewGridCode(CodeSpec{Family: FamilyModules2, Period: 0.5, Ratio: 1.4, Threshold: 0.25}, 10)
	st := c.States(b)
	if len(st) != 3*6*10 {
		t.Fatalf("%d state values, want %d", len(st), 3*6*10)
	}
	pos := b.Positions()
	ys := make([]float64, 10)
	want := make([]float32, 10)
	for bi := 0; bi < 3; bi++ {
		for tt := 0; tt <= 5; tt++ {
			var x, y float64
			if tt > 0 {
				x, y = float64(pos[(bi*5+tt-1)*2]), float64(pos[(bi*5+tt-1)*2+1])
			}
			c.state(x, y, want, ys)
			row := st[(bi*6+tt)*10 : (bi*6+tt+1)*10]
			var ss float64
			for i, v := range row {
				ss += float64(v) * float64(v)
				if v != want[i] {
					t.Fatalf("b %d t %d: state %v, want %v", bi, tt, row, want)
				}
				// The state is Norm-ReLU of the field less the threshold.
				if f := c.Field(i, x, y) - 0.25; (f > 0) != (v > 0) {
					t.Fatalf("b %d t %d unit %d: field less threshold %g, state %g", bi, tt, i, f, v)
				}
			}
			if ss != 0 && math.Abs(ss-1) > 1e-6 {
				t.Errorf("b %d t %d: squared norm %g", bi, tt, ss)
			}
		}
	}
}

// ScoreCodes averages LossOfStates over the microbatches, and a setting
// that differs only in its weights gets the same terms.
func TestLandscapeScoreCodes(t *testing.T) {
	s, _ := data.NewSampler(2, 4, 6, data.AugmentPermute, 0.15)
	batches := []*data.Batch{s.Next(), s.Next()}
	codes := []CodeSpec{{Family: FamilyHexagonal, Period: 0.4}, {Family: FamilySquare, Period: 0.7, Threshold: 0.5, Orientation: 15}}
	lc := graph.PaperLoss()
	noCap := lc
	noCap.LambdaCap = 0
	got, err := ScoreCodes(codes, 12, batches, []graph.LossConfig{lc, noCap}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, spec := range codes {
		c, _ := NewGridCode(spec, 12)
		var ls []graph.Losses
		for _, b := range batches {
			l, err := graph.LossOfStates(4, 6, 12, c.States(b), b, lc)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		want := graph.MeanLosses(ls)
		if d := math.Abs(got[i][0].Total - want.Total); d > 1e-12 {
			t.Errorf("%s: total %g, LossOfStates %g", spec, got[i][0].Total, want.Total)
		}
		if w := got[i][0].Total - lc.LambdaCap*got[i][0].Term[graph.Cap]; got[i][1].Term != got[i][0].Term || math.Abs(got[i][1].Total-w) > 1e-12 {
			t.Errorf("%s: lambda_cap 0 gives %+v, 0.5 %+v", spec, got[i][1], got[i][0])
		}
	}
	best := BestPerFamily(codes, []graph.Losses{got[0][0], got[1][0]})
	if len(best) != 2 || best[0].Losses.Total > best[1].Losses.Total {
		t.Errorf("BestPerFamily %+v", best)
	}
}

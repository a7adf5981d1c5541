package analysis

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/reference"
)

// The loss landscape over idealised grid codes: states made by formula
// instead of by a network, scored under a loss setting by the code that
// training runs (graph.LossOfStates), so that the families of codes a loss
// setting prefers can be read off without training.
//
// Each unit i has a phase p_i and a field
//
//	f_i(x) = (1/K) sum_k cos(k_k . (x - p_i))
//
// over the K wave vectors of its module, and the state at x is
// g(x) = NormReLU(f(x) - threshold), as the network's states are
// Norm-ReLU of a linear map. A hexagonal module has K = 3 wave vectors of
// length 4 pi / (sqrt(3) period) at phi, phi+60 and phi+120 degrees: f_i
// peaks (at 1) on the triangular lattice of spacing period through p_i,
// whose rows run at phi+30 and phi+90 degrees, and dips to -1/2. A square
// module has K = 2 wave vectors of length 2 pi / period at phi and phi+90:
// peaks on the square lattice of side period along phi and phi+90, dips to
// -1. The threshold sets how many units are active at each place, from all
// of them (threshold at or below the field's minimum: a dense code) to a few
// near their peaks.

// The code families.
const (
	FamilyHexagonal = "hexagonal" // one hexagonal module
	FamilySquare    = "square"    // one square module
	FamilyModules2  = "modules-2" // two hexagonal modules, periods period and period*ratio
	FamilyModules3  = "modules-3" // three hexagonal modules, periods period, period*ratio, period*ratio^2
)

// CodeFamilies lists the families in the order the landscape reports them.
var CodeFamilies = []string{FamilyHexagonal, FamilySquare, FamilyModules2, FamilyModules3}

// LandscapeOrientations are the orientations (degrees) every code is
// evaluated at. The losses depend on orientation only through the square
// symmetry of the training data (velocity components uniform in a square)
// and the finite sample of positions, so it moves them by little; 0 and
// one orientation in between (15 degrees: halfway to the hexagonal
// lattice's mirror at 30, and to the square lattice's at 45) show how
// much.
var LandscapeOrientations = []float64{0, 15}

// CodeSpec is one idealised code.
type CodeSpec struct {
	Family string `json:"family"`
	// Period in metres: the lattice spacing (distance between neighbouring
	// peaks) of the only module, or of the first module.
	Period float64 `json:"period"`
	// Ratio between the periods of consecutive modules (module m has
	// Period * Ratio^m); 0 for the single-module families.
	Ratio float64 `json:"ratio"`
	// Threshold subtracted from the field before Norm-ReLU.
	Threshold float64 `json:"threshold"`
	// Orientation in degrees, counter-clockwise from +x: the angle of the
	// first wave vector of the first module (a hexagonal module's peaks
	// then lie along Orientation + 30). Module m is turned by a further
	// m * 60/M degrees, spreading the M modules' orientations evenly over
	// the hexagonal lattice's 60-degree symmetry.
	Orientation float64 `json:"orientation"`
}

// String names the code in a few words.
func (s CodeSpec) String() string {
	r := ""
	if s.Ratio != 0 {
		r = fmt.Sprintf(" ratio %g", s.Ratio)
	}
	return fmt.Sprintf("%s period %g m%s threshold %g orientation %g", s.Family, s.Period, r, s.Threshold, s.Orientation)
}

// familyModules returns a family's module count and whether it is square.
func familyModules(family string) (modules int, square bool, ok bool) {
	switch family {
	case FamilyHexagonal:
		return 1, false, true
	case FamilySquare:
		return 1, true, true
	case FamilyModules2:
		return 2, false, true
	case FamilyModules3:
		return 3, false, true
	}
	return 0, false, false
}

// IsCodeFamily reports whether name is one of CodeFamilies.
func IsCodeFamily(name string) bool {
	_, _, ok := familyModules(name)
	return ok
}

// FamilyModuleCount is the number of modules of a family's codes (0 for
// an unknown family): the fewest units its codes need.
func FamilyModuleCount(name string) int {
	m, _, _ := familyModules(name)
	return m
}

// GridCode is a CodeSpec made concrete for N units: each unit's module,
// phase and wave vectors.
type GridCode struct {
	Spec CodeSpec
	N    int
	// per module
	waves   [][][2]float64 // wave vectors
	lattice [][2][2]float64
	// per unit
	module []int
	phase  [][2]float64
	// cos and sin of k . p for each of the unit's wave vectors, so that
	// cos(k.x - k.p) = cos(k.x) cos(k.p) + sin(k.x) sin(k.p) costs no
	// trigonometry per unit and place.
	cp, sp [][]float64
}

// NewGridCode builds the code of spec for N units. The units are split
// into the family's modules as evenly as N allows (the first modules take
// the remainder); the phases of one module's n units form the regular
// lattice of n points on the module's unit cell that spreads them most
// evenly (see cellPhases), so that every place is covered alike.
func NewGridCode(spec CodeSpec, N int) (*GridCode, error) {
	M, square, ok := familyModules(spec.Family)
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown code family %q: choose from %v", spec.Family, CodeFamilies)
	case N < M:
		return nil, fmt.Errorf("%s needs at least %d units, have %d", spec.Family, M, N)
	case !(spec.Period > 0) || math.IsInf(spec.Period, 0):
		return nil, fmt.Errorf("period %g: must be a positive number of metres", spec.Period)
	case M > 1 && (!(spec.Ratio > 0) || math.IsInf(spec.Ratio, 0)):
		return nil, fmt.Errorf("period ratio %g: must be a positive number", spec.Ratio)
	case math.IsNaN(spec.Threshold) || math.IsInf(spec.Threshold, 0) || math.IsNaN(spec.Orientation) || math.IsInf(spec.Orientation, 0):
		return nil, fmt.Errorf("threshold %g and orientation %g must be finite", spec.Threshold, spec.Orientation)
	}
	c := &GridCode{Spec: spec, N: N}
	rad := math.Pi / 180
	for m := 0; m < M; m++ {
		period := spec.Period * math.Pow(spec.Ratio, float64(m))
		phi := (spec.Orientation + float64(m)*60/float64(M)) * rad
		var waves [][2]float64
		var a [2][2]float64
		if square {
			k := 2 * math.Pi / period
			for _, d := range []float64{0, 90} {
				waves = append(waves, [2]float64{k * math.Cos(phi+d*rad), k * math.Sin(phi+d*rad)})
			}
			a = [2][2]float64{
				{period * math.Cos(phi), period * math.Sin(phi)},
				{period * math.Cos(phi+90*rad), period * math.Sin(phi+90*rad)},
			}
		} else {
			k := 4 * math.Pi / (math.Sqrt(3) * period)
			for _, d := range []float64{0, 60, 120} {
				waves = append(waves, [2]float64{k * math.Cos(phi+d*rad), k * math.Sin(phi+d*rad)})
			}
			// k_j . a_i is 0 or 2 pi for every pair: the peaks' lattice.
			a = [2][2]float64{
				{period * math.Cos(phi+30*rad), period * math.Sin(phi+30*rad)},
				{period * math.Cos(phi+90*rad), period * math.Sin(phi+90*rad)},
			}
		}
		c.waves = append(c.waves, waves)
		c.lattice = append(c.lattice, a)
		n := N / M
		if m < N%M {
			n++
		}
		for _, uv := range cellPhases(n, a) {
			p := [2]float64{uv[0]*a[0][0] + uv[1]*a[1][0], uv[0]*a[0][1] + uv[1]*a[1][1]}
			cp, sp := make([]float64, len(waves)), make([]float64, len(waves))
			for j, k := range waves {
				cp[j], sp[j] = math.Cos(k[0]*p[0]+k[1]*p[1]), math.Sin(k[0]*p[0]+k[1]*p[1])
			}
			c.module = append(c.module, m)
			c.phase = append(c.phase, p)
			c.cp, c.sp = append(c.cp, cp), append(c.sp, sp)
		}
	}
	return c, nil
}

// cellPhases returns n points (u, v) in [0,1)^2, the coordinates of phases
// in the lattice basis a: the rank-1 lattice k/n * (1, g) mod 1, k = 0..n-1,
// with the g that maximises the smallest distance between two phases on
// the torus of the unit cell (the smallest g of the ties). Every n gets a
// regular grid of exactly n phases, as uniform as n allows (for n = 64 on a
// hexagonal cell, a nearly hexagonal arrangement).
func cellPhases(n int, a [2][2]float64) [][2]float64 {
	torusNorm := func(u, v float64) float64 {
		best := math.Inf(1)
		for i := -1; i <= 1; i++ {
			for j := -1; j <= 1; j++ {
				x := (u-float64(i))*a[0][0] + (v-float64(j))*a[1][0]
				y := (u-float64(i))*a[0][1] + (v-float64(j))*a[1][1]
				best = min(best, math.Hypot(x, y))
			}
		}
		return best
	}
	frac := func(x float64) float64 { return x - math.Floor(x) }
	bestG, bestD := 0, -1.0
	for g := 1; g < max(n, 2); g++ {
		// The points form a group: the smallest distance between two of
		// them is the smallest norm of a non-zero one.
		d := math.Inf(1)
		for k := 1; k < n; k++ {
			d = min(d, torusNorm(float64(k)/float64(n), frac(float64(k*g)/float64(n))))
		}
		if d > bestD+1e-12 {
			bestG, bestD = g, d
		}
	}
	out := make([][2]float64, n)
	for k := range out {
		out[k] = [2]float64{float64(k) / float64(n), frac(float64(k*bestG) / float64(n))}
	}
	return out
}

// Phase returns unit i's phase (metres): where its field peaks.
func (c *GridCode) Phase(i int) [2]float64 { return c.phase[i] }

// Module returns the module of unit i.
func (c *GridCode) Module(i int) int { return c.module[i] }

// Lattice returns the two lattice vectors of module m (metres): the field
// of each unit of the module is periodic along both.
func (c *GridCode) Lattice(m int) [2][2]float64 { return c.lattice[m] }

// Field returns f_i(x, y), unit i's field before the threshold, in [-1, 1].
func (c *GridCode) Field(i int, x, y float64) float64 {
	var f float64
	for _, k := range c.waves[c.module[i]] {
		f += math.Cos(k[0]*(x-c.phase[i][0]) + k[1]*(y-c.phase[i][1]))
	}
	return f / float64(len(c.waves[c.module[i]]))
}

// state writes g(x, y) = NormReLU(f(x, y) - threshold) into g (N values),
// using ys (N values) as scratch.
func (c *GridCode) state(x, y float64, g []float32, ys []float64) {
	var cx, sx [3][3]float64 // per module, per wave: cos and sin of k . x
	for m, waves := range c.waves {
		for j, k := range waves {
			cx[m][j], sx[m][j] = math.Cos(k[0]*x+k[1]*y), math.Sin(k[0]*x+k[1]*y)
		}
	}
	for i := range ys {
		m := c.module[i]
		var f float64
		for j := range c.waves[m] {
			f += cx[m][j]*c.cp[i][j] + sx[m][j]*c.sp[i][j]
		}
		ys[i] = f/float64(len(c.waves[m])) - c.Spec.Threshold
	}
	// NormReLU as the network's recurrence computes it (the reference's
	// zero threshold), without a slice per state.
	var ss float64
	for _, v := range ys {
		if v > 0 {
			ss += v * v
		}
	}
	n := math.Sqrt(ss)
	for i, v := range ys {
		if v > 0 && n > reference.ZeroNorm {
			g[i] = float32(v / n)
		} else {
			g[i] = 0
		}
	}
}

// States returns the code's states along the microbatch's trajectories in
// the layout of graph.LossOfStates: row b*(T+1)+t holds g at x_{b,t}, the
// position b.Positions() gives (the origin for t = 0).
func (c *GridCode) States(b *data.Batch) []float32 {
	N, T := c.N, b.T
	s := make([]float32, b.B*(T+1)*N)
	pos := b.Positions()
	ys := make([]float64, N)
	for bi := 0; bi < b.B; bi++ {
		for t := 0; t <= T; t++ {
			var x, y float64
			if t > 0 {
				x, y = float64(pos[(bi*T+t-1)*2]), float64(pos[(bi*T+t-1)*2+1])
			}
			r := bi*(T+1) + t
			c.state(x, y, s[r*N:(r+1)*N], ys)
		}
	}
	return s
}

// LandscapeCodes lists the codes of a sweep: for each family in order,
// every period, threshold and orientation (LandscapeOrientations), and for
// the module families every ratio too.
func LandscapeCodes(families []string, periods, ratios, thresholds []float64) ([]CodeSpec, error) {
	var out []CodeSpec
	for _, f := range families {
		M, _, ok := familyModules(f)
		if !ok {
			return nil, fmt.Errorf("unknown code family %q: choose from %v", f, CodeFamilies)
		}
		rs := []float64{0}
		if M > 1 {
			rs = ratios
		}
		for _, p := range periods {
			for _, r := range rs {
				for _, th := range thresholds {
					for _, o := range LandscapeOrientations {
						out = append(out, CodeSpec{Family: f, Period: p, Ratio: r, Threshold: th, Orientation: o})
					}
				}
			}
		}
	}
	return out, nil
}

// termKey is a loss setting with its weights zeroed: the settings that
// share one give the same unweighted terms on the same states.
func termKey(lc graph.LossConfig) graph.LossConfig {
	for _, s := range graph.TermSpecs {
		*s.Weight(&lc) = 0
	}
	return lc
}

// ScoreCodes evaluates every code on every microbatch under every loss
// setting: out[i][j] is the mean over the microbatches of the losses of
// codes[i] under lcs[j], for N units. The states of a code and microbatch
// are made once, and the terms computed once per distinct setting of the
// scales, reduction and conformal-isometry window (weights only change the
// total). progress, if not nil, is called after each code (from several
// goroutines, never at once).
func ScoreCodes(codes []CodeSpec, N int, batches []*data.Batch, lcs []graph.LossConfig, progress func(done, total int)) ([][]graph.Losses, error) {
	grids := make([]*GridCode, len(codes))
	for i, spec := range codes {
		g, err := NewGridCode(spec, N)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		grids[i] = g
	}
	out := make([][]graph.Losses, len(codes))
	errs := make([]error, len(codes))
	var (
		mu   sync.Mutex
		done int
	)
	// Codes are independent: each result depends on its code only, so the
	// order they finish in does not matter.
	graph.ParallelFor(len(codes), func(i int) {
		out[i], errs[i] = scoreStates(N, batches, lcs, func(_ int, b *data.Batch) []float32 { return grids[i].States(b) })
		if progress != nil {
			mu.Lock()
			done++
			progress(done, len(codes))
			mu.Unlock()
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", codes[i], err)
		}
	}
	return out, nil
}

// ScoreStates is ScoreCodes for given states, states[k] those of
// batches[k] in graph.LossOfStates's layout (a trained network's, for
// comparison with the codes).
func ScoreStates(states [][]float32, N int, batches []*data.Batch, lcs []graph.LossConfig) ([]graph.Losses, error) {
	if len(states) != len(batches) {
		return nil, fmt.Errorf("%d sets of states for %d microbatches", len(states), len(batches))
	}
	return scoreStates(N, batches, lcs, func(k int, _ *data.Batch) []float32 { return states[k] })
}

// scoreStates averages the losses of the states statesOf(k, batches[k])
// over the batches, for each loss setting.
func scoreStates(N int, batches []*data.Batch, lcs []graph.LossConfig, statesOf func(k int, b *data.Batch) []float32) ([]graph.Losses, error) {
	keys := map[graph.LossConfig]int{}
	var uniq []graph.LossConfig
	for _, lc := range lcs {
		k := termKey(lc)
		if _, ok := keys[k]; !ok {
			keys[k] = len(uniq)
			uniq = append(uniq, k)
		}
	}
	per := make([][]graph.Losses, len(lcs)) // per setting, per microbatch
	for k, b := range batches {
		s := statesOf(k, b)
		terms := make([]graph.Losses, len(uniq))
		for u, k := range uniq {
			l, err := graph.LossOfStates(b.B, b.T, N, s, b, k)
			if err != nil {
				return nil, err
			}
			terms[u] = l
		}
		for j, lc := range lcs {
			l := terms[keys[termKey(lc)]]
			l.Total = l.Weighted(lc)
			per[j] = append(per[j], l)
		}
	}
	out := make([]graph.Losses, len(lcs))
	for j := range out {
		out[j] = graph.MeanLosses(per[j])
	}
	return out, nil
}

// CodeScore is a code and its losses.
type CodeScore struct {
	Code   CodeSpec
	Losses graph.Losses
}

// BestPerFamily returns, for each family that has codes, its code of the
// lowest total loss (losses[i] belongs to codes[i]), ranked by that total,
// lowest first. Codes whose total is not finite are passed over; a family
// with no finite total is left out.
func BestPerFamily(codes []CodeSpec, losses []graph.Losses) []CodeScore {
	best := map[string]int{}
	var order []string
	for i, c := range codes {
		t := losses[i].Total
		if math.IsNaN(t) || math.IsInf(t, 0) {
			continue
		}
		j, ok := best[c.Family]
		if !ok {
			order = append(order, c.Family)
		}
		if !ok || t < losses[j].Total {
			best[c.Family] = i
		}
	}
	var out []CodeScore
	for _, f := range order {
		out = append(out, CodeScore{Code: codes[best[f]], Losses: losses[best[f]]})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Losses.Total < out[b].Losses.Total })
	return out
}

// NetworkStates runs the network p along the microbatch's trajectories
// (graph.ForwardStates) and returns its states in graph.LossOfStates's
// layout: g_{b,0} = NormReLU(G0) in row b*(T+1), then g_{b,1..T}.
func NetworkStates(p *graph.Params, b *data.Batch) ([]float32, error) {
	st, err := graph.ForwardStates(p, b.Vel, b.B, b.T)
	if err != nil {
		return nil, err
	}
	N, T := p.N, b.T
	g0, _ := reference.NormReLU(reference.F64(p.G0))
	s := make([]float32, b.B*(T+1)*N)
	for bi := 0; bi < b.B; bi++ {
		for i, v := range g0 {
			s[bi*(T+1)*N+i] = float32(v)
		}
		copy(s[(bi*(T+1)+1)*N:(bi+1)*(T+1)*N], st[bi*T*N:(bi+1)*T*N])
	}
	return s, nil
}

// PhaseDiagram is the loss landscape over a grid of two loss settings: in
// each cell, every family's best code under that cell's setting.
type PhaseDiagram struct {
	XKey, YKey       string    // the swept settings' config paths, e.g. "loss.sigma_g"
	XValues, YValues []float64 // their values, one column or row each
	// Cells[iy][ix] is the cell at XValues[ix], YValues[iy].
	Cells [][]PhaseCell
}

// PhaseCell is one cell of a PhaseDiagram.
type PhaseCell struct {
	X, Y float64
	// Best holds each family's best code, lowest total first
	// (BestPerFamily).
	Best []CodeScore
}

// Winner returns the family of the lowest total ("" when none has a finite
// total).
func (c PhaseCell) Winner() string {
	if len(c.Best) == 0 {
		return ""
	}
	return c.Best[0].Code.Family
}

// Margin returns the runner-up's total less the winner's: how clearly the
// winner wins (NaN with fewer than two families).
func (c PhaseCell) Margin() float64 {
	if len(c.Best) < 2 {
		return math.NaN()
	}
	return c.Best[1].Losses.Total - c.Best[0].Losses.Total
}

package analysis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/workpool"
)

// Options configures Analyze.
type Options struct {
	Arenas       []float64 // arena sides, m
	BinsPerMetre int       // spatial bins per metre; the same bin size in every arena
	Trajectories int       // walks per arena
	Steps        int       // steps per walk
	Seed         uint64
	// Walks names the kind of walks, WalksStandard or WalksTraining (""
	// is standard); SetWalks sets Motion, Trajectories and Steps to match.
	Walks  string
	Motion Motion
	// Start is where walks start: StartOrigin ("" too) or StartUniform;
	// under StartUniform each walk is preceded by BurnIn steps that are
	// not binned (see StartUniform).
	Start  string
	BurnIn int
	// Scorer is the grid scorer that gives Score60/Score90 and decides
	// which units are grid units: ScorerBanino or ScorerRings ("" is
	// banino). SetScorer also sets Modules.MinScore to its GridThreshold.
	Scorer          string
	Modules         ModuleOptions
	Fourier         FourierOptions      // the Fourier lattice of each ratemap
	StateSpace      StateSpaceOptions   // the state space of modules
	DistanceSamples int                 // states sampled per arena for the distance curve and the state space; its bins are one spatial bin wide
	Workers         int                 // parallel workers; GOMAXPROCS when 0
	Progress        func(ProgressEvent) // may be nil
}

// DefaultOptions are the analyze command's defaults.
func DefaultOptions() Options {
	return Options{
		Arenas:          []float64{1, 2, 3, 4},
		BinsPerMetre:    20,
		Trajectories:    200,
		Steps:           500,
		Seed:            1,
		Walks:           WalksStandard,
		Motion:          DefaultMotion,
		Start:           StartOrigin,
		BurnIn:          20,
		Scorer:          DefaultScorer,
		Modules:         DefaultModuleOptions,
		Fourier:         DefaultFourierOptions,
		StateSpace:      DefaultStateSpaceOptions,
		DistanceSamples: 2000,
	}
}

// The kinds of evaluation walks (Options.Walks).
const (
	// WalksStandard: the Sorscher et al. motion model (DefaultMotion, dt
	// 0.02 s), 200 walks of 500 steps (10 s) per arena.
	WalksStandard = "standard"
	// WalksTraining: walks whose steps look like the training data's: the
	// same motion model with dt 0.1 s (TrainingMotion), so a step is about
	// 0.1 m long (measured mean: 0.094 m in a 1 m arena, where walls slow
	// the walker, 0.101 m in 2 m, 0.103 m in 4 m; training velocities are
	// Uniform(-0.15, 0.15)^2, mean length 0.115 m), 30 steps from the
	// origin as training trajectories have, and 4000 walks per arena.
	WalksTraining = "training"
)

// Where walks start (Options.Start).
const (
	// StartOrigin: every walk starts at the origin, where the network's
	// initial state g0 belongs; the first states of every walk, which may
	// not have settled, are binned near the origin.
	StartOrigin = "origin"
	// StartUniform: walk i starts at a uniformly random position
	// (StartPosition). The network first runs BurnIn steps along the
	// straight path from the origin to that position (BurnIn), unbinned,
	// so that its state belongs to the start when binning begins. The
	// default of 20 steps makes burn-in steps about as long as training
	// steps (up to 0.14 m in a 4 m arena); a trained model (N=64, 15000
	// steps) integrated 100 or 300 slow straight steps badly, and its
	// ratemaps lost their lattices, while 20 kept them.
	StartUniform = "uniform"
)

// TrainingMotion is the motion model of WalksTraining.
var TrainingMotion = func() Motion { m := DefaultMotion; m.Dt = 0.1; return m }()

// SetWalks selects the kind of walks and sets Motion, Trajectories, Steps
// and BurnIn to its defaults (see WalksStandard, WalksTraining); set them
// afterwards to change them.
func (o *Options) SetWalks(name string) error {
	switch name {
	case "", WalksStandard:
		o.Walks, o.Motion, o.Trajectories, o.Steps, o.BurnIn = WalksStandard, DefaultMotion, 200, 500, 20
	case WalksTraining:
		o.Walks, o.Motion, o.Trajectories, o.Steps, o.BurnIn = WalksTraining, TrainingMotion, 4000, 30, 20
	default:
		return walksError(name)
	}
	return nil
}

func walksError(name string) error {
	return fmt.Errorf("--walks: %q is not a kind of walks; use standard (Sorscher et al.'s motion model, default) or training (the same with training-like 0.1 m steps, 30 per walk)", name)
}

// SetScorer selects the grid scorer and sets Modules.MinScore to its
// GridThreshold.
func (o *Options) SetScorer(name string) error {
	s, err := CheckScorer(name)
	if err != nil {
		return err
	}
	o.Scorer, o.Modules.MinScore = s, GridThreshold(s)
	return nil
}

// Validate reports the first option that cannot work, naming the
// command-line flag that sets it.
func (o *Options) Validate() error {
	if len(o.Arenas) == 0 {
		return fmt.Errorf("--arena: give at least one arena side in metres, e.g. --arena 1,2,3,4")
	}
	seen := map[float64]bool{}
	for _, L := range o.Arenas {
		if !(L >= 0.2) || L > 100 || math.IsInf(L, 0) {
			return fmt.Errorf("--arena: side %g m is outside [0.2, 100] m", L)
		}
		if seen[L] {
			return fmt.Errorf("--arena: side %g m is listed twice", L)
		}
		seen[L] = true
	}
	if o.BinsPerMetre < 2 || o.BinsPerMetre > 1000 {
		return fmt.Errorf("--bins: %d bins per metre is outside [2, 1000]", o.BinsPerMetre)
	}
	for _, L := range o.Arenas {
		if nb := NewBinning(L, o.BinsPerMetre).NB; nb < 5 {
			return fmt.Errorf("--bins: %d bins per metre gives a %gm arena only %d bins per side; use at least %d", o.BinsPerMetre, L, nb, int(math.Ceil(5/L)))
		} else if nb > 2000 {
			return fmt.Errorf("--bins: %d bins per metre gives a %gm arena %d bins per side; use at most %d", o.BinsPerMetre, L, nb, int(2000/L))
		}
	}
	if o.Trajectories < 1 {
		return fmt.Errorf("--trajectories: %d, must be at least 1", o.Trajectories)
	}
	if o.Steps < 1 {
		return fmt.Errorf("--steps: %d, must be at least 1", o.Steps)
	}
	switch o.Walks {
	case "", WalksStandard:
	case WalksTraining:
		if o.Motion.Dt != TrainingMotion.Dt {
			return fmt.Errorf("--walks training: the motion model's dt is %g s, training walks take %g s steps (Options.SetWalks sets them up)", o.Motion.Dt, TrainingMotion.Dt)
		}
	default:
		return walksError(o.Walks)
	}
	if err := o.Motion.Validate(); err != nil {
		return err
	}
	switch o.Start {
	case "", StartOrigin:
	case StartUniform:
		if o.BurnIn < 1 || o.BurnIn > 100000 {
			return fmt.Errorf("--burn-in: %d steps, must be 1 to 100000 with --start uniform", o.BurnIn)
		}
	default:
		return fmt.Errorf("--start: %q; use origin (every walk from the origin, default) or uniform (uniformly random starts after a burn-in)", o.Start)
	}
	if _, err := CheckScorer(o.Scorer); err != nil {
		return err
	}
	if math.IsNaN(o.Modules.MinScore) {
		return fmt.Errorf("--min-score: must be a number")
	}
	if o.DistanceSamples < 2 {
		return fmt.Errorf("distance samples: %d, must be at least 2", o.DistanceSamples)
	}
	if o.Modules.MinSize < 1 {
		return fmt.Errorf("--min-module-size: %d, must be at least 1", o.Modules.MinSize)
	}
	return nil
}

// ProgressEvent reports how far Analyze has got.
type ProgressEvent struct {
	Arena       float64 // side of the arena being analysed, m
	ArenaIndex  int     // 0-based
	Arenas      int
	Stage       string // "walking", "scoring"
	Done, Total int
}

// ArenaResult is the analysis of one arena.
type ArenaResult struct {
	Side     float64
	Bins     Binning
	Coverage Coverage
	Visits   []int64   // [ix*NB+iy]
	Ratemaps []float64 // [unit][ix*NB+iy], NaN = unvisited
	SACs     [][]float64
	Scores   []Score
	Modules  ModuleReport // by SAC scale (DetectModules)
	// Silent are the units whose ratemap is zero everywhere.
	Silent []int
	// Fourier is each unit's Fourier lattice; FourierModules the modules
	// from their spacings (FourierModules); Comparison says whether the
	// two methods agree.
	Fourier        []FourierUnit
	FourierModules ModuleReport
	Comparison     ModuleComparison
	Distance       DistanceCurve
	// SamplePos [k][2] and SampleStates [k][N]: the states sampled for
	// the distance curve, at their positions.
	SamplePos    []float64
	SampleStates []float32
	Seconds      float64
}

// Result is the whole analysis.
type Result struct {
	N, H    int
	Options Options
	Arenas  []ArenaResult
	// StateSpaces are the state spaces of the modules with at least
	// StateSpace.MinUnits units, in one arena (see StateSpaces).
	StateSpaces []StateSpace
	Seconds     float64
}

// StatesFunc maps B walks of T velocities ([B][T][2], metres per step, from
// the origin) to the N-unit states after each step ([B][T][N]). It is
// called from several goroutines at once.
type StatesFunc func(vel []float32, B, T int) ([]float32, error)

// Analyze runs the evaluation protocol (walks, ratemaps, scores, modules) on the network p in
// every arena of opt.
func Analyze(ctx context.Context, p *graph.Params, opt Options) (*Result, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	res, err := AnalyzeStates(ctx, p.N, func(vel []float32, B, T int) ([]float32, error) {
		return graph.ForwardStates(p, vel, B, T)
	}, opt)
	if err != nil {
		return nil, err
	}
	res.H = p.H
	return res, nil
}

// AnalyzeStates is Analyze for any N-unit system that integrates velocity
// into states, such as a hand-made path integrator in tests.
func AnalyzeStates(ctx context.Context, N int, states StatesFunc, opt Options) (*Result, error) {
	if N < 1 {
		return nil, fmt.Errorf("analysis needs at least one unit, got N=%d", N)
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.Workers < 1 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	opt.Scorer, _ = CheckScorer(opt.Scorer)
	if opt.Walks == "" {
		opt.Walks = WalksStandard
	}
	if opt.Start == "" {
		opt.Start = StartOrigin
	}
	res := &Result{N: N, Options: opt}
	for i, L := range opt.Arenas {
		ar, err := analyzeArena(ctx, N, states, opt, i, L)
		if err != nil {
			return nil, fmt.Errorf("arena %g m: %w", L, err)
		}
		res.Arenas = append(res.Arenas, *ar)
	}
	if opt.Progress != nil {
		opt.Progress(ProgressEvent{Arena: math.NaN(), ArenaIndex: len(opt.Arenas) - 1, Arenas: len(opt.Arenas), Stage: "state space"})
	}
	res.StateSpaces = StateSpaces(res, opt.StateSpace)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// analyzeArena runs the protocol in the arena of side L (index ai of
// opt.Arenas): the walks and their ratemaps, every unit's scores and
// Fourier lattice, the modules by both methods and the distance curve.
func analyzeArena(ctx context.Context, N int, forward StatesFunc, opt Options, ai int, L float64) (*ArenaResult, error) {
	start := time.Now()
	bins := NewBinning(L, opt.BinsPerMetre)
	report := func(stage string, done, total int) {
		if opt.Progress != nil {
			opt.Progress(ProgressEvent{Arena: L, ArenaIndex: ai, Arenas: len(opt.Arenas), Stage: stage, Done: done, Total: total})
		}
	}
	wk := newArenaWalks(N, forward, opt, L)
	acc, err := wk.walk(ctx, bins, report)
	if err != nil {
		return nil, err
	}
	ar := &ArenaResult{Side: L, Bins: bins, Coverage: acc.Coverage(opt.Motion.Dt), Visits: acc.Count, Ratemaps: acc.Ratemaps(),
		SamplePos: wk.samplePos, SampleStates: wk.sampleState}
	if err := scoreUnits(ctx, ar, N, opt, report); err != nil {
		return nil, err
	}
	ar.Modules = DetectModules(ar.Scores, opt.Modules)
	ar.FourierModules = FourierModules(ar.Fourier, opt.Modules)
	ar.Comparison = CompareModules(ar.FourierModules, ar.Modules)
	// Distance bins as wide as the spatial bins resolve the rise of the
	// curve at short distances the same way in every arena.
	nd := min(1000, int(math.Ceil(float64(bins.NB)*math.Sqrt2)))
	ar.Distance = NeuralDistanceCurve(ar.SamplePos, ar.SampleStates, N, nd, float64(nd)*bins.BinSize())
	ar.Seconds = time.Since(start).Seconds()
	return ar, nil
}

// arenaWalks are the walks of one arena: nTraj walks of T binned steps,
// each after Tb burn-in steps that are run but not binned (Tt steps in
// all), processed in nChunks chunks of B walks, and the states sampled for
// the distance curve.
type arenaWalks struct {
	N       int
	forward StatesFunc
	opt     Options
	L       float64

	nTraj, T, Tb, Tt int
	B, nChunks       int

	// The samples for the distance curve are fixed up front (seeded), so
	// the result does not depend on how walks are split among workers:
	// pick holds their indices walk*T + step in increasing order, and the
	// chunks fill in samplePos [k][2] and sampleState [k][N].
	pick        []int
	samplePos   []float64
	sampleState []float32
}

func newArenaWalks(N int, forward StatesFunc, opt Options, L float64) *arenaWalks {
	wk := &arenaWalks{N: N, forward: forward, opt: opt, L: L, nTraj: opt.Trajectories, T: opt.Steps}
	if opt.Start == StartUniform {
		wk.Tb = opt.BurnIn
	}
	wk.Tt = wk.Tb + wk.T
	total := wk.nTraj * wk.T
	ns := min(opt.DistanceSamples, total)
	rng := rand.New(rand.NewPCG(opt.Seed, walkStream(L, -1)))
	wk.pick = sampleIndices(rng, total, ns)
	wk.samplePos = make([]float64, 2*ns)
	wk.sampleState = make([]float32, ns*N)

	// Walks are processed in chunks of B, each one ForwardStates call. A
	// larger B makes the network's matrix products more efficient; the
	// bound on B*T*N keeps the returned states within about 128 MB. B does
	// not depend on the number of workers, so neither do the chunks' sums:
	// walkChunks chunks where there are enough walks for them, but no fewer
	// than minChunkWalks walks a chunk (smaller products are slower than
	// the parallelism they buy).
	B := max((wk.nTraj+walkChunks-1)/walkChunks, minChunkWalks)
	wk.B = max(1, min(B, 64, (32<<20)/max(1, wk.Tt*N)))
	wk.nChunks = (wk.nTraj + wk.B - 1) / wk.B
	return wk
}

// walkChunks is the number of chunks the walks of an arena are cut into
// where each still has minChunkWalks walks (more where the 64-walk cap
// binds).
const (
	walkChunks    = 16
	minChunkWalks = 16
)

// walk runs every chunk of walks on opt.Workers workers, each chunk binned
// into an accumulator of its own, and returns the chunks' accumulators
// merged in chunk order, whichever worker ran which chunk: the sums, and so
// every result, are the same for any number of workers and any schedule.
// A chunk finished ahead of its turn waits in pending (at most about one
// per worker). A failing worker stops the others; its error (the first
// worker's, where several fail) is returned.
func (wk *arenaWalks) walk(ctx context.Context, bins Binning, report func(stage string, done, total int)) (*Accumulator, error) {
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	workers := wk.opt.Workers
	errs := make([]error, workers)
	total := NewAccumulator(wk.N, bins)
	var mu sync.Mutex // guards done, next, pending and spare
	var done, next int
	pending := map[int]*Accumulator{}
	var spare []*Accumulator
	report("walking", 0, wk.nTraj)
	workpool.Each(workers, wk.nChunks, func() bool { return wctx.Err() != nil }, func(w, c int) {
		mu.Lock()
		var acc *Accumulator
		if n := len(spare); n > 0 {
			acc, spare = spare[n-1], spare[:n-1]
		}
		mu.Unlock()
		if acc == nil {
			acc = NewAccumulator(wk.N, bins)
		}
		b, err := wk.chunk(c, acc)
		if err != nil {
			errs[w] = err
			stopWorkers()
			return
		}
		mu.Lock()
		pending[c] = acc
		for a := pending[next]; a != nil; a = pending[next] {
			total.Merge(a)
			delete(pending, next)
			a.Reset()
			spare = append(spare, a)
			next++
		}
		done += b
		d := done
		mu.Unlock()
		report("walking", d, wk.nTraj)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if next != wk.nChunks {
		return nil, fmt.Errorf("walks: %d of %d chunks merged", next, wk.nChunks)
	}
	return total, nil
}

// chunk runs chunk c's walks through the network, bins their states into
// acc and copies out the distance curve's samples among them. It returns
// the number of walks.
func (wk *arenaWalks) chunk(c int, acc *Accumulator) (int, error) {
	N, T, Tb, Tt := wk.N, wk.T, wk.Tb, wk.Tt
	t0 := c * wk.B
	b := min(wk.B, wk.nTraj-t0)
	vel, pos := wk.paths(t0, b)
	states, err := wk.forward(vel, b, Tt)
	if err == nil && len(states) != b*Tt*N {
		err = fmt.Errorf("network returned %d state values for %d walks of %d steps, want %d", len(states), b, Tt, b*Tt*N)
	}
	if err != nil {
		return 0, err
	}
	if Tb > 0 { // drop the burn-in's states
		for i := 0; i < b; i++ {
			copy(states[i*T*N:(i+1)*T*N], states[(i*Tt+Tb)*N:(i+1)*Tt*N])
		}
		states = states[:b*T*N]
	}
	acc.Add(pos, states)
	for i := 0; i < b; i++ {
		for t := Tb; t < Tt; t++ {
			k := i*Tt + t
			acc.PathLen += math.Hypot(float64(vel[2*k]), float64(vel[2*k+1]))
		}
	}
	acc.Steps += int64(b * T)
	wk.keepSamples(t0, b, pos, states)
	return b, nil
}

// paths are the velocities [b][Tt][2] (burn-in first) of walks t0 to
// t0+b-1, and the positions [b][T][2] of their binned steps.
func (wk *arenaWalks) paths(t0, b int) ([]float32, []float64) {
	opt, L, T, Tb, Tt := wk.opt, wk.L, wk.T, wk.Tb, wk.Tt
	vel := make([]float32, b*Tt*2)
	pos := make([]float64, b*T*2)
	for i := 0; i < b; i++ {
		v := vel[i*Tt*2 : (i+1)*Tt*2]
		var x0, y0 float64
		if Tb > 0 {
			x0, y0 = StartPosition(opt.Motion, L, opt.Seed, t0+i)
			BurnIn(x0, y0, v[:Tb*2])
		}
		WalkFrom(opt.Motion, L, T, opt.Seed, t0+i, x0, y0, v[Tb*2:], pos[i*T*2:(i+1)*T*2])
	}
	return vel, pos
}

// keepSamples copies out the distance curve's samples that fall among
// walks t0 to t0+b-1 (positions pos and binned states).
func (wk *arenaWalks) keepSamples(t0, b int, pos []float64, states []float32) {
	N, T, pick := wk.N, wk.T, wk.pick
	lo, hi := t0*T, (t0+b)*T
	for k := sort.SearchInts(pick, lo); k < len(pick) && pick[k] < hi; k++ {
		s := pick[k] - lo
		copy(wk.samplePos[2*k:2*k+2], pos[2*s:2*s+2])
		copy(wk.sampleState[k*N:(k+1)*N], states[s*N:(s+1)*N])
	}
}

// scoreUnits finds ar's silent units and fills in every unit's grid
// scores, SAC and Fourier lattice (NaN for a silent unit's), from ar's
// ratemaps, on opt.Workers workers.
func scoreUnits(ctx context.Context, ar *ArenaResult, N int, opt Options, report func(stage string, done, total int)) error {
	bins := ar.Bins
	nb := bins.NB * bins.NB
	ar.Scores = make([]Score, N)
	ar.SACs = make([][]float64, N)
	ar.Fourier = make([]FourierUnit, N)
	ar.Silent = silentUnits(ar.Ratemaps, N, nb)
	silent := map[int]bool{}
	for _, u := range ar.Silent {
		silent[u] = true
	}
	sc := &Scorer{BinSize: bins.BinSize(), Method: opt.Scorer}
	var mu sync.Mutex // guards done
	var done int
	report("scoring", 0, N)
	workpool.Each(opt.Workers, N, func() bool { return ctx.Err() != nil }, func(_, u int) {
		m := ar.Ratemaps[u*nb : (u+1)*nb]
		ar.Scores[u], ar.SACs[u] = sc.Score(m, bins.NB, bins.NB)
		if silent[u] {
			ar.Fourier[u] = nanFourier(LatticeSilent)
		} else {
			ar.Fourier[u] = FourierAnalyse(m, bins.NB, bins.NB, bins.BinSize(), opt.Fourier)
		}
		mu.Lock()
		done++
		d := done
		mu.Unlock()
		if d%max(1, N/10) == 0 || d == N {
			report("scoring", d, N)
		}
	})
	return ctx.Err()
}

// sampleIndices draws k distinct integers from [0, n) in increasing order
// (Floyd's algorithm: O(k) memory whatever n is).
func sampleIndices(rng *rand.Rand, n, k int) []int {
	set := make(map[int]bool, k)
	for j := n - k; j < n; j++ {
		t := rng.IntN(j + 1)
		if set[t] {
			set[j] = true
		} else {
			set[t] = true
		}
	}
	out := make([]int, 0, k)
	for v := range set {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// silentUnits are the units whose ratemap is zero (or not above 1e-9 of
// the largest activation of any unit) in every visited bin.
func silentUnits(maps []float64, N, nb int) []int {
	top := 0.0
	peak := make([]float64, N)
	for u := 0; u < N; u++ {
		for _, v := range maps[u*nb : (u+1)*nb] {
			if !math.IsNaN(v) {
				peak[u] = max(peak[u], math.Abs(v))
			}
		}
		top = max(top, peak[u])
	}
	out := []int{}
	for u, p := range peak {
		if p <= 1e-9*top || top == 0 {
			out = append(out, u)
		}
	}
	return out
}

// StateSpaces analyses the state space (ModuleStateSpace) of every module
// with at least opt.MinUnits units, in one arena: the Fourier modules
// (the paper's method) where any is that large, else the SAC-scale
// modules; the arena is the one where such modules hold the most units
// (the larger arena on a tie). A module's wave vectors come from its
// period and orientation (ModuleWaveVectors).
func StateSpaces(res *Result, opt StateSpaceOptions) []StateSpace {
	out := []StateSpace{}
	pick := func(method string) (int, []Module) {
		best, bestN := -1, 0
		var mods []Module
		for i := range res.Arenas {
			ar := &res.Arenas[i]
			rep := ar.FourierModules
			if method == "sac" {
				rep = ar.Modules
			}
			var big []Module
			n := 0
			for _, m := range rep.Modules {
				if len(m.Units) >= opt.MinUnits {
					big = append(big, m)
					n += len(m.Units)
				}
			}
			if n > 0 && (n > bestN || (n == bestN && ar.Side > res.Arenas[best].Side)) {
				best, bestN, mods = i, n, big
			}
		}
		return best, mods
	}
	method := "fourier"
	ai, mods := pick(method)
	if ai < 0 {
		method = "sac"
		if ai, mods = pick(method); ai < 0 {
			return out
		}
	}
	ar := &res.Arenas[ai]
	for _, m := range mods {
		kA, kB := ModuleWaveVectors(m.Period, m.Orientation)
		ss := ModuleStateSpace(ar.SampleStates, ar.SamplePos, res.N, m.Units, kA, kB, ar.Ratemaps, ar.Bins, opt)
		ss.Arena, ss.Module, ss.Method = ar.Side, m.ID, method
		out = append(out, ss)
	}
	return out
}

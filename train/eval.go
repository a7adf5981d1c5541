package train

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/graph"
)

// EvalMetrics are the grid-evaluation keys of a metrics.jsonl line
// (run.eval_every). They describe the network after that line's step,
// driven along seeded walks of one arena and scored unit by unit as
// `gridgpu analyze` scores them (the standard scorer), with fewer walks.
//
// With run.eval_walks = both, the headline counts (eval_grid_units,
// eval_grid_frac) are of grid cells: units hexagonal under both the
// standard and the training-like walks; the trn_ keys give the
// training-like walks' own numbers.
type EvalMetrics struct {
	// GridUnits counts the units whose score60 exceeds GridThreshold.
	GridUnits int     `json:"eval_grid_units"`
	GridFrac  float64 `json:"eval_grid_frac"`
	// SquareUnits counts the units whose score90 exceeds the threshold: a
	// square lattice scores high here and low on score60.
	SquareUnits   int          `json:"eval_square_units"`
	Score60Max    analysis.Num `json:"eval_score60_max"`
	Score60P90    analysis.Num `json:"eval_score60_p90"`
	Score90Max    analysis.Num `json:"eval_score90_max"`
	GridThreshold float64      `json:"eval_grid_threshold"`
	// DeadUnits counts the units that are zero in every evaluation state.
	DeadUnits int `json:"eval_dead_units"`
	Modules   int `json:"eval_modules"`
	// Periods are the modules' periods in metres, smallest first.
	Periods []float64 `json:"eval_periods"`
	Arena   float64   `json:"eval_arena"`
	Walks   string    `json:"eval_walks"`
	// The training-like walks' numbers, with eval_walks = both.
	StdGridUnits   *int    `json:"eval_std_grid_units,omitempty"`
	TrnGridUnits   *int    `json:"eval_trn_grid_units,omitempty"`
	TrnSquareUnits *int    `json:"eval_trn_square_units,omitempty"`
	Seconds        float64 `json:"eval_seconds"`

	// arena is the standard walks' analysis, for the evaluation picture.
	arena *analysis.ArenaResult
}

// Evaluation walks (run.eval_walks).
const (
	EvalStandard = "standard" // the analyze default: Sorscher et al.'s motion model
	EvalTraining = "training" // training-like 0.1 m steps, 30 per walk
	EvalBoth     = "both"     // both; grid cells must be hexagonal under each
)

// evalOptions are the analysis options of the in-training evaluation: the
// analyze defaults for the walks in one arena with fewer walks, so that an
// evaluation takes seconds. The walks' seed is fixed, so every evaluation of
// a run sees the same walks, and nothing is drawn from the training streams.
func evalOptions(cfg *Config, walks string) (analysis.Options, error) {
	opt := analysis.DefaultOptions()
	if err := opt.SetWalks(walks); err != nil {
		return opt, err
	}
	opt.Arenas = []float64{cfg.Run.EvalArena}
	// No module is that large: the metrics need no state space, whose
	// spectral embedding was a quarter of an evaluation's time.
	opt.StateSpace.MinUnits = cfg.Model.Units + 1
	// Training-like walks are 30 steps, not 500: as many states need about
	// 16 times as many walks.
	opt.Trajectories = cfg.Run.EvalTrajectories
	if walks == EvalTraining {
		opt.Trajectories = cfg.Run.EvalTrajectories * 16
	}
	return opt, nil
}

// unitScores is one evaluation's per-unit view.
type unitScores struct {
	hex, square []bool
	res         *analysis.ArenaResult
	thr         float64
}

func scoreUnits(ctx context.Context, p *graph.Params, cfg *Config, walks string) (*unitScores, error) {
	opt, err := evalOptions(cfg, walks)
	if err != nil {
		return nil, err
	}
	res, err := analysis.Analyze(ctx, p, opt)
	if err != nil {
		return nil, fmt.Errorf("evaluation (%s walks): %w", walks, err)
	}
	u := &unitScores{hex: make([]bool, p.N), square: make([]bool, p.N), res: &res.Arenas[0], thr: opt.Modules.MinScore}
	for i, s := range u.res.Scores {
		u.hex[i] = s.Score60 > u.thr // NaN compares false
		u.square[i] = s.Score90 > u.thr
	}
	return u, nil
}

func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// Evaluate scores every unit of p on the evaluation walks of cfg.
func Evaluate(ctx context.Context, p *graph.Params, cfg *Config) (*EvalMetrics, error) {
	t0 := time.Now()
	walks := cfg.Run.EvalWalks
	first := walks
	if walks == EvalBoth {
		first = EvalStandard
	}
	u, err := scoreUnits(ctx, p, cfg, first)
	if err != nil {
		return nil, err
	}
	ar := u.res
	m := &EvalMetrics{GridThreshold: u.thr, Arena: ar.Side, Walks: walks, Periods: []float64{}, arena: ar}
	hex := u.hex
	if walks == EvalBoth {
		t, err := scoreUnits(ctx, p, cfg, EvalTraining)
		if err != nil {
			return nil, err
		}
		std, trn, trnSq := count(u.hex), count(t.hex), count(t.square)
		m.StdGridUnits, m.TrnGridUnits, m.TrnSquareUnits = &std, &trn, &trnSq
		hex = make([]bool, p.N)
		for i := range hex {
			hex[i] = u.hex[i] && t.hex[i]
		}
	}
	m.GridUnits, m.SquareUnits = count(hex), count(u.square)
	m.GridFrac = float64(m.GridUnits) / float64(p.N)
	var s60, s90 []float64
	for _, s := range ar.Scores {
		if !math.IsNaN(s.Score60) {
			s60 = append(s60, s.Score60)
		}
		if !math.IsNaN(s.Score90) {
			s90 = append(s90, s.Score90)
		}
	}
	m.Score60Max, m.Score60P90 = analysis.Num(quantile(s60, 1)), analysis.Num(quantile(s60, 0.9))
	m.Score90Max = analysis.Num(quantile(s90, 1))
	nb := ar.Bins.NB * ar.Bins.NB
	for i := 0; i < p.N; i++ {
		dead := true
		for _, v := range ar.Ratemaps[i*nb : (i+1)*nb] {
			if v > 0 { // NaN (unvisited) compares false
				dead = false
				break
			}
		}
		if dead {
			m.DeadUnits++
		}
	}
	m.Modules = len(ar.Modules.Modules)
	for _, mod := range ar.Modules.Modules {
		m.Periods = append(m.Periods, mod.Period) // metres: the scorer's bin size is in metres
	}
	sort.Float64s(m.Periods)
	m.Seconds = time.Since(t0).Seconds()
	return m, nil
}

// quantile is the q-quantile of x (linear interpolation), NaN when empty.
func quantile(x []float64, q float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

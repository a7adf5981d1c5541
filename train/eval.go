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
// `gridgpu analyze` scores them, with fewer walks.
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
	Seconds float64   `json:"eval_seconds"`
}

// evalOptions are the analysis options of the in-training evaluation: the
// analyze defaults in one arena with fewer walks, so that an evaluation
// takes seconds. The walks' seed is fixed, so every evaluation of a run
// sees the same walks, and nothing is drawn from the training streams.
func evalOptions(cfg *Config) analysis.Options {
	opt := analysis.DefaultOptions()
	opt.Arenas = []float64{cfg.Run.EvalArena}
	opt.Trajectories = cfg.Run.EvalTrajectories
	return opt
}

// Evaluate scores every unit of p on the evaluation walks of cfg.
func Evaluate(ctx context.Context, p *graph.Params, cfg *Config) (*EvalMetrics, error) {
	t0 := time.Now()
	opt := evalOptions(cfg)
	res, err := analysis.Analyze(ctx, p, opt)
	if err != nil {
		return nil, fmt.Errorf("evaluation: %w", err)
	}
	ar := &res.Arenas[0]
	thr := opt.Modules.MinScore
	m := &EvalMetrics{GridThreshold: thr, Arena: ar.Side, Periods: []float64{}}
	var s60, s90 []float64
	for _, s := range ar.Scores {
		if !math.IsNaN(s.Score60) {
			s60 = append(s60, s.Score60)
			if s.Score60 > thr {
				m.GridUnits++
			}
		}
		if !math.IsNaN(s.Score90) {
			s90 = append(s90, s.Score90)
			if s.Score90 > thr {
				m.SquareUnits++
			}
		}
	}
	m.GridFrac = float64(m.GridUnits) / float64(p.N)
	m.Score60Max, m.Score60P90 = analysis.Num(quantile(s60, 1)), analysis.Num(quantile(s60, 0.9))
	m.Score90Max = analysis.Num(quantile(s90, 1))
	nb := ar.Bins.NB * ar.Bins.NB
	for u := 0; u < p.N; u++ {
		dead := true
		for _, v := range ar.Ratemaps[u*nb : (u+1)*nb] {
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

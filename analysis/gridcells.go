package analysis

import (
	"fmt"
	"math"
	"sort"
)

// A grid cell, in this project's strict sense, is a unit whose ratemap is
// hexagonal (score60 above the scorer's threshold) both along the standard
// evaluation walks and along training-like walks, in the same arena: a
// square code sheared by the slow walks' drift can look hexagonal under
// one kind alone. GridCells counts them from the two analyses' summaries.

// GridCellCount is the verdict on one trained network in one arena.
type GridCellCount struct {
	Arena     float64 `json:"arena_m"`
	Units     int     `json:"units"`
	GridCells []int   `json:"grid_cells"` // hexagonal under both kinds of walks
	Fraction  float64 `json:"fraction"`   // len(GridCells) / Units
	// Modules among the grid cells, by their training-walk scales and
	// orientations (DetectModules), and the ratio of each period to the
	// next smaller one.
	Modules []Module  `json:"modules"`
	Ratios  []float64 `json:"period_ratios"`
	// Per kind of walks: units with score60 (hexagonal) or score90
	// (square) above the threshold.
	Counts struct {
		HexStandard    int `json:"hexagonal_standard"`
		HexTraining    int `json:"hexagonal_training"`
		SquareStandard int `json:"square_standard"`
		SquareTraining int `json:"square_training"`
	} `json:"counts"`
}

// GridCells counts the grid cells of one network from its standard-walk
// and training-walk summaries in the arena of side L, with the score60 (and
// score90) threshold minScore; modules are found with opt among them.
func GridCells(standard, training *Summary, L, minScore float64, opt ModuleOptions) (GridCellCount, error) {
	if standard.Settings.Walks == WalksTraining || training.Settings.Walks != WalksTraining {
		return GridCellCount{}, fmt.Errorf("want one summary of standard walks and one of training walks (got %q and %q)", standard.Settings.Walks, training.Settings.Walks)
	}
	as, err := arenaOf(standard, L)
	if err != nil {
		return GridCellCount{}, fmt.Errorf("standard walks: %w", err)
	}
	at, err := arenaOf(training, L)
	if err != nil {
		return GridCellCount{}, fmt.Errorf("training walks: %w", err)
	}
	if len(as.Units) != len(at.Units) {
		return GridCellCount{}, fmt.Errorf("the summaries have %d and %d units: not the same network", len(as.Units), len(at.Units))
	}
	c := GridCellCount{Arena: L, Units: len(as.Units), GridCells: []int{}}
	above := func(n Num) bool { return !math.IsNaN(float64(n)) && float64(n) > minScore }
	trn := map[int]MapScore{}
	for _, u := range at.Units {
		trn[u.Unit] = u
		if above(u.Score60) {
			c.Counts.HexTraining++
		}
		if above(u.Score90) {
			c.Counts.SquareTraining++
		}
	}
	var scores []Score
	for _, u := range as.Units {
		if above(u.Score60) {
			c.Counts.HexStandard++
		}
		if above(u.Score90) {
			c.Counts.SquareStandard++
		}
		t, ok := trn[u.Unit]
		if ok && above(u.Score60) && above(t.Score60) {
			c.GridCells = append(c.GridCells, u.Unit)
			scores = append(scores, Score{Score60: float64(t.Score60), Scale: float64(t.Scale), Orientation: float64(t.Orientation)})
		}
	}
	sort.Ints(c.GridCells)
	if c.Units > 0 {
		c.Fraction = float64(len(c.GridCells)) / float64(c.Units)
	}
	opt.MinScore = minScore
	rep := DetectModules(scores, opt)
	// Module members are indices into scores; name units instead.
	for _, m := range rep.Modules {
		units := make([]int, len(m.Units))
		for i, k := range m.Units {
			units[i] = c.GridCells[k]
		}
		m.Units = units
		c.Modules = append(c.Modules, m)
	}
	c.Ratios = rep.Ratios
	return c, nil
}

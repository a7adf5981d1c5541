package analysis

import (
	"math"
	"testing"
)

// summaryOf builds a one-arena summary with the given (score60, score90,
// scale) per unit.
func summaryOf(walks string, L float64, units [][3]float64) *Summary {
	s := &Summary{}
	s.Settings.Walks = walks
	a := ArenaSummary{Side: L}
	for i, u := range units {
		a.Units = append(a.Units, MapScore{Unit: i, Score60: Num(u[0]), Score90: Num(u[1]), Scale: Num(u[2]), Orientation: 10})
	}
	s.Arenas = []ArenaSummary{a}
	return s
}

func TestGridCellsHandCounted(t *testing.T) {
	nan := math.NaN()
	std := summaryOf(WalksStandard, 2, [][3]float64{
		{0.5, 0.1, 0.7}, // grid cell (with trn 0)
		{0.5, 0.1, 0.7}, // hexagonal here only
		{0.1, 0.6, 0.5}, // square
		{nan, nan, nan}, // silent
		{0.4, 0.0, 1.1}, // grid cell
		{0.9, 0.0, 0.7}, // grid cell
		{0.35, 0.0, 1.1},
		{0.45, 0.0, 0.72},
	})
	trn := summaryOf(WalksTraining, 2, [][3]float64{
		{0.8, 0.0, 0.70},
		{0.2, 0.0, 0.70},
		{0.0, 0.7, 0.50},
		{nan, nan, nan},
		{0.6, 0.0, 1.12},
		{0.7, 0.0, 0.71},
		{0.5, 0.0, 1.13},
		{0.6, 0.0, 0.69},
	})
	n, err := GridCells(std, trn, 2, 0.3, DefaultModuleOptions)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 4, 5, 6, 7}; len(n.GridCells) != len(want) {
		t.Fatalf("grid cells %v, want %v", n.GridCells, want)
	}
	if n.Fraction != 5.0/8 {
		t.Errorf("fraction %g, want 5/8", n.Fraction)
	}
	if c := n.Counts; c.HexStandard != 6 || c.HexTraining != 5 || c.SquareStandard != 1 || c.SquareTraining != 1 {
		t.Errorf("counts %+v", c)
	}
	// Two modules: units 0, 5, 7 near 0.70 m and 4, 6 near 1.12 m; the
	// second has 2 units, below DefaultModuleOptions.MinSize = 3.
	if len(n.Modules) != 1 || len(n.Modules[0].Units) != 3 || math.Abs(n.Modules[0].Period-0.70) > 0.011 {
		t.Errorf("modules %+v, want one of 3 units at 0.70 m", n.Modules)
	}
	for _, u := range n.Modules[0].Units {
		if u != 0 && u != 5 && u != 7 {
			t.Errorf("module unit %d: not one of the 0.7 m grid cells", u)
		}
	}
	if _, err := GridCells(trn, std, 2, 0.3, DefaultModuleOptions); err == nil {
		t.Error("summaries given the wrong way round: no error")
	}
	if _, err := GridCells(std, trn, 3, 0.3, DefaultModuleOptions); err == nil {
		t.Error("an arena the summaries lack: no error")
	}
}

// The zoo's demo network: its README counts 56 of 64 grid cells in 2 m.
func TestGridCellsZooDemo(t *testing.T) {
	std, err := ReadSummary("../zoo/demo-hex-n64/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	trn, err := ReadSummary("../zoo/demo-hex-n64/summary-training-walks.json")
	if err != nil {
		t.Fatal(err)
	}
	n, err := GridCells(std, trn, 2, 0.3, DefaultModuleOptions)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.GridCells) != 56 || n.Units != 64 {
		t.Errorf("%d of %d grid cells, want 56 of 64", len(n.GridCells), n.Units)
	}
}

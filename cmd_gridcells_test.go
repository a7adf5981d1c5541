package main

import (
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/analysis"
)

// gridCellLine names each module with its period and units, and a group
// that is a harmonic of another module as such.
func TestGridCellLine(t *testing.T) {
	one := 1
	n := analysis.GridCellCount{Arena: 3, Units: 64, GridCells: make([]int, 52), Fraction: 52.0 / 64,
		Modules: []analysis.Module{
			{ID: 0, Period: 0.458, Units: make([]int, 8), HarmonicOf: &one, Harmonic: analysis.HarmonicSqrt3},
			{ID: 1, Period: 0.794, Units: make([]int, 44)},
		}}
	got := gridCellLine(n)
	for _, want := range []string{"grid cells 3 m: 52 of 64 (81%)",
		"modules: 0.46 m (8 units, a sqrt3_30deg harmonic of the 0.79 m module, not a module of its own), 0.79 m (44 units)"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	n.Modules = nil
	if got := gridCellLine(n); !strings.HasSuffix(got, "modules: none") {
		t.Errorf("without modules: %q", got)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/analysis"
)

func gridcellsCommand() *cli.Command {
	return newCommand("gridcells", "count the grid cells of two analyze reports",
		"gridgpu gridcells --standard DIR --training DIR [--arena 2] [--min-score 0.3] [--json]",
		gridcellsAction,
		&cli.StringFlag{Name: "standard", Usage: "(required) report `DIR` (or its summary.json) of 'analyze' along the standard walks"},
		&cli.StringFlag{Name: "training", Usage: "(required) report `DIR` (or its summary.json) of 'analyze --walks training'"},
		&cli.Float64Flag{Name: "arena", Value: 2, Usage: "arena side in metres (`L`); both reports must hold it"},
		&cli.Float64Flag{Name: "min-score", Value: analysis.DefaultModuleOptions.MinScore, Usage: "score60 (and score90) a ratemap needs to count as hexagonal (square)"},
		&cli.BoolFlag{Name: "json", Usage: "print a JSON object instead of a line"},
	)
}

func gridcellsAction(c *cli.Context) error {
	if c.String("standard") == "" || c.String("training") == "" {
		return usagef("gridcells needs --standard DIR and --training DIR (two analyze reports of one checkpoint)")
	}
	std, err := analysis.ReadSummary(c.String("standard"))
	if err != nil {
		return fmt.Errorf("--standard: %w", err)
	}
	trn, err := analysis.ReadSummary(c.String("training"))
	if err != nil {
		return fmt.Errorf("--training: %w", err)
	}
	n, err := analysis.GridCells(std, trn, c.Float64("arena"), c.Float64("min-score"), analysis.DefaultModuleOptions)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		b, _ := json.Marshal(n)
		fmt.Fprintln(w, string(b))
		return nil
	}
	fmt.Fprintln(w, gridCellLine(n))
	return nil
}

// gridCellLine is the one-line verdict of gridcells (and demo.sh's last
// line).
func gridCellLine(n analysis.GridCellCount) string {
	mods := make([]string, len(n.Modules))
	for i, m := range n.Modules {
		mods[i] = fmt.Sprintf("%.2f m (%d units)", m.Period, len(m.Units))
		if m.HarmonicOf != nil {
			mods[i] = fmt.Sprintf("%.2f m (%d units, a %s harmonic of the %.2f m module, not a module of its own)",
				m.Period, len(m.Units), m.Harmonic, n.Modules[*m.HarmonicOf].Period)
		}
	}
	ms := "none"
	if len(mods) > 0 {
		ms = strings.Join(mods, ", ")
	}
	return fmt.Sprintf("grid cells %g m: %d of %d (%.0f%%); hexagonal standard %d, training %d; square standard %d, training %d; modules: %s",
		n.Arena, len(n.GridCells), n.Units, 100*n.Fraction, n.Counts.HexStandard, n.Counts.HexTraining,
		n.Counts.SquareStandard, n.Counts.SquareTraining, ms)
}

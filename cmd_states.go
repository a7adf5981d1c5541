package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/train"
)

// maxStateSamples bounds --samples (the analysis also compares all pairs
// of samples for its distance curve).
const maxStateSamples = 20000

func statesCommand() *cli.Command {
	d := analysis.DefaultOptions()
	return newCommand("states", "write population states and unit modules to a NumPy .npz",
		"gridgpu states --checkpoint F --out S.npz [--arena L] [--walks standard|training] [--start origin|uniform] [--samples K]",
		runStates,
		slices.Concat([]cli.Flag{
			checkpointFlag(runCheckpointUsage),
			outFlag("(required) output file `S.npz`"),
			&cli.Float64Flag{Name: "arena", Value: 2, Usage: "arena side in metres (`L`)"},
			intFlag(cli.IntFlag{Name: "bins", Value: d.BinsPerMetre, Usage: "spatial bins per metre for the ratemaps that give the modules (`N`)"}),
		}, walkFlagDefs(d), []cli.Flag{
			intFlag(cli.IntFlag{Name: "samples", Value: 2000, Usage: fmt.Sprintf("states to write (`K`, at most %d), drawn at random from all walks", maxStateSamples)}),
			seedFlag(d.Seed, "seed of the walks and samples (`S`)"),
			workersFlagDef(),
			overwriteFlag("replace --out if it exists"),
		})...,
	)
}

func runStates(c *cli.Context) error {
	if err := checkpointArgs(c, "out"); err != nil {
		return err
	}
	out := c.String("out")
	if !strings.HasSuffix(out, ".npz") {
		return usagef("--out %s: give a file name ending in .npz", out)
	}
	// A symbolic link is followed: the file it points to is replaced (with
	// --overwrite), not the link.
	dest := out
	if st, err := os.Lstat(out); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(out)
		if err != nil {
			link, _ := os.Readlink(out)
			return usagef("--out %s is a symbolic link to %s, which does not exist; name the file itself, or remove the link", out, link)
		}
		dest = target
	}
	if st, err := os.Stat(out); err == nil {
		if st.IsDir() {
			return usagef("--out %s: is a directory; give a file name ending in .npz", out)
		}
		if !c.Bool("overwrite") {
			return usagef("--out %s: exists; choose another name or pass --overwrite", out)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out %s: %w", out, err)
	} else if pst, err := os.Stat(filepath.Dir(out)); err != nil || !pst.IsDir() {
		return usagef("--out %s: directory %s does not exist; create it first", out, filepath.Dir(out))
	}
	opt := analysis.DefaultOptions()
	opt.Arenas = []float64{c.Float64("arena")}
	if err := walkFlags(c, &opt); err != nil {
		return err
	}
	var err error
	if opt.Workers, err = workersFlag(c); err != nil {
		return err
	}
	K := c.Int("samples")
	if K < 2 || K > maxStateSamples {
		return usagef("--samples: %d, must be 2 to %d", K, maxStateSamples)
	}
	if total := opt.Trajectories * opt.Steps; K > total {
		return usagef("--samples: %d, but the walks have only %d states (--trajectories x --steps)", K, total)
	}
	opt.DistanceSamples = K
	if err := opt.Validate(); err != nil {
		return usagef("%v", err)
	}
	ckpt := c.String("checkpoint")
	p, _, err := train.LoadParams(ckpt)
	if err != nil {
		return err
	}
	if err := checkAnalysisResources(p.N, p.H, opt, "--samples"); err != nil {
		return err
	}
	opt.StateSpace.MinUnits = p.N + 1 // the embedding is for the report; Python users get the states
	// Ctrl-C, SIGTERM or SIGHUP stops the analysis (exit status 130, 143
	// or 129, as analyze) and nothing is written; a second one, a second
	// or more after the first, aborts at once.
	ctx, stopWatching := stopContext(c.App.ErrWriter, nil, "\ngridgpu: second %s: aborting; nothing written\n")
	defer stopWatching()
	pr := newProgress(c.App.ErrWriter)
	opt.Progress = pr.event
	res, err := analysis.Analyze(ctx, p, opt)
	pr.finish()
	if err != nil {
		if s, ok := stopSignal(ctx); ok {
			return stoppedBy(s, fmt.Sprintf("states: %s: interrupted; nothing written", stopsig.Name(s)))
		}
		return err
	}
	ar := &res.Arenas[0]
	N := p.N
	arrays := statesArrays(ar, N)
	if err := data.WriteNPZ(dest, arrays); err != nil {
		return err
	}
	var sizes []string
	for _, m := range ar.FourierModules.Modules {
		sizes = append(sizes, fmt.Sprintf("%d: %.3g m, %d units", m.ID, m.Period, len(m.Units)))
	}
	mods := "none"
	if len(sizes) > 0 {
		mods = strings.Join(sizes, "; ")
	}
	pr.linef("wrote %s: %d states of %d units in the %g m arena; Fourier modules: %s; SAC-scale modules: %d",
		out, len(ar.SamplePos)/2, N, ar.Side, mods, len(ar.Modules.Modules))
	return nil
}

// statesArrays are the arrays that the states command writes.
func statesArrays(ar *analysis.ArenaResult, N int) []data.Array {
	K := len(ar.SamplePos) / 2
	pos := make([]float32, 2*K)
	for i, v := range ar.SamplePos {
		pos[i] = float32(v)
	}
	labels := func(r analysis.ModuleReport) []float64 {
		l := make([]float64, N)
		for i := range l {
			l[i] = -1
		}
		for _, m := range r.Modules {
			for _, u := range m.Units {
				l[u] = float64(m.ID)
			}
		}
		return l
	}
	spacing, orient, kind := make([]float64, N), make([]float64, N), make([]float64, N)
	for u, f := range ar.Fourier {
		spacing[u], orient[u] = math.NaN(), math.NaN()
		switch f.Kind {
		case analysis.LatticeHexagonal, analysis.LatticeSheared, analysis.LatticeSquare:
			spacing[u], orient[u] = f.Spacing, f.Orientation
			kind[u] = map[string]float64{analysis.LatticeHexagonal: 6, analysis.LatticeSheared: 3, analysis.LatticeSquare: 4}[f.Kind]
		case analysis.LatticeSilent:
			kind[u] = -1
		}
	}
	M := len(ar.FourierModules.Modules)
	per, ori := make([]float64, M), make([]float64, M)
	ka, kb := make([]float64, 2*M), make([]float64, 2*M)
	for i, m := range ar.FourierModules.Modules {
		per[i], ori[i] = m.Period, m.Orientation
		a, b := analysis.ModuleWaveVectors(m.Period, m.Orientation)
		ka[2*i], ka[2*i+1], kb[2*i], kb[2*i+1] = a[0], a[1], b[0], b[1]
	}
	return []data.Array{
		{Name: "states", Shape: []int{K, N}, F32: ar.SampleStates},
		{Name: "positions", Shape: []int{K, 2}, F32: pos},
		{Name: "modules", Shape: []int{N}, F64: labels(ar.FourierModules)},
		{Name: "modules_sac", Shape: []int{N}, F64: labels(ar.Modules)},
		{Name: "spacing", Shape: []int{N}, F64: spacing},
		{Name: "orientation", Shape: []int{N}, F64: orient},
		{Name: "lattice", Shape: []int{N}, F64: kind},
		{Name: "module_period", Shape: []int{M}, F64: per},
		{Name: "module_orientation", Shape: []int{M}, F64: ori},
		{Name: "module_k_a", Shape: []int{M, 2}, F64: ka},
		{Name: "module_k_b", Shape: []int{M, 2}, F64: kb},
		{Name: "arena_m", Shape: []int{}, F64: []float64{ar.Side}},
	}
}

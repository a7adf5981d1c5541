package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

func joinCommand() *cli.Command {
	return newCommand("join", "two trained networks side by side in one model (two modules)",
		"gridgpu join --a F --b F --out F.safetensors [--gain-a G] [--gain-b G] [--overwrite]",
		joinAction,
		&cli.StringFlag{Name: "a", Usage: "(required) the first network: checkpoint `F`, a run directory (its latest checkpoint) or model tensors in safetensors"},
		&cli.StringFlag{Name: "b", Usage: "(required) the second network `F`, as --a (it may be the same file)"},
		&cli.Float64Flag{Name: "gain-a", Value: 1, Usage: "velocity gain `G` > 0 of the first network's block: its lattice period is divided by G"},
		&cli.Float64Flag{Name: "gain-b", Value: 1, Usage: "velocity gain `G` > 0 of the second network's block"},
		outFlag("(required) output `F.safetensors`: model tensors only (train from it with --init-from)"),
		overwriteFlag("replace --out if it exists (never an input)"),
	)
}

func joinAction(c *cli.Context) error {
	if err := requireFlags(c, "a", "b", "out"); err != nil {
		return err
	}
	gainA, gainB := c.Float64("gain-a"), c.Float64("gain-b")
	for _, g := range []struct {
		flag string
		v    float64
	}{{"gain-a", gainA}, {"gain-b", gainB}} {
		if !(g.v > 0 && g.v < 1e6) {
			return usagef("--%s %g: must be a number above 0 and below 1e6", g.flag, g.v)
		}
	}
	var nets [2]*graph.Params
	var paths [2]string
	for i, flag := range []string{"a", "b"} {
		path, err := rundir.ResolveCheckpoint(c.String(flag))
		if err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
		if nets[i], _, err = train.LoadParams(path); err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
		paths[i] = path
	}
	out := c.String("out")
	if err := checkOutFile(out, c.Bool("overwrite"), "an input of the join", paths[0], paths[1]); err != nil {
		return err
	}
	p, err := graph.JoinParams(nets[0], nets[1], float32(gainA), float32(gainB))
	if err != nil {
		return err
	}
	meta := map[string]string{"joined": fmt.Sprintf("%s (gain %g) + %s (gain %g)", paths[0], gainA, paths[1], gainB)}
	// Temporaries of an earlier join into out that was killed while
	// writing it (one of ours now is younger).
	data.RemoveStaleTempsOf(out, data.ProcessStart)
	if err := train.SaveParams(out, p, meta); err != nil {
		return err
	}
	blocks := ""
	if nets[0].N == nets[1].N {
		blocks = " (add --blocks 2 to keep the two recurrences apart, --block-norm to normalise each on its own)"
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s: N=%d (%d + %d units), H=%d (%d + %d); train it with gridgpu train --init-from %s --units %d --hidden %d%s\n",
		out, p.N, nets[0].N, nets[1].N, p.H, nets[0].H, nets[1].H, out, p.N, p.H, blocks)
	return nil
}

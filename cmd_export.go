package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a checkpoint's model tensors to a NumPy .npz file",
		UsageText: "gridgpu export --checkpoint F --out F.npz",
		Description: "Writes mlp.0.weight [H,2], mlp.0.bias [H], mlp.2.weight [H,H], mlp.2.bias [H],\n" +
			"mlp.4.weight [N*N,H], mlp.4.bias [N*N] and g0 [N] (float32, the raw g0 vector) to F.npz,\n" +
			"named as in the checkpoint (SPEC section 7). Optimiser state is not exported.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "(required) safetensors checkpoint `F`"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "(required) output `F.npz`"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("export takes no arguments (got %q); use --checkpoint and --out", c.Args().First())
			}
			if err := requireFlags(c, "checkpoint", "out"); err != nil {
				return err
			}
			p, _, err := train.LoadParams(c.String("checkpoint"))
			if err != nil {
				return err
			}
			shapes := graph.Shapes(p.N, p.H)
			arrays := make([]data.Array, 0, len(shapes))
			for i, s := range p.Slices() {
				arrays = append(arrays, data.Array{Name: graph.ParamNames[i], Shape: shapes[i], F32: s})
			}
			if err := data.WriteNPZ(c.String("out"), arrays); err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "wrote %s: %d tensors, N=%d, H=%d\n", c.String("out"), len(arrays), p.N, p.H)
			return nil
		},
	}
}

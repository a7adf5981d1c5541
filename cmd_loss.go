package main

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

func lossCommand() *cli.Command {
	flags := []cli.Flag{
		checkpointFlag("(required) safetensors checkpoint `F` (gridgpu's, or model tensors only, named as in docs/guide.md's \"Checkpoint format\")"),
		&cli.StringFlag{Name: "batch", Usage: "(required) microbatch `F.npz` holding velocities float32 [B,T,2]"},
		&cli.BoolFlag{Name: "grad", Usage: "also compute the gradient and report its global norm and per-tensor norms"},
	}
	flags = append(flags, configFlags(checkpointDefaults("paper"), "loss.")...)
	return newCommand("loss", "a checkpoint's losses on one microbatch, as one JSON object",
		"gridgpu loss --checkpoint F --batch F.npz [--grad] [loss flags]",
		lossAction, flags...)
}

// lossOutput is the JSON printed by the loss command: the total, then each
// unweighted term by its key (graph.TermSpecs), then the rest.
type lossOutput struct {
	Loss     float64                 `json:"loss"`
	Terms    [graph.NumTerms]float64 `json:"-"`
	ZeroFrac float64                 `json:"zero_frac"`
	// Undefined names the terms with nothing to average over in this batch
	// (printed as 0): sep or inv without far or near pairs, ci without a
	// short enough step.
	Undefined  []string           `json:"undefined,omitempty"`
	B          int                `json:"B"`
	T          int                `json:"T"`
	N          int                `json:"N"`
	H          int                `json:"H"`
	GradNorm   *float64           `json:"grad_norm,omitempty"`
	GradNorms  map[string]float64 `json:"grad_norms,omitempty"`
	LossConfig graph.LossConfig   `json:"loss_config"`
}

// lossFields is lossOutput without its JSON method.
type lossFields lossOutput

// MarshalJSON writes the terms after "loss".
func (o lossOutput) MarshalJSON() ([]byte, error) {
	return graph.MarshalTermsJSON(lossFields(o), "zero_frac", func(t graph.Term) any { return o.Terms[t] })
}

func lossAction(c *cli.Context) error {
	if err := checkpointArgs(c, "batch"); err != nil {
		return err
	}
	p, md, err := train.LoadParams(c.String("checkpoint"))
	if err != nil {
		return err
	}
	// Loss settings: the paper's, replaced by the checkpoint's recorded
	// config when there is one, then by flags.
	cfg, _ := train.Preset("paper")
	if text, ok := md["config"]; ok && md["format"] == train.CheckpointFormat {
		if err := train.ApplyYAML(&cfg, []byte(text), "checkpoint "+c.String("checkpoint")+" config"); err != nil {
			return err
		}
	}
	applyConfigFlags(c, &cfg, "loss.")
	lc := cfg.Loss
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := readBatch(c.String("batch"))
	if err != nil {
		return err
	}
	if err := train.CheckMemory(b.B, b.T, p.N, p.H, 1, train.UseLoss, "evaluate a smaller batch (fewer trajectories or steps)"); err != nil {
		return fmt.Errorf("%s: %w", c.String("batch"), err)
	}
	if P := b.B * b.T; P > largeLossRows {
		// The pairwise terms visit every pair of the B*T states.
		fmt.Fprintf(c.App.ErrWriter, "gridgpu: note: %s has B*T = %d states (the paper's batches have %d); the pairwise losses are quadratic in that, so this may take minutes\n", c.String("batch"), P, 130*60)
	}
	m, err := graph.NewModel(b.B, b.T, p.N, p.H, lc)
	if err != nil {
		return err
	}
	defer m.Close()
	out := lossOutput{B: b.B, T: b.T, N: p.N, H: p.H, LossConfig: cfg.Loss}
	var l graph.Losses
	if c.Bool("grad") {
		var g *graph.Params
		if l, g, err = m.Grad(p, b); err != nil {
			return err
		}
		if err := train.CheckLosses(l, 0); err != nil {
			return fmt.Errorf("%s on %s: %w", c.String("checkpoint"), c.String("batch"), err)
		}
		if err := gradNonFinite(g); err != nil {
			return fmt.Errorf("%s on %s: %w", c.String("checkpoint"), c.String("batch"), err)
		}
		n := train.GlobalNorm(g)
		out.GradNorm = &n
		out.GradNorms = map[string]float64{}
		for i, s := range g.Slices() {
			var ss float64
			for _, v := range s {
				ss += float64(v) * float64(v)
			}
			out.GradNorms[graph.ParamNames[i]] = math.Sqrt(ss)
		}
	} else if l, err = m.Eval(p, b); err != nil {
		return err
	}
	out.Loss, out.Terms, out.ZeroFrac = l.Total, l.Term, l.ZeroFrac
	if err := train.CheckLosses(l, 0); err != nil {
		return fmt.Errorf("%s on %s: %w", c.String("checkpoint"), c.String("batch"), err)
	}
	// Every unweighted term, also those whose weight is 0 (the graph leaves
	// them out).
	terms, err := m.AllTerms(b)
	if err != nil {
		return err
	}
	for t, v := range terms {
		if v == nil {
			out.Terms[t] = 0
			out.Undefined = append(out.Undefined, graph.TermSpecs[t].Key)
		} else if !math.IsNaN(*v) && !math.IsInf(*v, 0) {
			out.Terms[t] = *v
		}
	}
	// Marshal first, so that a value JSON cannot hold is an error rather
	// than half an object on stdout.
	js, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("%s on %s: a result is not finite (%v)", c.String("checkpoint"), c.String("batch"), err)
	}
	_, err = c.App.Writer.Write(append(js, '\n'))
	return err
}

// gradNonFinite names the first gradient tensor holding NaN or Inf.
func gradNonFinite(g *graph.Params) error {
	if at, bad := g.NonFinite(); bad {
		return fmt.Errorf("the losses are finite but the gradient of %s holds %v (at index %d)", at.Tensor, at.Value, at.Index)
	}
	return nil
}

// largeLossRows is the B*T from which loss warns that it will be slow.
const largeLossRows = 20000

// readBatch reads a microbatch file: "velocities" [B,T,2], float32 (float64
// is accepted and rounded, as numpy defaults to it).
func readBatch(path string) (*data.Batch, error) {
	arrays, err := data.ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	v, ok := arrays["velocities"]
	if !ok {
		var names []string
		for k := range arrays {
			names = append(names, k)
		}
		return nil, fmt.Errorf("%s: no array \"velocities\" (it holds %v)", path, names)
	}
	if len(v.Shape) != 3 || v.Shape[2] != 2 || v.Shape[0] < 1 || v.Shape[1] < 1 {
		return nil, fmt.Errorf("%s: velocities have shape %v, want [B, T, 2] with B, T >= 1", path, v.Shape)
	}
	vel := v.F32
	if vel == nil {
		vel = make([]float32, len(v.F64))
		for i, x := range v.F64 {
			vel[i] = float32(x)
		}
	}
	b := &data.Batch{B: v.Shape[0], T: v.Shape[1], Vel: vel}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if i, x, bad := graph.FirstNonFinite(vel); bad {
		return nil, fmt.Errorf("%s: velocities[%d] is %v", path, i, x)
	}
	return b, nil
}

package graph

import (
	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/reference"
)

// The graph's tests measure it against package reference, the model and
// its losses written as plain float64 loops; these adapters translate
// between the two.

// refParams widens p for the reference.
func refParams(p *Params) *reference.Params {
	return reference.ParamsFrom32(p.N, p.H, p.Slices())
}

// refReduction is lc's reduction of the pairwise terms.
func refReduction(lc LossConfig) reference.Reduction {
	if lc.Reduction == ReduceSum {
		return reference.Sum
	}
	return reference.Mean
}

// refWindow is lc's conformal-isometry window with its defaults filled in.
func refWindow(lc LossConfig) reference.CIWindow {
	w := lc.ciWindow()
	return reference.CIWindow{MaxLag: w.MaxLag, MaxDist: w.MaxDist, Scale: w.Scale, Bins: w.Bins}
}

// refConfig is lc for the reference.
func refConfig(lc LossConfig) reference.Config {
	return reference.Config{SigmaX: lc.SigmaX, SigmaG: lc.SigmaG,
		LambdaSep: lc.LambdaSep, LambdaInv: lc.LambdaInv, LambdaCap: lc.LambdaCap, LambdaCI: lc.LambdaCI,
		Reduction: refReduction(lc), CI: refWindow(lc)}
}

// refLosses runs the reference model and losses on p and the microbatch b
// and returns them as the graph reports them (every term, whatever its
// weight), with the reference's states.
func refLosses(p *Params, b *data.Batch, lc LossConfig) (Losses, *reference.States) {
	vel := reference.F64(b.Vel)
	s := reference.Forward(refParams(p), vel, b.B, b.T)
	r := reference.Loss(refConfig(lc), s, vel, reference.F64(b.Positions()))
	return Losses{Total: r.Total, Term: [NumTerms]float64{Sep: r.Sep, Inv: r.Inv, Cap: r.Cap, CI: r.CI},
		ZeroFrac: float64(s.Zeros()) / float64(b.B*b.T)}, s
}

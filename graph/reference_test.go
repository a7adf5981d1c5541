package graph

import (
	"slices"
	"testing"

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
	w := map[string]float64{}
	for t, x := range lc.Weights() {
		w[TermSpecs[t].Key] = x
	}
	return reference.Config{SigmaX: lc.SigmaX, SigmaG: lc.SigmaG, Weights: w, Reduction: refReduction(lc), CI: refWindow(lc)}
}

// refTerms are the reference's unweighted terms in Term order.
func refTerms(r reference.Losses) (t [NumTerms]float64) {
	for i := range t {
		t[i] = r.Terms[TermSpecs[i].Key]
	}
	return t
}

// Every term of TermSpecs has its definition in package reference, and
// the reference has no other: without it, the comparisons by key would
// read a missing term as 0 on both sides of a zero-weight case.
func TestReferenceHasEveryTerm(t *testing.T) {
	var keys []string
	for _, s := range TermSpecs {
		keys = append(keys, s.Key)
	}
	if !slices.Equal(keys, reference.TermKeys) {
		t.Errorf("terms %v, reference.TermKeys %v", keys, reference.TermKeys)
	}
}

// refLosses runs the reference model and losses on p and the microbatch b
// and returns them as the graph reports them (every term, whatever its
// weight), with the reference's states.
func refLosses(p *Params, b *data.Batch, lc LossConfig) (Losses, *reference.States) {
	vel := reference.F64(b.Vel)
	s := reference.Forward(refParams(p), vel, b.B, b.T)
	r := reference.Loss(refConfig(lc), s, vel, reference.F64(b.Positions()))
	return Losses{Total: r.Total, Term: refTerms(r),
		ZeroFrac: float64(s.Zeros()) / float64(b.B*b.T)}, s
}

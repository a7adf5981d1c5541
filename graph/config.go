package graph

import (
	"fmt"
	"math"
)

// Reductions of the pairwise losses.
const (
	ReduceMean = "mean" // mean over the selected ordered pairs (default)
	ReduceSum  = "sum"  // plain sum, as the paper writes it
)

// LossConfig holds the loss weights and scales of SPEC section 3.
type LossConfig struct {
	SigmaX    float64 // metres: pairs closer than this are "near"
	SigmaG    float64 // width of the Gaussian kernel on neural distance
	LambdaSep float64
	LambdaInv float64
	LambdaCap float64
	LambdaCI  float64
	Reduction string // ReduceMean or ReduceSum
	// The conformal-isometry window and form (see ciLoss); zero values are
	// the paper's: consecutive states (lag 1), steps shorter than SigmaX,
	// the variance of r.
	CIMaxLag  int
	CIMaxDist float64
	CIScale   float64
	CIBins    int
}

// PaperCI reports whether the conformal-isometry term is the paper's
// (consecutive states over steps shorter than sigma_x, variance form).
func (c LossConfig) PaperCI() bool {
	w := c.ciWindow()
	return w.MaxLag == 1 && w.MaxDist == c.SigmaX && w.Scale == 0 && w.Bins == 1
}

// PaperLoss is the paper's setting (lambda_ci = 1 is an assumption).
func PaperLoss() LossConfig {
	return LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaSep: 1, LambdaInv: 0.1, LambdaCap: 0.5, LambdaCI: 1, Reduction: ReduceMean}
}

// Validate names the first bad field.
func (c LossConfig) Validate() error {
	switch {
	case !(c.SigmaX > 0):
		return fmt.Errorf("sigma_x = %g: must be positive", c.SigmaX)
	case !(c.SigmaG > 0):
		return fmt.Errorf("sigma_g = %g: must be positive", c.SigmaG)
	case c.LambdaSep < 0 || c.LambdaInv < 0 || c.LambdaCap < 0 || c.LambdaCI < 0:
		return fmt.Errorf("loss weights must be >= 0 (lambda_sep %g, lambda_inv %g, lambda_cap %g, lambda_ci %g)", c.LambdaSep, c.LambdaInv, c.LambdaCap, c.LambdaCI)
	case c.CIMaxLag < 0 || c.CIBins < 0 || c.CIMaxDist < 0 || c.CIScale < 0 || math.IsInf(c.CIMaxDist, 0) || math.IsInf(c.CIScale, 0):
		return fmt.Errorf("conformal-isometry window (ci_max_lag %d, ci_bins %d, ci_max_dist %g, ci_scale %g): each must be a finite number >= 0", c.CIMaxLag, c.CIBins, c.CIMaxDist, c.CIScale)
	case c.Reduction != ReduceMean && c.Reduction != ReduceSum:
		return fmt.Errorf("reduction %q: must be %q or %q", c.Reduction, ReduceMean, ReduceSum)
	}
	return nil
}

// Losses are the weighted total and the four unweighted terms of one
// microbatch, plus the fraction of states that Norm-ReLU set to zero.
type Losses struct {
	Total, Sep, Inv, Cap, CI float64
	ZeroFrac                 float64
}

// Term returns the named term ("loss", "sep", "inv", "cap", "ci").
func (l Losses) Terms() map[string]float64 {
	return map[string]float64{"loss": l.Total, "sep": l.Sep, "inv": l.Inv, "cap": l.Cap, "ci": l.CI}
}

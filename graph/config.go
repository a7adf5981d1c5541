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

// LossConfig holds the loss weights and scales of the model (README: "The
// model and its losses"). It is also the loss section of a training config:
// its YAML keys are the config keys, its usage tags the flags' help texts.
// The weights' keys are those of TermSpecs.
type LossConfig struct {
	SigmaX    float64 `yaml:"sigma_x" json:"sigma_x" usage:"spatial scale in metres: pairs closer are 'near' (paper: 0.05)"`
	SigmaG    float64 `yaml:"sigma_g" json:"sigma_g" usage:"width of the separation kernel on neural distance (paper: 0.4)"`
	LambdaSep float64 `yaml:"lambda_sep" json:"lambda_sep" usage:"weight of the separation loss (paper: 1.0)"`
	LambdaInv float64 `yaml:"lambda_inv" json:"lambda_inv" usage:"weight of the invariance loss (paper: 0.1)"`
	LambdaCap float64 `yaml:"lambda_cap" json:"lambda_cap" usage:"weight of the capacity loss (paper: 0.5)"`
	LambdaCI  float64 `yaml:"lambda_ci" json:"lambda_ci" usage:"weight of the conformal-isometry loss (ASSUMPTION: 1.0; the paper does not give it)"`
	// Reduction of the pairwise losses: ReduceMean over qualifying pairs or
	// ReduceSum as the paper writes them; the paper's weights only balance
	// for means.
	Reduction string `yaml:"reduction" json:"reduction" usage:"pairwise reduction: mean (ASSUMPTION, default) or sum (as the paper writes it)"`
	// The conformal-isometry window and form (see CIWindow); zero values
	// are the paper's: consecutive states (lag 1), steps shorter than
	// SigmaX, the variance of r.
	CIMaxLag  int     `yaml:"ci_max_lag" json:"ci_max_lag" usage:"conformal isometry compares g_t with g_{t-k} for k = 1..this (0 or 1: consecutive states, the paper's)"`
	CIMaxDist float64 `yaml:"ci_max_dist" json:"ci_max_dist" usage:"conformal isometry uses the pairs displaced less than this, metres (0: sigma_x, the paper's)"`
	CIScale   float64 `yaml:"ci_scale" json:"ci_scale" usage:"conformal isometry form: 0 = variance of r = ||dg||/||dx|| (the paper's); s > 0 = mean of (r - s)^2, a fixed scale"`
	CIBins    int     `yaml:"ci_bins" json:"ci_bins" usage:"conformal isometry: split (0, ci_max_dist) into this many bins of ||dx|| and take the variance of r within each, comparing only equal displacements in different directions (0 or 1: one bin, the paper's)"`
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

// FieldError names a loss setting outside its allowed range by its YAML key.
type FieldError struct {
	Key   string // e.g. "sigma_x"
	Value any
	Rule  string // e.g. "must be a positive number"
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s = %v: %s", e.Key, e.Value, e.Rule) }

// Validate returns a *FieldError for the first setting outside its range,
// in declaration order (Problems lists them all).
func (c LossConfig) Validate() error {
	if p := c.Problems(); len(p) > 0 {
		return p[0]
	}
	return nil
}

// Problems returns a *FieldError for every setting outside its range, in
// declaration order; none for a valid config.
func (c LossConfig) Problems() []*FieldError {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	var p []*FieldError
	check := func(ok bool, key string, v any, rule string) {
		if !ok {
			p = append(p, &FieldError{key, v, rule})
		}
	}
	check(c.SigmaX > 0 && finite(c.SigmaX), "sigma_x", c.SigmaX, "must be a positive number")
	check(c.SigmaG > 0 && finite(c.SigmaG), "sigma_g", c.SigmaG, "must be a positive number")
	for _, s := range TermSpecs {
		w := *s.Weight(&c)
		check(w >= 0 && finite(w), s.WeightKey, w, "must be a number >= 0")
	}
	check(c.Reduction == ReduceMean || c.Reduction == ReduceSum, "reduction", c.Reduction, fmt.Sprintf("must be %q or %q", ReduceMean, ReduceSum))
	check(c.CIMaxLag >= 0 && c.CIMaxLag <= 1000, "ci_max_lag", c.CIMaxLag, "must be an integer from 0 to 1000")
	check(c.CIMaxDist >= 0 && finite(c.CIMaxDist), "ci_max_dist", c.CIMaxDist, "must be a number >= 0")
	check(c.CIScale >= 0 && finite(c.CIScale), "ci_scale", c.CIScale, "must be a number >= 0")
	check(c.CIBins >= 0 && c.CIBins <= 10000, "ci_bins", c.CIBins, "must be an integer from 0 to 10000")
	return p
}

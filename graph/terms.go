package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Term names one of the model's loss terms. It indexes Losses.Term,
// TermValues and TermSpecs.
type Term int

// The loss terms, in the order the metrics, the progress line, the loss
// command and the reports list them.
const (
	Sep      Term = iota // separation: far states apart
	Inv                  // path invariance: near states together
	Cap                  // capacity: states spread over the sphere
	CI                   // conformal isometry: ||dg|| proportional to ||dx||
	NumTerms             // the number of terms
)

// TermSpec describes one loss term for everything outside the model's
// graph: the config keys, their validation, the metrics.jsonl keys, the
// progress line, the loss command and the reports are derived from
// TermSpecs. A new term is one row here and the other files that doc.go's
// "Adding a loss term" lists.
type TermSpec struct {
	// Key names the term in metrics.jsonl, the progress line and the loss
	// command's JSON ("sep").
	Key string
	// Name is the term's name for people ("separation").
	Name string
	// WeightKey is the YAML key of the term's weight in the loss section
	// ("lambda_sep"); its flag is the same with '-' for '_'.
	WeightKey string
	// Weight returns the term's weight field in c.
	Weight func(c *LossConfig) *float64
}

// TermSpecs lists the terms in Term order.
var TermSpecs = [NumTerms]TermSpec{
	Sep: {"sep", "separation", "lambda_sep", func(c *LossConfig) *float64 { return &c.LambdaSep }},
	Inv: {"inv", "invariance", "lambda_inv", func(c *LossConfig) *float64 { return &c.LambdaInv }},
	Cap: {"cap", "capacity", "lambda_cap", func(c *LossConfig) *float64 { return &c.LambdaCap }},
	CI:  {"ci", "conformal isometry", "lambda_ci", func(c *LossConfig) *float64 { return &c.LambdaCI }},
}

// String returns the term's key.
func (t Term) String() string {
	if t < 0 || t >= NumTerms {
		return fmt.Sprintf("Term(%d)", int(t))
	}
	return TermSpecs[t].Key
}

// TermByKey returns the term whose key is key ("sep", ...).
func TermByKey(key string) (Term, bool) {
	for t, s := range TermSpecs {
		if s.Key == key {
			return Term(t), true
		}
	}
	return 0, false
}

// Weights returns every term's weight in Term order.
func (c LossConfig) Weights() [NumTerms]float64 {
	var w [NumTerms]float64
	for t, s := range TermSpecs {
		w[t] = *s.Weight(&c)
	}
	return w
}

// Losses are the weighted total and the unweighted terms of one microbatch
// (or a mean over microbatches), plus the fraction of states that Norm-ReLU
// set to zero.
type Losses struct {
	Total    float64
	Term     [NumTerms]float64
	ZeroFrac float64
}

// Weighted returns the sum of the terms weighted as c says. Terms whose
// weight is zero do not count, whatever their value.
func (l Losses) Weighted(c LossConfig) float64 {
	var s float64
	for t, w := range c.Weights() {
		if w != 0 {
			s += w * l.Term[t]
		}
	}
	return s
}

// Keyed returns the total (as "loss") and every term by its key.
func (l Losses) Keyed() map[string]float64 {
	m := map[string]float64{"loss": l.Total}
	for t, s := range TermSpecs {
		m[s.Key] = l.Term[t]
	}
	return m
}

// MeanLosses averages every field of ls (the microbatches of one step).
func MeanLosses(ls []Losses) Losses {
	var m Losses
	if len(ls) == 0 {
		return m
	}
	for _, l := range ls {
		m.Total += l.Total
		for t := range m.Term {
			m.Term[t] += l.Term[t]
		}
		m.ZeroFrac += l.ZeroFrac
	}
	n := float64(len(ls))
	m.Total /= n
	for t := range m.Term {
		m.Term[t] /= n
	}
	m.ZeroFrac /= n
	return m
}

// TermValues are the unweighted terms of one microbatch, including those
// whose weight is zero. A nil term is undefined for that microbatch: sep or
// inv when (with the mean reduction) it has no far or no near pairs to
// average over, ci when no pair of states qualifies for the
// conformal-isometry term. Cap always has a value.
type TermValues [NumTerms]*float64

// MeanTermValues averages each term over the microbatches where it is
// defined and finite; a term with no such microbatch stays nil.
func MeanTermValues(vs []TermValues) TermValues {
	var out TermValues
	for t := range out {
		var sum float64
		n := 0
		for _, v := range vs {
			if v[t] != nil && !math.IsNaN(*v[t]) && !math.IsInf(*v[t], 0) {
				sum += *v[t]
				n++
			}
		}
		if n > 0 {
			m := sum / float64(n)
			out[t] = &m
		}
	}
	return out
}

// MarshalTermsJSON marshals v, a JSON object, with `"sep":v,"inv":v,...`
// (value(t) as JSON, in Term order) inserted before its member named before,
// so that the files and outputs that list the terms by key keep one order.
// It is for MarshalJSON methods of structs that hold the terms as an array:
// v is the struct as a type without that method.
func MarshalTermsJSON(v any, before string, value func(Term) any) ([]byte, error) {
	obj, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	key := []byte(`"` + before + `":`)
	at := bytes.Index(obj, key)
	if at < 0 {
		return nil, fmt.Errorf("no member %q to insert the loss terms before", before)
	}
	out := append([]byte(nil), obj[:at]...)
	for t, s := range TermSpecs {
		tv, err := json.Marshal(value(Term(t)))
		if err != nil {
			return nil, fmt.Errorf("loss term %s: %w", s.Key, err)
		}
		out = append(append(append(out, `"`+s.Key+`":`...), tv...), ',')
	}
	return append(out, obj[at:]...), nil
}

// The pairwise terms' gradient coefficients: the one derivation of them.
// The CPU graph (separation_invariance.go) and the CUDA engine
// (cuda/engine.go, kernel pair_coef in cuda/kernels/pair.cu) take their
// coefficients from PairCoefficients; package reference derives its own on
// purpose (it imports nothing of graph's, and graph imports it), which the
// tests compare both engines against.
//
// Over ordered pairs i != j of the stepped states, with d_ij =
// ||g_i - g_j||^2 and the position masks far_ij (||x_i - x_j|| > sigma_x)
// and near_ij (< sigma_x):
//
//	L_sep = (1/M_far)  sum_ij far_ij  exp(-d_ij / (2 sigma_g^2))
//	L_inv = (1/M_near) sum_ij near_ij d_ij
//
// where M is the term's number of pairs (at least 1) for the mean
// reduction and 1 for the sum (PairDivisor). The weighted part
// lambda_sep L_sep + lambda_inv L_inv has, per ordered pair, the coefficient
// c_ij = dL/dd_ij:
//
//	c_sep = -lambda_sep / (2 sigma_g^2 M_far) exp(-d_ij / (2 sigma_g^2))   (far)
//	c_inv =  lambda_inv / M_near                                          (near)
//
// so that with Inv2SG = 1/(2 sigma_g^2) the kernel's part is exp(-d_ij
// Inv2SG) and the rest, Sep and Inv below, depends on the pair counts only.
// Since dd_ij/dg_i = 2 (g_i - g_j) and each unordered pair appears twice
// (c symmetric),
//
//	dL/dg_i = 4 sum_j c_ij (g_i - g_j) = 4 (rowsum_i(C) g_i - (C G)_i).
//
// The CPU graph applies the factor 4 to the sums (Sep, Inv); the CUDA
// engine folds it into the coefficient (Sep4, Inv4) and sums
// c_ij (g_i - g_j) directly.
//
// Each coefficient is evaluated in a fixed order of roundings (PairCoef.At)
// that the two engines have always used: the CPU's c_sep rounds
// -lambda_sep/(2 sigma_g^2) first and divides by M, the CUDA engine's
// 4 c_sep = lambda_sep (-2/(sigma_g^2 M)) rounds sigma_g^2 M first. They
// agree to a few ulp (Sep4.At(M) ~ 4 Sep.At(M), TestPairCoefficients), not
// to the bit; each engine's results are kept bit for bit.

// PairCoef is one pairwise coefficient as a function of its term's divisor
// M (PairDivisor): c(M) = Scale (Num / (Den M)), rounded in that order.
// The CUDA kernel pair_coef evaluates the same expression on the device,
// where the pair counts are.
type PairCoef struct {
	Scale, Num, Den float64
}

// At returns c(M) = Scale (Num / (Den M)).
func (c PairCoef) At(m float64) float64 { return c.Scale * (c.Num / (c.Den * m)) }

// PairCoefs are the pairwise terms' coefficients of a loss configuration
// (see PairCoefficients).
type PairCoefs struct {
	// Inv2SG is 1/(2 sigma_g^2): the separation kernel is exp(-d Inv2SG).
	Inv2SG float64
	// Sep and Inv are c_sep (without the exponential) and c_inv: dL/dd_ij
	// of a far and a near ordered pair (the CPU graph's convention).
	Sep, Inv PairCoef
	// Sep4 and Inv4 are 4 c_sep and 4 c_inv, the factor 4 of the gradient
	// folded in (the CUDA engine's convention).
	Sep4, Inv4 PairCoef
}

// PairCoefficients returns the pairwise terms' coefficients for lc (the
// derivation is above). Terms whose weight is 0 get coefficient 0.
func PairCoefficients(lc LossConfig) PairCoefs {
	inv2sg := 1 / (2 * lc.SigmaG * lc.SigmaG)
	return PairCoefs{
		Inv2SG: inv2sg,
		Sep:    PairCoef{Scale: 1, Num: -lc.LambdaSep * inv2sg, Den: 1},
		Inv:    PairCoef{Scale: 1, Num: lc.LambdaInv, Den: 1},
		Sep4:   PairCoef{Scale: lc.LambdaSep, Num: -2, Den: lc.SigmaG * lc.SigmaG},
		Inv4:   PairCoef{Scale: 1, Num: lc.LambdaInv * 4, Den: 1},
	}
}

// PairDivisor is the divisor M of a pairwise term over n ordered pairs: n,
// at least 1, for the mean reduction, and 1 for the sum.
func PairDivisor(n float64, reduction string) float64 {
	if reduction == ReduceMean {
		return max(n, 1)
	}
	return 1
}

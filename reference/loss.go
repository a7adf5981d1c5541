package reference

// TermKeys are the loss terms, keyed as the trainer keys them, in the
// order the total adds them. A new term is a key here and its value in
// Loss; the fast implementations' tests read both by key.
var TermKeys = []string{"sep", "inv", "cap", "ci"}

// Config is the loss setting: the scales, the weight of each term (by
// TermKeys; a term without one weighs 0), the reduction of the pairwise
// terms and the conformal-isometry window.
type Config struct {
	SigmaX, SigmaG float64
	Weights        map[string]float64
	Reduction      Reduction
	CI             CIWindow
}

// Losses are the unweighted terms (by TermKeys), their weighted total and
// what the terms averaged over.
type Losses struct {
	Total     float64
	Terms     map[string]float64
	Far, Near int // ordered pairs of the separation and invariance terms
	CIPairs   int // pairs of the conformal-isometry term (0: undefined, counted as 0)
}

// Loss evaluates every term on the states s, with vel ([B][T][2]) the
// velocities that made them and pos ([B][T][2]) the positions of the
// stepped states. Terms with nothing to average over are 0 and so add
// nothing to the total.
func Loss(c Config, s *States, vel, pos []float64) Losses {
	g := s.Stepped()
	ps := Pairs(g, pos, c.SigmaX, c.SigmaG)
	ci, ciPairs := ConformalIsometry(s.G, vel, c.CI)
	l := Losses{Terms: map[string]float64{"sep": ps.Sep(c.Reduction), "inv": ps.Inv(c.Reduction), "cap": Capacity(g), "ci": ci},
		Far: ps.Far, Near: ps.Near, CIPairs: ciPairs}
	for _, k := range TermKeys {
		l.Total += c.Weights[k] * l.Terms[k]
	}
	return l
}

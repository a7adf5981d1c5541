package reference

// Config is the loss setting: the scales, the weights, the reduction of
// the pairwise terms and the conformal-isometry window.
type Config struct {
	SigmaX, SigmaG                            float64
	LambdaSep, LambdaInv, LambdaCap, LambdaCI float64
	Reduction                                 Reduction
	CI                                        CIWindow
}

// Losses are the four unweighted terms, their weighted total and what the
// terms averaged over.
type Losses struct {
	Total, Sep, Inv, Cap, CI float64
	Far, Near                int // ordered pairs of the separation and invariance terms
	CIPairs                  int // pairs of the conformal-isometry term (0: undefined, counted as 0)
}

// Loss evaluates every term on the states s, with vel ([B][T][2]) the
// velocities that made them and pos ([B][T][2]) the positions of the
// stepped states. Terms with nothing to average over are 0 and so add
// nothing to the total.
func Loss(c Config, s *States, vel, pos []float64) Losses {
	g := s.Stepped()
	ps := Pairs(g, pos, c.SigmaX, c.SigmaG)
	l := Losses{Sep: ps.Sep(c.Reduction), Inv: ps.Inv(c.Reduction), Cap: Capacity(g), Far: ps.Far, Near: ps.Near}
	l.CI, l.CIPairs = ConformalIsometry(s.G, vel, c.CI)
	l.Total = c.LambdaSep*l.Sep + c.LambdaInv*l.Inv + c.LambdaCap*l.Cap + c.LambdaCI*l.CI
	return l
}

package graph

import (
	"errors"
	"fmt"

	"github.com/gridgpu/gridgpu/data"
)

// LossOfStates evaluates every loss term and their weighted total on
// states that did not come from the network: s holds g_{b,t} for t = 0..T
// of each of the B trajectories of the microbatch b, as [B*(T+1)][N]
// row-major with row b*(T+1)+t (the layout of the recurrence's output;
// g_{b,0} sits at the origin, g_{b,t} at b.Positions()'s x_{b,t}). It runs
// the code that training runs on the network's states (termsOfStates, as
// AllTerms does), so a hand-made code and a trained network are scored by
// one definition.
//
// Every term is computed whatever its weight, as AllTerms does; the total
// counts only the terms of non-zero weight (Losses.Weighted). A term with
// nothing to average over is 0, as in training. ZeroFrac is the fraction
// of stepped states (t >= 1) that are the zero vector.
func LossOfStates(B, T, N int, s []float32, b *data.Batch, lc LossConfig) (Losses, error) {
	if B < 1 || T < 1 || N < 1 {
		return Losses{}, fmt.Errorf("LossOfStates: sizes B=%d, T=%d, N=%d must all be at least 1", B, T, N)
	}
	if b == nil {
		return Losses{}, errors.New("LossOfStates: no microbatch")
	}
	if err := b.Validate(); err != nil {
		return Losses{}, err
	}
	if b.B != B || b.T != T {
		return Losses{}, fmt.Errorf("LossOfStates: microbatch is %d x %d, the states are for B=%d, T=%d", b.B, b.T, B, T)
	}
	if want := B * (T + 1) * N; len(s) != want {
		return Losses{}, fmt.Errorf("LossOfStates: %d state values, want B*(T+1)*N = %d", len(s), want)
	}
	if err := lc.Validate(); err != nil {
		return Losses{}, err
	}
	var l Losses
	// Every term as AllTerms has it (termsOfStates); one with nothing to
	// average over is 0, as in training.
	for t, v := range termsOfStates(B, T, N, s, b, lc, nil, nil) {
		if v != nil {
			l.Term[t] = *v
		}
	}
	zeros := 0
	for b := 0; b < B; b++ {
		for t := 1; t <= T; t++ { // the stepped states
			zero := true
			for _, v := range s[(b*(T+1)+t)*N : (b*(T+1)+t+1)*N] {
				if v != 0 {
					zero = false
					break
				}
			}
			if zero {
				zeros++
			}
		}
	}
	l.ZeroFrac = float64(zeros) / float64(B*T)
	l.Total = l.Weighted(lc)
	return l, nil
}

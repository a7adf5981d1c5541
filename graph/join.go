package graph

import "fmt"

// JoinParams returns the network that runs a and b side by side: N = Na +
// Nb units (a's first), hidden width H = Ha + Hb, every layer of the
// velocity MLP block-diagonal, so that
//
//	W(v) = [ Wa(gainA v)      0       ]
//	       [     0       Wb(gainB v)  ]
//
// exactly (the other block's hidden units add exact zeros), and G0 the two
// raw initial states one after the other. A velocity gain scales the first
// layer's weights: ReLU((gain W0) v + b0) is the MLP's first layer at gain
// v, so block b integrates velocities gain times faster than b did and its
// lattice period is b's divided by the gain.
//
// Each block's state keeps the direction of its network's state at every
// step: the recurrence is linear in the state and ReLU commutes with
// positive scaling, so a shared Norm-ReLU only rescales the blocks (by a
// common factor, which depends on the path). With NormBlocks = 2 (a and b of
// equal size) the joined state is exactly [g_a; g_b] / sqrt(2).
//
// The joined network is a starting point for training (model.init_from):
// two grid modules with a chosen period ratio, whose fate under the loss
// can then be watched. NormBlocks is left 0; a run sets it from its config.
func JoinParams(a, b *Params, gainA, gainB float32) (*Params, error) {
	for _, q := range []struct {
		name string
		p    *Params
		gain float32
	}{{"first", a, gainA}, {"second", b, gainB}} {
		if err := q.p.Check(); err != nil {
			return nil, fmt.Errorf("%s network: %w", q.name, err)
		}
		if !(q.gain > 0) {
			return nil, fmt.Errorf("%s network's velocity gain %g: must be positive", q.name, q.gain)
		}
	}
	N, H := a.N+b.N, a.H+b.H
	p := ZeroParams(N, H)
	// First layer [H,2] and its bias: a's rows, then b's, each with its gain.
	for k := 0; k < a.H; k++ {
		p.W0[2*k], p.W0[2*k+1] = gainA*a.W0[2*k], gainA*a.W0[2*k+1]
	}
	for k := 0; k < b.H; k++ {
		p.W0[2*(a.H+k)], p.W0[2*(a.H+k)+1] = gainB*b.W0[2*k], gainB*b.W0[2*k+1]
	}
	copy(p.B0, a.B0)
	copy(p.B0[a.H:], b.B0)
	// Second layer [H,H]: block-diagonal.
	for k := 0; k < a.H; k++ {
		copy(p.W1[k*H:k*H+a.H], a.W1[k*a.H:(k+1)*a.H])
	}
	for k := 0; k < b.H; k++ {
		copy(p.W1[(a.H+k)*H+a.H:(a.H+k+1)*H], b.W1[k*b.H:(k+1)*b.H])
	}
	copy(p.B1, a.B1)
	copy(p.B1[a.H:], b.B1)
	// Third layer [N*N,H]: output row i*N+j is entry (i, j) of W(v); a's
	// entries read a's hidden units, b's read b's, the rest are zero.
	for i := 0; i < a.N; i++ {
		for j := 0; j < a.N; j++ {
			r, ra := i*N+j, i*a.N+j
			copy(p.W2[r*H:r*H+a.H], a.W2[ra*a.H:(ra+1)*a.H])
			p.B2[r] = a.B2[ra]
		}
	}
	for i := 0; i < b.N; i++ {
		for j := 0; j < b.N; j++ {
			r, rb := (a.N+i)*N+a.N+j, i*b.N+j
			copy(p.W2[r*H+a.H:(r+1)*H], b.W2[rb*b.H:(rb+1)*b.H])
			p.B2[r] = b.B2[rb]
		}
	}
	copy(p.G0, a.G0)
	copy(p.G0[a.N:], b.G0)
	return p, nil
}

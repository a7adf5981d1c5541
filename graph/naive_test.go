package graph

import (
	"math"

	"github.com/gridgpu/gridgpu/data"
)

// naiveStates is an independent float64 forward pass written from SPEC
// section 2 with plain loops: states [b][t][n] for t = 0..T (t = 0 is g_0)
// and the count of zeroed states.
func naiveStates(p *Params, b *data.Batch) ([][][]float64, int) {
	N, H := p.N, p.H
	nr := func(y []float64) ([]float64, bool) {
		out := make([]float64, len(y))
		var ss float64
		for i, v := range y {
			if v > 0 {
				out[i] = v
				ss += v * v
			}
		}
		n := math.Sqrt(ss)
		if n <= 1e-8 {
			return make([]float64, len(y)), false
		}
		for i := range out {
			out[i] /= n
		}
		return out, true
	}
	g0raw := make([]float64, N)
	for i, v := range p.G0 {
		g0raw[i] = float64(v)
	}
	g0, _ := nr(g0raw)
	zeros := 0
	states := make([][][]float64, b.B)
	for bi := 0; bi < b.B; bi++ {
		states[bi] = [][]float64{g0}
		for t := 0; t < b.T; t++ {
			v := []float64{float64(b.Vel[(bi*b.T+t)*2]), float64(b.Vel[(bi*b.T+t)*2+1])}
			h1 := make([]float64, H)
			for k := 0; k < H; k++ {
				h1[k] = math.Max(0, float64(p.W0[2*k])*v[0]+float64(p.W0[2*k+1])*v[1]+float64(p.B0[k]))
			}
			h2 := make([]float64, H)
			for k := 0; k < H; k++ {
				s := float64(p.B1[k])
				for j := 0; j < H; j++ {
					s += float64(p.W1[k*H+j]) * h1[j]
				}
				h2[k] = math.Max(0, s)
			}
			prev := states[bi][t]
			y := make([]float64, N)
			for r := 0; r < N; r++ {
				for c := 0; c < N; c++ {
					o := float64(p.B2[r*N+c])
					for j := 0; j < H; j++ {
						o += float64(p.W2[(r*N+c)*H+j]) * h2[j]
					}
					y[r] += o * prev[c]
				}
			}
			g, ok := nr(y)
			if !ok {
				zeros++
			}
			states[bi] = append(states[bi], g)
		}
	}
	return states, zeros
}

// naiveLosses computes the four terms from states by SPEC section 3,
// visiting every ordered pair.
func naiveLosses(states [][][]float64, b *data.Batch, lc LossConfig) Losses {
	var gs [][]float64
	var xs [][2]float64
	pos := b.Positions()
	for bi := range states {
		for t := 1; t < len(states[bi]); t++ {
			gs = append(gs, states[bi][t])
			k := (bi*b.T + t - 1) * 2
			xs = append(xs, [2]float64{float64(pos[k]), float64(pos[k+1])})
		}
	}
	P := len(gs)
	var sep, inv float64
	var nFar, nNear int
	for i := 0; i < P; i++ {
		for j := 0; j < P; j++ {
			if i == j {
				continue
			}
			dx := math.Hypot(xs[i][0]-xs[j][0], xs[i][1]-xs[j][1])
			var d2 float64
			for k := range gs[i] {
				d := gs[i][k] - gs[j][k]
				d2 += d * d
			}
			if dx > lc.SigmaX {
				sep += math.Exp(-d2 / (2 * lc.SigmaG * lc.SigmaG))
				nFar++
			} else if dx < lc.SigmaX {
				inv += d2
				nNear++
			}
		}
	}
	if lc.Reduction == ReduceMean {
		if nFar > 0 {
			sep /= float64(nFar)
		}
		if nNear > 0 {
			inv /= float64(nNear)
		}
	}
	N := len(gs[0])
	mean := make([]float64, N)
	for _, g := range gs {
		for k, v := range g {
			mean[k] += v / float64(P)
		}
	}
	var capL float64
	for _, v := range mean {
		capL -= v * v
	}
	var rs []float64
	for bi := range states {
		for t := 1; t < len(states[bi]); t++ {
			vx, vy := float64(b.Vel[(bi*b.T+t-1)*2]), float64(b.Vel[(bi*b.T+t-1)*2+1])
			sp := math.Hypot(vx, vy)
			if sp <= 0 || sp >= lc.SigmaX {
				continue
			}
			var d2 float64
			for k := range states[bi][t] {
				d := states[bi][t][k] - states[bi][t-1][k]
				d2 += d * d
			}
			rs = append(rs, math.Sqrt(d2)/sp)
		}
	}
	var ci float64
	if len(rs) > 0 {
		var mu float64
		for _, r := range rs {
			mu += r
		}
		mu /= float64(len(rs))
		for _, r := range rs {
			ci += (r - mu) * (r - mu)
		}
		ci /= float64(len(rs))
	}
	l := Losses{Term: [NumTerms]float64{Sep: sep, Inv: inv, Cap: capL, CI: ci}}
	l.Total = lc.LambdaSep*sep + lc.LambdaInv*inv + lc.LambdaCap*capL + lc.LambdaCI*ci
	return l
}

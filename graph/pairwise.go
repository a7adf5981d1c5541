package graph

import (
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The separation and invariance losses over all ordered pairs of the P
// states, computed in row blocks without ever holding a P x P matrix.
//
// With d_ij = ||g_i - g_j||^2 and the masks far_ij = ||x_i - x_j|| > sigma_x,
// near_ij = ||x_i - x_j|| < sigma_x (i != j):
//
//	L_sep = (1/M_far)  sum_ij far_ij  exp(-d_ij / (2 sigma_g^2))
//	L_inv = (1/M_near) sum_ij near_ij d_ij
//
// (M = 1 for the "sum" reduction). The pair op returns lambda_sep L_sep +
// lambda_inv L_inv, the weighted part of the total, so one tiled pass serves
// both terms. Its gradient: with c_ij = dL/dd_ij, symmetric in i and j,
//
//	c_ij = -lambda_sep/(2 sigma_g^2 M_far) exp(-d_ij/(2 sigma_g^2)) far_ij + lambda_inv/M_near near_ij
//	dd_ij/dg_i = 2 (g_i - g_j), and each unordered pair appears twice, so
//	dL/dg_i = 4 sum_j c_ij (g_i - g_j) = 4 (rowsum_i(C) g_i - (C G)_i).
//
// d_ij comes from the Gram matrix: d_ij = |g_i|^2 + |g_j|^2 - 2 g_i.g_j, and
// both the Gram tile and C G are matrix products. The gradient is formed
// during the forward pass (the upstream gradient of a loss term is a scalar
// that only scales it), so the pairs are visited once per step.

// pairBlock is the number of rows and columns in one tile.
const pairBlock = 256

// pairResult holds the unweighted terms and the pair counts.
type pairResult struct {
	Sep, Inv      float64
	NFar, NNear   int64
	SepSum, InvSq float64 // plain sums before reduction
}

// pairCounts counts the far and near ordered pairs (i != j) of positions
// pos ([P][2]).
func pairCounts(pos []float32, sigmaX float64) (far, near int64) {
	P := len(pos) / 2
	s2 := sigmaX * sigmaX
	nb := (P + pairBlock - 1) / pairBlock
	fars, nears := make([]int64, nb), make([]int64, nb)
	parallelFor(nb, func(ib int) {
		for i := ib * pairBlock; i < min(P, (ib+1)*pairBlock); i++ {
			for j := 0; j < P; j++ {
				if i == j {
					continue
				}
				dx := float64(pos[2*i]) - float64(pos[2*j])
				dy := float64(pos[2*i+1]) - float64(pos[2*j+1])
				r2 := dx*dx + dy*dy
				if r2 > s2 {
					fars[ib]++
				} else if r2 < s2 {
					nears[ib]++
				}
			}
		}
	})
	for ib := range fars {
		far += fars[ib]
		near += nears[ib]
	}
	return far, near
}

// pairLoss evaluates the pairwise terms of states g ([P][N]) at positions
// pos and, if dg is not nil, writes the gradient of lambda_sep L_sep +
// lambda_inv L_inv with respect to g into dg ([P][N]).
func pairLoss[T float](P, N int, g []T, pos []float32, lc LossConfig, dg []T) pairResult {
	doSep, doInv := lc.LambdaSep != 0, lc.LambdaInv != 0
	var res pairResult
	res.NFar, res.NNear = pairCounts(pos, lc.SigmaX)
	mFar, mNear := 1.0, 1.0
	if lc.Reduction == ReduceMean {
		mFar, mNear = float64(max(res.NFar, 1)), float64(max(res.NNear, 1))
	}
	s2 := lc.SigmaX * lc.SigmaX
	inv2sg := 1 / (2 * lc.SigmaG * lc.SigmaG)
	cSep := -lc.LambdaSep * inv2sg / mFar
	cInv := lc.LambdaInv / mNear

	sq := make([]float64, P)
	for i := 0; i < P; i++ {
		var s float64
		for _, v := range g[i*N : (i+1)*N] {
			s += float64(v) * float64(v)
		}
		sq[i] = s
	}
	nb := (P + pairBlock - 1) / pairBlock
	sepSums, invSums := make([]float64, nb), make([]float64, nb)
	parallelFor(nb, func(ib int) {
		i0, i1 := ib*pairBlock, min(P, (ib+1)*pairBlock)
		bi := i1 - i0
		tile := make([]T, pairBlock*pairBlock)
		rowsum := make([]float64, bi)
		var sepSum, invSum float64
		for j0 := 0; j0 < P; j0 += pairBlock {
			j1 := min(P, j0+pairBlock)
			bj := j1 - j0
			gemm(false, true, bi, bj, N, 1, g[i0*N:], N, g[j0*N:], N, 0, tile, bj)
			for ii := 0; ii < bi; ii++ {
				i := i0 + ii
				xi, yi := float64(pos[2*i]), float64(pos[2*i+1])
				row := tile[ii*bj : (ii+1)*bj]
				var rs float64
				for jj := range row {
					j := j0 + jj
					if i == j {
						row[jj] = 0
						continue
					}
					dx, dy := xi-float64(pos[2*j]), yi-float64(pos[2*j+1])
					r2 := dx*dx + dy*dy
					d := max(sq[i]+sq[j]-2*float64(row[jj]), 0)
					var c float64
					if r2 > s2 {
						if doSep {
							e := math.Exp(-d * inv2sg)
							sepSum += e
							c = cSep * e
						}
					} else if r2 < s2 {
						if doInv {
							invSum += d
							c = cInv
						}
					}
					row[jj] = T(c)
					rs += c
				}
				rowsum[ii] += rs
			}
			if dg != nil {
				// dg_I += -4 C G_J; the rowsum term is added once below.
				gemm(false, false, bi, N, bj, -4, tile, bj, g[j0*N:], N, 1, dg[i0*N:], N)
			}
		}
		if dg != nil {
			for ii := 0; ii < bi; ii++ {
				i := i0 + ii
				f := 4 * rowsum[ii]
				for k := 0; k < N; k++ {
					dg[i*N+k] += T(f * float64(g[i*N+k]))
				}
			}
		}
		sepSums[ib], invSums[ib] = sepSum, invSum
	})
	for ib := range sepSums {
		res.SepSum += sepSums[ib]
		res.InvSq += invSums[ib]
	}
	if doSep {
		res.Sep = res.SepSum / mFar
		if lc.Reduction == ReduceMean && res.NFar == 0 {
			res.Sep = 0
		}
	}
	if doInv {
		res.Inv = res.InvSq / mNear
		if lc.Reduction == ReduceMean && res.NNear == 0 {
			res.Inv = 0
		}
	}
	return res
}

// stepRows copies the rows of s ([B*(T+1)][N]) for t >= 1 into a [B*T][N]
// matrix; the losses other than conformal isometry see only those states.
func stepRows[T float](B, steps, N int, s, dst []T) {
	for b := 0; b < B; b++ {
		copy(dst[b*steps*N:(b+1)*steps*N], s[(b*(steps+1)+1)*N:(b+1)*(steps+1)*N])
	}
}

// addStepRows adds f * src ([B*T][N]) into the t >= 1 rows of ds.
func addStepRows[T float](B, steps, N int, f float64, src, ds []T) {
	for b := 0; b < B; b++ {
		d := ds[(b*(steps+1)+1)*N : (b+1)*(steps+1)*N]
		for k, v := range src[b*steps*N : (b+1)*steps*N] {
			d[k] += T(f * float64(v))
		}
	}
}

// pairTerm is the graph op for the pairwise terms of one graph.
type pairTerm[T float] struct {
	B, T, N int
	lc      LossConfig
	pos     []float32 // set before each run
	res     pairResult
	g, dg   []T
	ds      []T
}

func newPairTerm[T float](mdl *model[T], B, steps, N int, lc LossConfig, s *G.Node) (*pairTerm[T], *G.Node, error) {
	P := B * steps
	p := &pairTerm[T]{B: B, T: steps, N: N, lc: lc, g: make([]T, P*N), dg: make([]T, P*N), ds: make([]T, B*(steps+1)*N)}
	fwd := newOp("sicPairwise", []int{2}, 0)
	fwd.do = func(in []G.Value) (G.Value, error) {
		t0 := tick()
		defer tock(PhasePairwise, t0)
		stepRows(B, steps, N, sliceOf[T](in[0]), p.g)
		var dg []T
		if mdl.wantGrad {
			clear(p.dg)
			dg = p.dg
		}
		p.res = pairLoss(P, N, p.g, p.pos, lc, dg)
		return scalarValue[T](lc.LambdaSep*p.res.Sep + lc.LambdaInv*p.res.Inv), nil
	}
	fwd.diffWRT = []bool{true}
	fwd.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		back := newOp("sicPairwiseGrad", []int{2, 0}, 2)
		back.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{B * (steps + 1), N}, nil }
		back.do = func(in []G.Value) (G.Value, error) {
			t0 := tick()
			defer tock(PhasePairwise, t0)
			clear(p.ds)
			addStepRows(B, steps, N, scalarOf(in[1]), p.dg, p.ds)
			return denseOf(p.ds, B*(steps+1), N), nil
		}
		ds, err := apply(back, inputs[0], grad)
		return G.Nodes{ds}, err
	}
	out, err := apply(fwd, s)
	return p, out, err
}

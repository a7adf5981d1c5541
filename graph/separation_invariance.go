package graph

import (
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gridgpu/gridgpu/internal/simd"
)

// The separation and invariance losses over all ordered pairs of the P
// states, computed in row blocks without ever holding a P x P matrix. The
// terms, their coefficients c_ij = dL/dd_ij and the gradient
//
//	dL/dg_i = 4 sum_j c_ij (g_i - g_j) = 4 (rowsum_i(C) g_i - (C G)_i)
//
// are derived once, at PairCoefficients (terms.go); this file uses its Sep
// and Inv (c without the factor 4, which is applied to the sums). The pair
// op returns lambda_sep L_sep + lambda_inv L_inv, the weighted part of the
// total, so one tiled pass serves both terms.
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
// pos ([P][2]). Near pairs lie in neighbouring cells of a grid of side
// sigma_x, so only those are visited: O(P + near pairs) instead of O(P^2).
// Far pairs are all the others except those at distance exactly sigma_x.
// Distances are computed exactly as pairLoss computes them, so the two
// agree on every pair.
func pairCounts(pos []float32, sigmaX float64) (far, near int64) {
	P := len(pos) / 2
	s2 := sigmaX * sigmaX
	// Cells slightly wider than sigma_x: a pair within sigma_x is then in
	// adjacent cells even after the division rounds.
	cell := sigmaX * (1 + 1e-6)
	type key struct{ x, y int64 }
	cells := make(map[key][]int32)
	keys := make([]key, P)
	for i := 0; i < P; i++ {
		k := key{int64(math.Floor(float64(pos[2*i]) / cell)), int64(math.Floor(float64(pos[2*i+1]) / cell))}
		keys[i] = k
		cells[k] = append(cells[k], int32(i))
	}
	var equal int64
	for i := 0; i < P; i++ {
		xi, yi := float64(pos[2*i]), float64(pos[2*i+1])
		for dx := int64(-1); dx <= 1; dx++ {
			for dy := int64(-1); dy <= 1; dy++ {
				for _, j := range cells[key{keys[i].x + dx, keys[i].y + dy}] {
					if int(j) == i {
						continue
					}
					ex, ey := xi-float64(pos[2*j]), yi-float64(pos[2*j+1])
					r2 := ex*ex + ey*ey
					if r2 < s2 {
						near++
					} else if r2 == s2 {
						equal++
					}
				}
			}
		}
	}
	return int64(P)*int64(P-1) - near - equal, near
}

// pairLoss evaluates the pairwise terms of states g ([P][N]) at positions
// pos and, if dg is not nil, writes the gradient of lambda_sep L_sep +
// lambda_inv L_inv with respect to g into dg ([P][N]).
func pairLoss[T float](P, N int, g []T, pos []float32, lc LossConfig, dg []T) pairResult {
	return pairLossBlock(P, N, g, pos, lc, dg, pairBlock, nil)
}

// pairScratch is the memory pairLossBlock needs beyond its arguments; a
// caller that evaluates the same size repeatedly keeps one to reuse it.
type pairScratch[T float] struct {
	sq, px, py []float64
	rows       []T // per row block: its own rows' gradient
	cols       []T // per row block: its contributions to later rows
}

// pairLossBlock is pairLoss with a given tile size and reusable scratch
// (nil allocates).
//
// Each unordered pair is visited once: row block I is paired with column
// blocks J >= I. For J > I the tile of c_ij serves both ends,
//
//	dL/dg_I += 4 (rowsum(C) g_I - C G_J),  dL/dg_J += 4 (colsum(C) g_J - C^T G_I),
//
// and the diagonal tile is filled from its upper triangle (C symmetric,
// zero diagonal). Row block I's task owns the gradient of its own rows and a
// slab for the later rows J > I; the slabs are added in the order of I
// afterwards, so the result does not depend on the number of goroutines or
// their scheduling.
func pairLossBlock[T float](P, N int, g []T, pos []float32, lc LossConfig, dg []T, block int, sc *pairScratch[T]) pairResult {
	doSep, doInv := lc.LambdaSep != 0, lc.LambdaInv != 0
	var res pairResult
	res.NFar, res.NNear = pairCounts(pos, lc.SigmaX)
	mFar, mNear := PairDivisor(float64(res.NFar), lc.Reduction), PairDivisor(float64(res.NNear), lc.Reduction)
	nb := (P + block - 1) / block
	if sc == nil {
		sc = &pairScratch[T]{}
	}
	if len(sc.sq) != P {
		sc.sq, sc.px, sc.py = make([]float64, P), make([]float64, P), make([]float64, P)
	}
	slab := func(ib int) (off, rows int) { // rows after block ib, stored after those of blocks < ib
		for k := 0; k < ib; k++ {
			off += P - min(P, (k+1)*block)
		}
		return off * N, P - min(P, (ib+1)*block)
	}
	if dg != nil {
		if total, _ := slab(nb); len(sc.cols) != total || len(sc.rows) != P*N {
			sc.cols, sc.rows = make([]T, total), make([]T, P*N)
		}
	}
	for i := 0; i < P; i++ {
		var s float64
		for _, v := range g[i*N : (i+1)*N] {
			s += float64(v) * float64(v)
		}
		sc.sq[i] = s
		sc.px[i], sc.py[i] = float64(pos[2*i]), float64(pos[2*i+1])
	}
	pc := PairCoefficients(lc)
	k := pairKernel{
		s2:     lc.SigmaX * lc.SigmaX,
		inv2sg: pc.Inv2SG,
		cSep:   pc.Sep.At(mFar),
		cInv:   pc.Inv.At(mNear),
		doSep:  doSep, doInv: doInv,
		fast: isFloat32[T](),
	}
	sepSums, invSums := make([]float64, nb), make([]float64, nb)
	parallelFor(nb, func(ib int) {
		i0, i1 := ib*block, min(P, (ib+1)*block)
		bi := i1 - i0
		tile := make([]T, block*block)
		rowsum, colsum := make([]float64, bi), make([]float64, block)
		var dgI, cols []T
		if dg != nil {
			dgI = sc.rows[i0*N : i1*N]
			clear(dgI)
			off, n := slab(ib)
			cols = sc.cols[off : off+n*N]
		}
		var sepSum, invSum float64
		for j0 := i0; j0 < P; j0 += block {
			j1 := min(P, j0+block)
			bj := j1 - j0
			diag := j0 == i0
			gemm(false, true, bi, bj, N, 1, g[i0*N:], N, g[j0*N:], N, 0, tile, bj)
			clear(colsum[:bj])
			se, iv := pairTile(&k, tile, bi, bj, i0, j0, diag, sc, rowsum, colsum)
			sepSum, invSum = sepSum+2*se, invSum+2*iv // (i,j) and (j,i)
			if dg == nil {
				continue
			}
			// dg_I += -4 C G_J; the rowsum term is added once below.
			gemm(false, false, bi, N, bj, -4, tile, bj, g[j0*N:], N, 1, dgI, N)
			if !diag {
				// dg_J = -4 C^T G_I + 4 colsum(C) g_J, in this task's slab.
				cj := cols[(j0-i1)*N : (j1-i1)*N]
				gemm(true, false, bj, N, bi, -4, tile, bj, g[i0*N:], N, 0, cj, N)
				for jj := 0; jj < bj; jj++ {
					f := 4 * colsum[jj]
					if f == 0 {
						continue
					}
					row, gj := cj[jj*N:(jj+1)*N], g[(j0+jj)*N:(j0+jj+1)*N]
					for c := range row {
						row[c] += T(f * float64(gj[c]))
					}
				}
			}
		}
		if dg != nil {
			for ii := 0; ii < bi; ii++ {
				f := 4 * rowsum[ii]
				row, gi := dgI[ii*N:(ii+1)*N], g[(i0+ii)*N:(i0+ii+1)*N]
				for c := range row {
					row[c] += T(f * float64(gi[c]))
				}
			}
		}
		sepSums[ib], invSums[ib] = sepSum, invSum
	})
	if dg != nil {
		// dg_i = own block's part + the slabs of the blocks before it, in order.
		parallelFor(nb, func(jb int) {
			j0, j1 := jb*block, min(P, (jb+1)*block)
			out := dg[j0*N : j1*N]
			for c, v := range sc.rows[j0*N : j1*N] {
				out[c] += v
			}
			for ib := 0; ib < jb; ib++ {
				off, _ := slab(ib)
				i1 := (ib + 1) * block
				src := sc.cols[off+(j0-i1)*N : off+(j1-i1)*N]
				for c, v := range src {
					out[c] += v
				}
			}
		})
	}
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

func isFloat32[T float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// pairKernel turns Gram tiles into tiles of c_ij = dL/dd_ij.
type pairKernel struct {
	s2, inv2sg   float64
	cSep, cInv   float64
	doSep, doInv bool
	fast         bool // float32 graph: expNeg instead of math.Exp
}

// pairTile overwrites the Gram tile ([bi][bj], rows from i0, columns from j0)
// with c_ij, adds its row sums to rowsum and column sums to colsum, and
// returns the separation and invariance sums over the pairs it visited.
// In a diagonal tile (j0 == i0) only j > i is visited and mirrored; the
// diagonal is zero.
func pairTile[T float](k *pairKernel, tile []T, bi, bj, i0, j0 int, diag bool, sc *pairScratch[T], rowsum, colsum []float64) (sepSum, invSum float64) {
	inC := false
	if k.fast { // the float32 graph: the C twin where this build has one
		sepSum, invSum, inC = pairTileF32(k, any(tile).([]float32), bi, bj, i0, j0, diag, any(sc).(*pairScratch[float32]), rowsum, colsum, simd.Widest)
	}
	if !inC {
		sepSum, invSum = pairTileGo(k, tile, bi, bj, i0, j0, diag, sc, rowsum, colsum)
	}
	if diag {
		// Mirror the upper triangle; row sums of the lower part are the
		// column sums just gathered.
		for ii := 0; ii < bi; ii++ {
			for jj := 0; jj < ii; jj++ {
				tile[ii*bj+jj] = tile[jj*bj+ii]
			}
			rowsum[ii] += colsum[ii]
		}
	}
	return sepSum, invSum
}

// pairTileGo is pairTile's loop over the pairs, in Go: the definition
// (pair_tile_f32 in pairtile_cgo.go is its vectorised twin) and the path
// of the float64 graph and of the build without C. It leaves a diagonal
// tile's lower triangle to pairTile.
func pairTileGo[T float](k *pairKernel, tile []T, bi, bj, i0, j0 int, diag bool, sc *pairScratch[T], rowsum, colsum []float64) (sepSum, invSum float64) {
	xs, ys, sqs := sc.px[j0:j0+bj], sc.py[j0:j0+bj], sc.sq[j0:j0+bj]
	for ii := 0; ii < bi; ii++ {
		i := i0 + ii
		xi, yi, sqi := sc.px[i], sc.py[i], sc.sq[i]
		row := tile[ii*bj : (ii+1)*bj]
		start := 0
		if diag {
			start = ii + 1
			row[ii] = 0
		}
		var rs float64
		for jj := start; jj < bj; jj++ {
			dx, dy := xi-xs[jj], yi-ys[jj]
			r2 := dx*dx + dy*dy
			var c float64
			if r2 > k.s2 {
				if k.doSep {
					d := max(sqi+sqs[jj]-2*float64(row[jj]), 0)
					var e float64
					if k.fast {
						// expNeg(d * inv2sg), inlined by hand (too big for
						// the compiler's budget); see expNeg.
						x := -min(d*k.inv2sg, expMaxArg)
						t := x*expK + expMagic
						kr := t - expMagic
						r := x - kr*expLn2Hi - kr*expLn2Lo
						n := math.Float64bits(t)
						p := (1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24))))) * exp2Frac[n&31]
						e = math.Float64frombits(math.Float64bits(p) + uint64(int64(n<<32)>>37)<<52)
					} else {
						e = math.Exp(-d * k.inv2sg)
					}
					sepSum += e
					c = k.cSep * e
				}
			} else if r2 < k.s2 && k.doInv {
				d := max(sqi+sqs[jj]-2*float64(row[jj]), 0)
				invSum += d
				c = k.cInv
			}
			row[jj] = T(c)
			rs += c
			colsum[jj] += c
		}
		rowsum[ii] += rs
	}
	return sepSum, invSum
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
	sc      pairScratch[T]
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
		p.res = pairLossBlock(P, N, p.g, p.pos, lc, dg, pairBlock, &p.sc)
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

// expNeg returns exp(-x) for x >= 0 with a relative error below 1e-11,
// several times faster than math.Exp and without branches, so that the
// pair loop keeps several in flight:
//
//	exp(-x) = 2^m * 2^(j/32) * exp(r),  -x = (32m + j) ln2/32 + r,  |r| <= ln2/64
//
// with 2^(j/32) from a table and exp(r) from its Taylor polynomial of
// degree 4 (remainder below |r|^5/5! = 1.3e-12). Arguments beyond 700 are
// taken as 700 (exp(-700) = 1e-304, below anything it is added to).
// NaN stays NaN.
func expNeg(x float64) float64 {
	x = -min(x, expMaxArg)
	t := x*expK + expMagic
	kr := t - expMagic // round(x*32/ln2), also in the low bits of t
	r := x - kr*expLn2Hi - kr*expLn2Lo
	n := math.Float64bits(t)
	p := (1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24))))) * exp2Frac[n&31]
	// times 2^m, m = floor(n/32), by adding m to the exponent field (the
	// result stays a normal number); the shift discards the magic's bits.
	return math.Float64frombits(math.Float64bits(p) + uint64(int64(n<<32)>>37)<<52)
}

const (
	expK      = 32 / math.Ln2
	expLn2Hi  = 6.93147180369123816490e-01 / 32 // Cody-Waite split of ln2/32
	expLn2Lo  = 1.90821492927058770002e-10 / 32
	expMagic  = 0x1.8p52 // adding it rounds to an integer, held in the low bits
	expMaxArg = 700
)

// exp2Frac[j] = 2^(j/32).
var exp2Frac = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

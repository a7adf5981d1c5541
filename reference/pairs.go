package reference

import "math"

// Reduction says how the pairwise terms combine their pairs.
type Reduction int

const (
	Mean Reduction = iota // mean over the pairs of the term's set (0 over none)
	Sum                   // plain sum, as the paper writes it
)

// The pairwise terms take the P stepped states g ([P][N], rows) and their
// positions pos ([P][2], flat: x_i = (pos[2i], pos[2i+1])), in the same row
// order.

// PairSums are the sums over ordered pairs i != j that the separation and
// invariance terms reduce.
type PairSums struct {
	Far, Near int     // pairs with ||x_i - x_j|| > sigma_x, < sigma_x
	SepSum    float64 // sum over far pairs of exp(-d_ij / (2 sigma_g^2))
	InvSum    float64 // sum over near pairs of d_ij
}

// pairClass says whether the pair (i, j) is far (+1), near (-1) or exactly
// sigma_x apart (0). The distance is compared as a square: no square root
// rounds a pair across the boundary.
func pairClass(pos []float64, i, j int, sigmaX float64) int {
	dx, dy := pos[2*i]-pos[2*j], pos[2*i+1]-pos[2*j+1]
	r2, s2 := dx*dx+dy*dy, sigmaX*sigmaX
	switch {
	case r2 > s2:
		return 1
	case r2 < s2:
		return -1
	}
	return 0
}

// dist2 is ||a - b||^2.
func dist2(a, b []float64) float64 {
	var s float64
	for k := range a {
		d := a[k] - b[k]
		s += d * d
	}
	return s
}

// Pairs visits every ordered pair i != j once and sums both terms.
func Pairs(g [][]float64, pos []float64, sigmaX, sigmaG float64) PairSums {
	var s PairSums
	for i := range g {
		for j := range g {
			if i == j {
				continue
			}
			switch pairClass(pos, i, j, sigmaX) {
			case 1:
				s.Far++
				s.SepSum += math.Exp(-dist2(g[i], g[j]) / (2 * sigmaG * sigmaG))
			case -1:
				s.Near++
				s.InvSum += dist2(g[i], g[j])
			}
		}
	}
	return s
}

// Sep is the separation term from the sums.
func (s PairSums) Sep(red Reduction) float64 { return reduce(s.SepSum, s.Far, red) }

// Inv is the invariance term from the sums.
func (s PairSums) Inv(red Reduction) float64 { return reduce(s.InvSum, s.Near, red) }

func reduce(sum float64, n int, red Reduction) float64 {
	if red == Sum {
		return sum
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Separation is L_sep: distant places get distinct codes.
func Separation(g [][]float64, pos []float64, sigmaX, sigmaG float64, red Reduction) float64 {
	return Pairs(g, pos, sigmaX, sigmaG).Sep(red)
}

// Invariance is L_inv: nearby places, reached along different paths, get
// the same code.
func Invariance(g [][]float64, pos []float64, sigmaX float64, red Reduction) float64 {
	return Pairs(g, pos, sigmaX, 1).Inv(red)
}

// PairGrad is the gradient of lambdaSep L_sep + lambdaInv L_inv with respect
// to every state ([P][N]).
//
// For one ordered pair (i, j) let w_ij = dL/dd_ij:
//
//	far:  w_ij = -lambdaSep / (2 sigma_g^2 M_far) exp(-d_ij / (2 sigma_g^2))
//	near: w_ij =  lambdaInv / M_near
//
// (M = 1 for Sum). Since dd_ij/dg_i = 2 (g_i - g_j) = -dd_ij/dg_j, the pair
// adds 2 w_ij (g_i - g_j) to dL/dg_i and subtracts it from dL/dg_j. (Each
// unordered pair is visited twice, once per order, so in total it moves
// g_i by 4 w_ij (g_i - g_j): the factor 4 of the tiled implementations.)
//
// This derivation is the package's own on purpose: the CPU graph and the
// CUDA engine take their coefficients from graph.PairCoefficients, their
// one definition, and are tested against this independent one (package
// graph imports this package, which imports neither engine).
func PairGrad(g [][]float64, pos []float64, sigmaX, sigmaG, lambdaSep, lambdaInv float64, red Reduction) [][]float64 {
	s := Pairs(g, pos, sigmaX, sigmaG)
	mFar, mNear := 1.0, 1.0
	if red == Mean {
		mFar, mNear = math.Max(1, float64(s.Far)), math.Max(1, float64(s.Near))
	}
	grad := make([][]float64, len(g))
	for i := range grad {
		grad[i] = make([]float64, len(g[i]))
	}
	for i := range g {
		for j := range g {
			if i == j {
				continue
			}
			var w float64
			switch pairClass(pos, i, j, sigmaX) {
			case 1:
				w = -lambdaSep / (2 * sigmaG * sigmaG * mFar) * math.Exp(-dist2(g[i], g[j])/(2*sigmaG*sigmaG))
			case -1:
				w = lambdaInv / mNear
			}
			for k := range g[i] {
				d := 2 * w * (g[i][k] - g[j][k])
				grad[i][k] += d
				grad[j][k] -= d
			}
		}
	}
	return grad
}

// Capacity is L_cap = -||m||^2 with m = (1/P) sum_i g_i over the stepped
// states (unit or zero vectors): -1 for a constant code, near 0 for a code
// whose states point in many directions.
func Capacity(g [][]float64) float64 {
	var l float64
	for _, v := range capMean(g) {
		l -= v * v
	}
	return l
}

// CapacityGrad is dL_cap/dg_i = -2 m / P, the same for every state ([P][N]).
func CapacityGrad(g [][]float64) [][]float64 {
	m := capMean(g)
	P := float64(len(g))
	grad := make([][]float64, len(g))
	for i := range grad {
		grad[i] = make([]float64, len(m))
		for k, v := range m {
			grad[i][k] = -2 * v / P
		}
	}
	return grad
}

func capMean(g [][]float64) []float64 {
	if len(g) == 0 {
		return nil
	}
	m := make([]float64, len(g[0]))
	for _, row := range g {
		for k, v := range row {
			m[k] += v
		}
	}
	for k := range m {
		m[k] /= float64(len(g))
	}
	return m
}

package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/reference"
)

// randomStates returns B*(T+1) rows of N values: unit-norm and non-negative
// (as Norm-ReLU makes them), except every row listed in zero, which is the
// zero vector.
func randomStates(rng *rand.Rand, B, T, N int, zero map[int]bool) []float32 {
	s := make([]float32, B*(T+1)*N)
	for r := 0; r < B*(T+1); r++ {
		if zero[r] {
			continue
		}
		row := s[r*N : (r+1)*N]
		var ss float64
		for k := range row {
			v := math.Max(rng.NormFloat64(), 0)
			row[k] = float32(v)
			ss += v * v
		}
		if ss == 0 {
			row[0], ss = 1, 1
		}
		for k := range row {
			row[k] = float32(float64(row[k]) / math.Sqrt(ss))
		}
	}
	return s
}

// refStates holds s ([B*(T+1)][N]) as the reference's States, in float64.
func refStates(B, T, N int, s []float32) *reference.States {
	rs := &reference.States{B: B, T: T, N: N, G: make([][][]float64, B)}
	for b := 0; b < B; b++ {
		for t := 0; t <= T; t++ {
			r := b*(T+1) + t
			rs.G[b] = append(rs.G[b], reference.F64(s[r*N:(r+1)*N]))
		}
	}
	return rs
}

// LossOfStates against the reference's definition of every term on random
// states and real microbatches, for both reductions and non-default
// conformal-isometry windows.
func TestLossOfStatesMatchesReference(t *testing.T) {
	sum := PaperLoss()
	sum.Reduction = ReduceSum
	window := PaperLoss()
	window.CIMaxLag, window.CIMaxDist, window.CIBins, window.LambdaInv = 3, 0.2, 3, 0
	scale := PaperLoss()
	scale.CIMaxLag, scale.CIScale, scale.LambdaCap = 2, 4, 0
	// window and scale have a term of weight 0: it is still computed.
	cases := []struct {
		name    string
		B, T, N int
		lc      LossConfig
	}{
		{"mean", 4, 9, 8, PaperLoss()},
		{"sum", 3, 7, 6, sum},
		{"ci-window", 4, 8, 8, window},
		{"ci-scale", 3, 6, 5, scale},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			b := slowSteps(testBatch(t, c.B, c.T, data.AugmentPermute, uint64(30+i)))
			s := randomStates(rng, c.B, c.T, c.N, map[int]bool{c.T + 3: true})
			got, err := LossOfStates(c.B, c.T, c.N, s, b, c.lc)
			if err != nil {
				t.Fatal(err)
			}
			rs := refStates(c.B, c.T, c.N, s)
			want := reference.Loss(refConfig(c.lc), rs, reference.F64(b.Vel), reference.F64(b.Positions()))
			if want.Far == 0 || want.Near == 0 || want.CIPairs == 0 {
				t.Fatalf("the microbatch leaves a term empty (far %d, near %d, ci pairs %d): it would not be checked", want.Far, want.Near, want.CIPairs)
			}
			// The reference's total weights every term; a zero weight
			// times a finite term adds 0, so the totals are comparable.
			check := func(what string, g, r float64) {
				t.Helper()
				if math.Abs(g-r) > 1e-5*math.Max(math.Abs(r), 1e-3) {
					t.Errorf("%s = %.9g, reference %.9g", what, g, r)
				}
			}
			check("loss", got.Total, want.Total)
			for term, r := range refTerms(want) {
				check(TermSpecs[term].Key, got.Term[term], r)
			}
			if wz := 1 / float64(c.B*c.T); got.ZeroFrac != wz {
				t.Errorf("zero fraction %g, want %g (one zero stepped state)", got.ZeroFrac, wz)
			}
		})
	}
}

// A case small enough to do by hand: one trajectory of three steps and
// two units. Velocities (0.25, 0), (0, 0.03125), (0.25, 0) put the stepped
// states at x1 = (0.25, 0), x2 = (0.25, 0.03125), x3 = (0.5, 0.03125): with
// sigma_x = 0.05 the pair (1,2) is near and (1,3), (2,3) are far. The
// states g0 = g1 = (1, 0), g2 = (0.6, 0.8), g3 = (0, 1) have squared
// distances d12 = 0.8, d13 = 2, d23 = 0.4.
func TestLossOfStatesByHand(t *testing.T) {
	b := &data.Batch{B: 1, T: 3, Vel: []float32{0.25, 0, 0, 0.03125, 0.25, 0}}
	s := []float32{1, 0, 1, 0, 0.6, 0.8, 0, 1}
	lc := LossConfig{SigmaX: 0.05, SigmaG: 0.5, LambdaSep: 1, LambdaInv: 0.1, LambdaCap: 0.5, LambdaCI: 0.25,
		Reduction: ReduceMean, CIMaxDist: 0.3}
	// Over ordered pairs, each unordered pair twice; 2 sigma_g^2 = 0.5.
	sepSum := 2*math.Exp(-2/0.5) + 2*math.Exp(-0.4/0.5)
	invSum := 2 * 0.8
	// m = ((1 + 0.6 + 0)/3, (0 + 0.8 + 1)/3): g0 is not a stepped state.
	cp := -(1.6*1.6 + 1.8*1.8) / 9
	// ci_max_dist 0.3 takes all three steps: r = ||g_t - g_{t-1}|| / ||v_t||.
	r := []float64{0 / 0.25, math.Sqrt(0.8) / 0.03125, math.Sqrt(0.4) / 0.25}
	mr := (r[0] + r[1] + r[2]) / 3
	ci := ((r[0]-mr)*(r[0]-mr) + (r[1]-mr)*(r[1]-mr) + (r[2]-mr)*(r[2]-mr)) / 3

	for _, red := range []string{ReduceMean, ReduceSum} {
		lc.Reduction = red
		sep, inv := sepSum/4, invSum/2 // 4 far and 2 near ordered pairs
		if red == ReduceSum {
			sep, inv = sepSum, invSum
		}
		got, err := LossOfStates(1, 3, 2, s, b, lc)
		if err != nil {
			t.Fatal(err)
		}
		// The paper's four terms by hand; every term, these and any
		// other, is compared with package reference above.
		want := map[Term]float64{Sep: sep, Inv: inv, Cap: cp, CI: ci}
		for term, w := range want {
			if g := got.Term[term]; math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
				t.Errorf("%s: %s = %.9g, by hand %.9g", red, TermSpecs[term].Key, g, w)
			}
		}
		total := sep + 0.1*inv + 0.5*cp + 0.25*ci
		if math.Abs(got.Total-total) > 1e-6*math.Abs(total) {
			t.Errorf("%s: total %.9g, by hand %.9g", red, got.Total, total)
		}
		if got.ZeroFrac != 0 {
			t.Errorf("%s: zero fraction %g, want 0", red, got.ZeroFrac)
		}
	}
}

func TestLossOfStatesRefusesBadShapes(t *testing.T) {
	b := &data.Batch{B: 1, T: 3, Vel: make([]float32, 6)}
	s := make([]float32, 8)
	cases := []struct {
		name    string
		B, T, N int
		s       []float32
		lc      LossConfig
		want    string
	}{
		{"short states", 1, 3, 2, s[:6], PaperLoss(), "6 state values"},
		{"batch shape", 2, 3, 2, make([]float32, 16), PaperLoss(), "microbatch is 1 x 3"},
		{"zero units", 1, 3, 0, nil, PaperLoss(), "must all be at least 1"},
		{"bad loss", 1, 3, 2, s, LossConfig{SigmaX: 0.05, Reduction: ReduceMean}, "sigma_g"},
	}
	for _, c := range cases {
		_, err := LossOfStates(c.B, c.T, c.N, c.s, b, c.lc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

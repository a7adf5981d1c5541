package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gridgpu/gridgpu/data"
)

// TestAllTermsWithZeroWeights: AllTerms gives every unweighted term of
// TermSpecs, those with weight zero included (the graph does not compute
// them), equal to the terms of a model with every weight 1 on the same
// parameters and microbatch; undefined terms are nil.
func TestAllTermsWithZeroWeights(t *testing.T) {
	base := PaperLoss()
	with := func(f func(*LossConfig)) LossConfig { l := base; f(&l); return l }
	cases := []struct {
		name                  string
		lc                    LossConfig
		augment               string
		nilSep, nilInv, nilCI bool
	}{
		{"all-weights", base, data.AugmentPermute, false, false, false},
		{"no-cap", with(func(l *LossConfig) { l.LambdaCap = 0 }), data.AugmentPermute, false, false, false},
		{"no-ci", with(func(l *LossConfig) { l.LambdaCI = 0 }), data.AugmentPermute, false, false, false},
		{"no-inv", with(func(l *LossConfig) { l.LambdaInv = 0 }), data.AugmentPermute, false, false, false},
		{"cap-only", LossConfig{SigmaX: 0.05, SigmaG: 0.4, LambdaCap: 0.5, Reduction: ReduceMean}, data.AugmentPermute, false, false, false},
		{"ci-only-binned", with(func(l *LossConfig) {
			l.LambdaSep, l.LambdaInv, l.LambdaCap = 0, 0, 0
			l.CIMaxLag, l.CIBins = 3, 2
		}), data.AugmentPermute, false, false, false},
		// sigma_x 1e-9: no near pairs (inv has nothing to average) and no
		// step shorter than sigma_x (ci has none to compare).
		{"no-near-pairs", with(func(l *LossConfig) { l.SigmaX = 1e-9; l.LambdaInv = 0 }), data.AugmentNone, false, true, true},
		{"no-near-pairs-sum", with(func(l *LossConfig) { l.SigmaX = 1e-9; l.Reduction = ReduceSum }), data.AugmentNone, false, false, true},
		{"no-far-pairs", with(func(l *LossConfig) { l.SigmaX = 100; l.LambdaSep = 0 }), data.AugmentPermute, true, false, false},
	}
	const B, T, N, H = 3, 40, 8, 10
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := InitParams(N, H, uint64(i+1))
			b := testBatch(t, B, T, c.augment, uint64(20+i))
			m := testModel(t, B, T, N, H, c.lc)
			defer m.Close()
			if _, _, err := m.Grad(p, b); err != nil {
				t.Fatal(err)
			}
			got, err := m.AllTerms(b)
			if err != nil {
				t.Fatal(err)
			}
			all := c.lc
			for _, s := range TermSpecs {
				*s.Weight(&all) = 1
			}
			full := testModel(t, B, T, N, H, all)
			defer full.Close()
			want, err := full.Eval(p, b)
			if err != nil {
				t.Fatal(err)
			}
			wantNil := [NumTerms]bool{Sep: c.nilSep, Inv: c.nilInv, CI: c.nilCI}
			for term, s := range TermSpecs {
				g, w := got[term], want.Term[term]
				switch {
				case wantNil[term] && g != nil:
					t.Errorf("%s = %g, want nil (undefined)", s.Key, *g)
				case !wantNil[term] && g == nil:
					t.Errorf("%s is nil, want %g", s.Key, w)
				case g != nil && relErr(*g, w) > 1e-9:
					t.Errorf("%s = %g, the full graph %g", s.Key, *g, w)
				}
			}
			if *got[Cap] >= 0 {
				t.Errorf("cap = %g: the unweighted capacity term is negative", *got[Cap])
			}
			if _, err := m.AllTerms(testBatch(t, B, T, c.augment, 99)); err == nil {
				t.Error("AllTerms of another microbatch than the last run's: no error")
			}
		})
	}
}

func TestTermByKey(t *testing.T) {
	for _, c := range []struct {
		key  string
		want Term
		ok   bool
	}{{"sep", Sep, true}, {"inv", Inv, true}, {"cap", Cap, true}, {"ci", CI, true}, {"loss", 0, false}, {"", 0, false}} {
		if got, ok := TermByKey(c.key); got != c.want || ok != c.ok {
			t.Errorf("TermByKey(%q) = %v, %v; want %v, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

// TestPairCoefficients: the coefficients are, bit for bit, the expressions
// each engine evaluated before they were gathered in PairCoefficients (the
// CPU's c = -lambda_sep/(2 sigma_g^2) / M and lambda_inv / M, the CUDA
// engine's lambda_sep (-2/(sigma_g^2 M)) and 4 lambda_inv / M), and the two
// conventions agree up to the factor 4 and a few ulp of rounding (three
// roundings each, so within 1e-15 relative).
func TestPairCoefficients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lcs := []LossConfig{PaperLoss(), {SigmaX: 0.05, SigmaG: 0.1, LambdaSep: 0.3, LambdaInv: 7, Reduction: ReduceSum}}
	for k := 0; k < 200; k++ {
		lcs = append(lcs, LossConfig{SigmaG: 0.01 + rng.Float64(), LambdaSep: rng.Float64() * 10, LambdaInv: rng.Float64() * 10, Reduction: ReduceMean})
	}
	for _, lc := range lcs {
		pc := PairCoefficients(lc)
		if want := 1 / (2 * lc.SigmaG * lc.SigmaG); pc.Inv2SG != want {
			t.Fatalf("%+v: Inv2SG = %v, want %v", lc, pc.Inv2SG, want)
		}
		for _, n := range []float64{0, 1, 2, 3, 7, 960 * 959, 3900 * 3899, float64(rng.IntN(1 << 30))} {
			m := PairDivisor(n, lc.Reduction)
			if lc.Reduction == ReduceSum && m != 1 || lc.Reduction == ReduceMean && m != max(n, 1) {
				t.Fatalf("PairDivisor(%v, %s) = %v", n, lc.Reduction, m)
			}
			same := func(what string, got, want float64) {
				t.Helper()
				if math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("%+v, M = %v: %s = %v, want %v (bit for bit)", lc, m, what, got, want)
				}
			}
			same("Sep", pc.Sep.At(m), -lc.LambdaSep*(1/(2*lc.SigmaG*lc.SigmaG))/m)
			same("Inv", pc.Inv.At(m), lc.LambdaInv/m)
			same("Sep4", pc.Sep4.At(m), lc.LambdaSep*(-2/(lc.SigmaG*lc.SigmaG*m)))
			same("Inv4", pc.Inv4.At(m), lc.LambdaInv*4/m)
			same("Inv4 = 4 Inv", pc.Inv4.At(m), 4*pc.Inv.At(m))
			if s, s4 := pc.Sep.At(m), pc.Sep4.At(m); math.Abs(s4-4*s) > 1e-15*math.Abs(s4) {
				t.Fatalf("%+v, M = %v: Sep4 = %v is not 4 Sep = %v", lc, m, s4, 4*s)
			}
		}
	}
}

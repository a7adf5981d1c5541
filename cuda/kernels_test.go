//go:build gridgpu_cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/reference"
)

// Each kernel alone against a float64 CPU computation on fresh random
// inputs, with outputs poisoned (NaN) beforehand and every element checked.
// What a stage computes of the model or its losses is taken from package
// reference, applied to the stage's inputs as they are on the device.

// gemmFamily is one way to run the products: kernels prefix+"nt", "nn",
// "tn" through run (device.gemm or device.gemmTiles).
type gemmFamily struct {
	name, prefix string
	run          func(d *device, kind string, M, N, K int, A devPtr, lda int, B devPtr, ldb int, C devPtr, ldc int, bias devPtr, flags int, ws devPtr, sms int) error
}

// TestGEMM checks the production products: the FP32 SIMT kernels, and
// cuBLAS where GRIDGPU_GEMM selects it (or auto finds it). The kernel lab's
// families have their own test (lab_test.go).
func TestGEMM(t *testing.T) {
	seed := freshSeed(t)
	e := newTestEngine(t, size{2, 3, 8, 8}, graph.PaperLoss(), seed)
	families := []gemmFamily{{"SIMT", "gemm_", (*device).gemmTiles}}
	if e.d.blas != "" {
		families = append(families, gemmFamily{"cuBLAS", "gemm_", (*device).gemm})
	}
	for _, f := range families {
		checkGEMM(t, e, rand.New(rand.NewPCG(seed, 1)), f)
	}
}

// checkGEMM runs family f's three products on shapes with ragged edges,
// split K and every epilogue, outputs poisoned beforehand, against
// naiveProduct.
func checkGEMM(t *testing.T, e *Engine, r *rand.Rand, f gemmFamily) {
	type tc struct{ M, N, K int }
	cases := []tc{{1, 1, 1}, {37, 50, 19}, {130, 257, 300}, {7, 300, 5000}, {257, 2, 1000}, {128, 128, 64}, {300, 129, 8000}}
	for _, op := range []string{"nt", "nn", "tn"} {
		kind := f.prefix + op
		ta, tb := op == "tn", op == "nt"
		for _, c := range cases {
			for _, flags := range []int{0, flagAcc, flagBias | flagReLU} {
				M, N, K := c.M, c.N, c.K
				A, B := randSlice(r, M*K, 1), randSlice(r, K*N, 1)
				C0, bias := randSlice(r, M*N, 1), randSlice(r, N, 1)
				lda, ldb := K, N
				if ta {
					lda = M
				}
				if tb {
					ldb = K
				}
				want := naiveProduct(ta, tb, A, B, M, K, N)
				for m := 0; m < M; m++ {
					for n := 0; n < N; n++ {
						s := &want[m*N+n]
						if flags&flagBias != 0 {
							*s += float64(bias[n])
						}
						if flags&flagAcc != 0 {
							*s += float64(C0[m*N+n])
						}
						if flags&flagReLU != 0 {
							*s = math.Max(*s, 0)
						}
					}
				}
				splits, _ := gemmPlan(M, N, K, e.sms)
				var dA, dB, dC, dBias, dWs devPtr
				got := make([]float32, M*N)
				err := e.d.run(func() error {
					var err error
					for _, a := range []struct {
						p *devPtr
						n int
					}{{&dA, M * K}, {&dB, K * N}, {&dC, M * N}, {&dBias, N}, {&dWs, splits * M * N}} {
						if *a.p, err = e.d.alloc(int64(4*a.n), "test"); err != nil {
							return err
						}
					}
					defer func() {
						for _, p := range []devPtr{dA, dB, dC, dBias, dWs} {
							e.d.free(p)
						}
					}()
					e.d.upload(dA, A)
					e.d.upload(dB, B)
					e.d.upload(dBias, bias)
					if flags&flagAcc != 0 {
						e.d.upload(dC, C0)
					} else {
						e.d.fill(dC, nanBits, M*N)
					}
					e.d.fill(dWs, nanBits, splits*M*N)
					if err := f.run(e.d, kind, M, N, K, dA, lda, dB, ldb, dC, N, dBias, flags, dWs, e.sms); err != nil {
						return err
					}
					return e.d.download(got, dC)
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Run(f.name, func(t *testing.T) {
					t.Logf("%s (%s) M=%d N=%d K=%d flags=%d splits=%d", kind, f.name, M, N, K, flags, splits)
					closeTo(t, kind, got, want, 2e-5)
				})
			}
		}
	}
}

// TestStages runs one microbatch's stages one at a time; before each stage it
// poisons the stage's outputs, after it checks them against the float64
// reference (package reference) applied to the stage's inputs as they are
// on the device.
// The stages run on permute-augmented microbatches, so on the
// distinct-velocity path (the MLP on U rows); "allrows" forces the P-row
// path on the same kind of batch, "dup" gives one velocity to twice as many
// states as the others (U = T-1; with B > 16 its states span several of
// dw_distinct's chunks).
func TestStages(t *testing.T) {
	for _, s := range []size{{6, 13, 40, 48}, {16, 20, 128, 256}} {
		for _, red := range []string{graph.ReduceMean, graph.ReduceSum} {
			t.Run(s.String()+"_"+red, func(t *testing.T) { testStages(t, s, red, stageOpts{}) })
		}
	}
	for _, s := range []size{{6, 13, 40, 48}, {16, 20, 128, 256}} {
		t.Run(s.String()+"_mean_allrows", func(t *testing.T) { testStages(t, s, graph.ReduceMean, stageOpts{allRows: true}) })
	}
	t.Run("B40_T6_N40_H48_mean_dup", func(t *testing.T) { testStages(t, size{40, 6, 40, 48}, graph.ReduceMean, stageOpts{dup: true}) })
	// The first pairwise kernel (GRIDGPU_PAIR=rowblock), kept for comparison.
	t.Run("B16_T20_N128_H256_mean_rowblock", func(t *testing.T) {
		testStages(t, size{16, 20, 128, 256}, graph.ReduceMean, stageOpts{rowblock: true})
	})
}

type stageOpts struct {
	rowblock bool // GRIDGPU_PAIR=rowblock
	allRows  bool // the P-row path (Engine.allRows)
	dup      bool // one velocity shared by 2B states (dupVelocity)
}

// dupVelocity gives the states of b's second velocity (trajectory 0, step
// 1) the first one's value, in every trajectory: the trajectories still
// share their velocities, now T-1 distinct ones, one of them taken twice
// by each trajectory.
func dupVelocity(b *data.Batch) {
	a0, a1 := b.Vel[2], b.Vel[3]
	for i := 0; i < len(b.Vel); i += 2 {
		if b.Vel[i] == a0 && b.Vel[i+1] == a1 {
			b.Vel[i], b.Vel[i+1] = b.Vel[0], b.Vel[1]
		}
	}
}

func testStages(t *testing.T, s size, red string, o stageOpts) {
	seed := freshSeed(t)
	lc := graph.PaperLoss()
	lc.Reduction = red
	e := newTestEngine(t, s, lc, seed)
	if o.rowblock {
		// Safe after allocation: pair_loss needs no more than pair_tile.
		e.d.pairRowBlock = true
	}
	e.allRows = o.allRows
	t.Logf("%s", e.Device())
	b := sampler(t, s, seed+1).Next()
	if o.dup {
		dupVelocity(b)
	}
	rows := e.rowsOf(b)
	R := rows.U
	switch {
	case o.allRows && (R != s.B*s.T || rows.idx != nil):
		t.Fatalf("allRows: the MLP has %d rows, want P = %d", R, s.B*s.T)
	case !o.allRows && o.dup && R != s.T-1, !o.allRows && !o.dup && R != s.T:
		t.Fatalf("permute-augmented batch: the MLP has %d rows, want the distinct velocities (T = %d, dup %v)", R, s.T, o.dup)
	}
	t.Logf("MLP rows: %d of P = %d", R, s.B*s.T)
	// Random (not zero) gradient sums, so that accumulation is checked too.
	r := rand.New(rand.NewPCG(seed, 2))
	e.put(t, e.grad, randSlice(r, e.total, 1e-3))
	P, N, H, NN, B, T := e.P, e.N, e.H, e.NN, e.B, e.T
	par := make([][]float32, 7)
	for i := range par {
		n := e.total - e.off[i]
		if i+1 < 7 {
			n = e.off[i+1] - e.off[i]
		}
		par[i] = e.get(t, e.tensor(i), n)
	}
	Sm := func() []float64 { return e.getF64(t, e.slots(0), slotStride) }
	V := f64s(b.Vel)
	X := f64s(b.Positions())
	var dGbefore, gradBefore, WfBefore []float32
	var names []string
	for _, st := range e.stages(b, 0, true) {
		names = append(names, st.name)
		// Poison outputs and remember in-place inputs.
		switch st.name {
		case "mlp_in":
			e.poison(t, e.h1, R*H)
		case "gemm h2":
			e.poison(t, e.h2, R*H)
		case "gemm W", "dw_distinct":
			e.poison(t, e.Wf, R*NN)
		case "g0_forward":
			e.poison(t, e.g0, N)
			e.poison(t, e.n0, 1)
		case "rnn_forward":
			e.poison(t, e.G, P*N)
			e.poison(t, e.GP, P*N)
			e.poison(t, e.nrm, P)
		case "pair_loss":
			e.poison(t, e.dG, P*N)
		case "cap_finalize":
			e.poison(t, e.capg, N)
		case "ci_backward":
			e.poison(t, e.dg0ci, B*N)
		case "rnn_backward":
			e.poison(t, e.DY, P*N)
			e.poison(t, e.dg0b, B*N)
		case "gemm dh2":
			e.poison(t, e.dh2, R*H)
		case "gemm dh1":
			e.poison(t, e.dh1, R*H)
		}
		switch st.name {
		case "add_rowvec", "ci_backward", "rnn_backward":
			dGbefore = e.get(t, e.dG, P*N)
			WfBefore = e.get(t, e.Wf, R*NN)
		}
		gradBefore = e.get(t, e.grad, e.total)
		// Stages launch kernels: like every driver call they must run on
		// the device thread, where the context is current.
		if err := e.d.run(st.run); err != nil {
			t.Fatal(err)
		}
		e.sync(t)
		checkStage(t, e, st.name, rows, V, X, par, lc, dGbefore, gradBefore, WfBefore, Sm)
		if t.Failed() {
			t.Fatalf("stage %s failed", st.name)
		}
	}
	if e.lastU != R {
		t.Errorf("the engine ran the MLP on %d rows, want %d", e.lastU, R)
	}
	want := "gemm dB2"
	if rows.idx != nil {
		want = "dw_distinct"
	}
	if !slices.Contains(names, want) {
		t.Errorf("stages %v lack %s", names, want)
	}
	_ = T
}

// checkStage checks stage name's outputs; rows is the microbatch's MLP rows
// (the distinct velocities, or every state).
func checkStage(t *testing.T, e *Engine, name string, rows mlpRows, V, X []float64, par [][]float32, lc graph.LossConfig,
	dGb, gradB, WfB []float32, Sm func() []float64) {
	P, N, H, NN, B, T := e.P, e.N, e.H, e.NN, e.B, e.T
	R := rows.U // rows of the MLP
	// wrow is the row of Wf that state i uses.
	wrow := func(i int) int {
		if rows.idx == nil {
			return i
		}
		return int(rows.idx[i])
	}
	const tol = 2e-5
	// linear applies one layer of the MLP to each of its input rows.
	linear := func(in []float32, K int, W, bias []float32, outN int, relu bool) []float64 {
		w, b := f64s(W), f64s(bias)
		out := make([]float64, 0, len(in)/K*outN)
		for i := 0; i < len(in)/K; i++ {
			out = append(out, reference.Linear(f64s(in[i*K:(i+1)*K]), w, b, relu)...)
		}
		return out
	}
	// stateRows splits [P][N] device values into float64 rows.
	stateRows := func(x []float32) [][]float64 {
		out := make([][]float64, P)
		for i := range out {
			out[i] = f64s(x[i*N : (i+1)*N])
		}
		return out
	}
	flat := func(x [][]float64) []float64 {
		var out []float64
		for _, r := range x {
			out = append(out, r...)
		}
		return out
	}
	// trajectories arranges the device's G and GP as the reference's
	// states [b][t], t = 0..T: g_{b,0} is GP's first row of trajectory b
	// (the device's g_0), g_{b,t} for t >= 1 is G's row b*T + t-1.
	trajectories := func(G, GP []float32) [][][]float64 {
		s := make([][][]float64, B)
		for b := range s {
			s[b] = [][]float64{f64s(GP[b*T*N : (b*T+1)*N])}
			for tt := 0; tt < T; tt++ {
				s[b] = append(s[b], f64s(G[(b*T+tt)*N:(b*T+tt+1)*N]))
			}
		}
		return s
	}
	red := reference.Mean
	if lc.Reduction == graph.ReduceSum {
		red = reference.Sum
	}
	ciWin := reference.PaperCI(lc.SigmaX) // the device computes the paper's window
	gradOff := func(i int) (int, int) {
		n := e.total - e.off[i]
		if i+1 < 7 {
			n = e.off[i+1] - e.off[i]
		}
		return e.off[i], n
	}
	checkGradAdd := func(ti int, add []float64) {
		o, n := gradOff(ti)
		after := e.get(t, e.grad, e.total)[o : o+n]
		want := make([]float64, n)
		for k := range want {
			want[k] = float64(gradB[o+k]) + add[k]
		}
		closeTo(t, name+" "+graph.ParamNames[ti], after, want, tol)
	}
	switch name {
	case "mlp_in":
		// The MLP's input: each state's velocity, or the distinct ones,
		// which must be the velocities of the states that use them.
		vel := make([]float32, 2*P)
		for i := range vel {
			vel[i] = float32(V[i])
		}
		if rows.idx != nil {
			vu := e.get(t, e.Vu, 2*R)
			for i := 0; i < P; i++ {
				if u := wrow(i); vu[2*u] != vel[2*i] || vu[2*u+1] != vel[2*i+1] {
					t.Fatalf("state %d has velocity %v, its row %d of the MLP %v", i, vel[2*i:2*i+2], u, vu[2*u:2*u+2])
				}
			}
			vel = vu
		}
		closeTo(t, "h1", e.get(t, e.h1, R*H), linear(vel, 2, par[tW0], par[tB0], H, true), tol)
	case "gemm h2":
		closeTo(t, "h2", e.get(t, e.h2, R*H), linear(e.get(t, e.h1, R*H), H, par[tW1], par[tB1], H, true), tol)
	case "gemm W":
		closeTo(t, "Wf", e.get(t, e.Wf, R*NN), linear(e.get(t, e.h2, R*H), H, par[tW2], par[tB2], NN, false), tol)
	case "g0_forward":
		g, n := reference.NormReLU(f64s(par[tG0]))
		closeTo(t, "g0", e.get(t, e.g0, N), g, tol)
		closeTo(t, "n0", e.get(t, e.n0, 1), []float64{n}, tol)
	case "rnn_forward":
		Wf := e.get(t, e.Wf, R*NN)
		g0 := e.get(t, e.g0, N)
		wantG, wantGP, wantN := make([]float64, P*N), make([]float64, P*N), make([]float64, P)
		for b := 0; b < B; b++ {
			// Each step from the device's previous state, so that rounding
			// does not compound over T in the comparison.
			prev := f64s(g0)
			Gdev := e.get(t, e.G, P*N)
			for tt := 0; tt < T; tt++ {
				i := b*T + tt
				w := wrow(i)
				g, n := reference.Step(f64s(Wf[w*NN:(w+1)*NN]), prev)
				copy(wantG[i*N:], g)
				copy(wantGP[i*N:], prev)
				wantN[i] = n
				prev = f64s(Gdev[i*N : (i+1)*N])
			}
		}
		closeTo(t, "G", e.get(t, e.G, P*N), wantG, 1e-4)
		closeTo(t, "GP", e.get(t, e.GP, P*N), wantGP, 1e-4)
		closeTo(t, "nrm", e.get(t, e.nrm, P), wantN, 1e-4)
	case "zeros":
		nrm := e.get(t, e.nrm, P)
		z := 0
		for _, n := range nrm {
			if !(float64(n) > reference.ZeroNorm) {
				z++
			}
		}
		scalarClose(t, "zeros", Sm()[sZeros], float64(z), 0)
	case "pair_coef":
		ps := reference.Pairs(make([][]float64, P), X, lc.SigmaX, lc.SigmaG) // counts only: the states do not matter
		far, near := float64(ps.Far), float64(ps.Near)
		S := Sm()
		scalarClose(t, "far pairs", S[sNFar], far, 0)
		scalarClose(t, "near pairs", S[sNNear], near, 0)
		mf, mn := 1.0, 1.0
		if lc.Reduction == graph.ReduceMean {
			mf, mn = math.Max(far, 1), math.Max(near, 1)
		}
		scalarClose(t, "csep", S[sCSep], lc.LambdaSep*(-2/(lc.SigmaG*lc.SigmaG*mf)), 1e-12)
		scalarClose(t, "cinv", S[sCInv], lc.LambdaInv*4/mn, 1e-12)
		// The kernel evaluates graph.PairCoefficients' definition, bit for bit.
		pc := graph.PairCoefficients(lc)
		if got, want := S[sCSep], pc.Sep4.At(mf); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("csep = %v, graph.PairCoefs.Sep4.At(%v) = %v: not the same bits", got, mf, want)
		}
		if got, want := S[sCInv], pc.Inv4.At(mn); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("cinv = %v, graph.PairCoefs.Inv4.At(%v) = %v: not the same bits", got, mn, want)
		}
	case "pair_loss reduce":
		G := stateRows(e.get(t, e.G, P*N))
		S := Sm()
		ps := reference.Pairs(G, X, lc.SigmaX, lc.SigmaG)
		dG := reference.PairGrad(G, X, lc.SigmaX, lc.SigmaG, lc.LambdaSep, lc.LambdaInv, red)
		scalarClose(t, "sep sum", S[sSepSum], ps.SepSum, 1e-5)
		scalarClose(t, "inv sum", S[sInvSum], ps.InvSum, 1e-4)
		closeTo(t, "dG (pairwise)", e.get(t, e.dG, P*N), flat(dG), 1e-4)
	case "cap_finalize":
		G := stateRows(e.get(t, e.G, P*N))
		capg := reference.CapacityGrad(G)[0] // the same for every state
		for k := range capg {
			capg[k] *= lc.LambdaCap
		}
		scalarClose(t, "|mean g|^2", Sm()[sCapN2], -reference.Capacity(G), 1e-6)
		closeTo(t, "capg", e.get(t, e.capg, N), capg, 1e-6)
	case "add_rowvec":
		capg := e.get(t, e.capg, N)
		want := make([]float64, P*N)
		for i := range want {
			want[i] = float64(dGb[i]) + float64(capg[i%N])
		}
		closeTo(t, "dG (+cap)", e.get(t, e.dG, P*N), want, 1e-6)
	case "ci_coef":
		pairs := reference.CIPairs(trajectories(e.get(t, e.G, P*N), e.get(t, e.GP, P*N)), V, ciWin)
		var s1 float64
		for _, p := range pairs {
			s1 += p.R
		}
		K := float64(len(pairs))
		S := Sm()
		scalarClose(t, "ci count", S[sCIK], K, 0)
		scalarClose(t, "ci sum r", S[sCISum], s1, 1e-5)
		scalarClose(t, "ci mean r", S[sCIMean], s1/K, 1e-5)
		scalarClose(t, "ci coefficient", S[sCICoef], lc.LambdaCI*2/K, 1e-12)
	case "ci_var reduce":
		// The second pass: the sum of squared deviations from the mean r
		// of the first (the reference's two-pass variance, times K).
		pairs := reference.CIPairs(trajectories(e.get(t, e.G, P*N), e.get(t, e.GP, P*N)), V, ciWin)
		var mean, dev float64
		for _, p := range pairs {
			mean += p.R / float64(len(pairs))
		}
		for _, p := range pairs {
			dev += (p.R - mean) * (p.R - mean)
		}
		scalarClose(t, "ci sum (r - mean r)^2", Sm()[sCISqDev], dev, 1e-4)
	case "ci_backward":
		grad := reference.CIGrad(trajectories(e.get(t, e.G, P*N), e.get(t, e.GP, P*N)), V, ciWin)
		want := f64s(dGb)
		dg0 := make([]float64, B*N)
		for b := 0; b < B; b++ {
			for k := 0; k < N; k++ {
				dg0[b*N+k] = lc.LambdaCI * grad[b][0][k]
			}
			for tt := 1; tt <= T; tt++ {
				for k := 0; k < N; k++ {
					want[(b*T+tt-1)*N+k] += lc.LambdaCI * grad[b][tt][k]
				}
			}
		}
		closeTo(t, "dG (+ci)", e.get(t, e.dG, P*N), want, 1e-4)
		closeTo(t, "dg0 (ci)", e.get(t, e.dg0ci, B*N), dg0, 1e-4)
	case "loss_finalize":
		S := Sm()
		var sep, inv float64
		if lc.Reduction == graph.ReduceMean {
			sep, inv = S[sSepSum]/S[sNFar], S[sInvSum]/S[sNNear]
		} else {
			sep, inv = S[sSepSum], S[sInvSum]
		}
		ci, _ := reference.ConformalIsometry(trajectories(e.get(t, e.G, P*N), e.get(t, e.GP, P*N)), V, ciWin)
		scalarClose(t, "L_sep", S[sLSep], sep, 1e-12)
		scalarClose(t, "L_inv", S[sLInv], inv, 1e-12)
		scalarClose(t, "L_cap", S[sLCap], -S[sCapN2], 1e-12)
		scalarClose(t, "L_ci (reference, on the device's states)", S[sLCI], ci, 1e-5)
		scalarClose(t, "L", S[sLTot], lc.LambdaSep*sep+lc.LambdaInv*inv-lc.LambdaCap*S[sCapN2]+lc.LambdaCI*S[sLCI], 1e-12)
	case "rnn_backward":
		G, GP, nrm := e.get(t, e.G, P*N), e.get(t, e.GP, P*N), e.get(t, e.nrm, P)
		dg0ci := e.get(t, e.dg0ci, B*N)
		DYdev := e.get(t, e.DY, P*N)
		wantDY, wantW, wantG0 := make([]float64, P*N), make([]float64, R*NN), make([]float64, B*N)
		for b := 0; b < B; b++ {
			carry := make([]float64, N)
			for tt := T - 1; tt >= 0; tt-- {
				i := b*T + tt
				dg := make([]float64, N)
				for k := range dg {
					dg[k] = float64(dGb[i*N+k]) + carry[k]
				}
				copy(wantDY[i*N:], reference.NormReLUGrad(f64s(G[i*N:(i+1)*N]), float64(nrm[i]), dg))
				// Carry from the device's dy so that errors do not compound.
				for c := 0; c < N; c++ {
					carry[c] = 0
				}
				w := wrow(i)
				for r := 0; r < N; r++ {
					dy := float64(DYdev[i*N+r])
					for c := 0; c < N; c++ {
						carry[c] += float64(WfB[w*NN+r*N+c]) * dy
						if rows.idx == nil {
							wantW[i*NN+r*N+c] = dy * float64(GP[i*N+c])
						} else {
							wantW[w*NN+r*N+c] = float64(WfB[w*NN+r*N+c])
						}
					}
				}
			}
			for k := 0; k < N; k++ {
				wantG0[b*N+k] = carry[k] + float64(dg0ci[b*N+k])
			}
		}
		closeTo(t, "DY", DYdev, wantDY, 1e-4)
		if rows.idx == nil {
			closeTo(t, "dWf", e.get(t, e.Wf, R*NN), wantW, 1e-5)
		} else {
			// W is shared between states: read, not overwritten.
			closeTo(t, "Wf (unchanged)", e.get(t, e.Wf, R*NN), wantW, 0)
		}
		closeTo(t, "dg0 per trajectory", e.get(t, e.dg0b, B*N), wantG0, 1e-4)
	case "g0_backward":
		dg0b, g0, n0 := e.get(t, e.dg0b, B*N), e.get(t, e.g0, N), e.get(t, e.n0, 1)
		checkGradAdd(tG0, reference.NormReLUGrad(f64s(g0), float64(n0[0]), colSums(dg0b, B, N)))
	case "dw_distinct":
		// dW_u = sum over the states i of velocity u of dy_i gp_i^T.
		DY, GP := e.get(t, e.DY, P*N), e.get(t, e.GP, P*N)
		want := make([]float64, R*NN)
		for i := 0; i < P; i++ {
			u := wrow(i)
			for r := 0; r < N; r++ {
				for c := 0; c < N; c++ {
					want[u*NN+r*N+c] += float64(DY[i*N+r]) * float64(GP[i*N+c])
				}
			}
		}
		closeTo(t, "dW per velocity", e.get(t, e.Wf, R*NN), want, 1e-5)
	case "colsum dB2":
		checkGradAdd(tB2, colSums(e.get(t, e.Wf, R*NN), R, NN))
	case "gemm dB2":
		checkGradAdd(tB2, naiveProduct(true, false, e.get(t, e.DY, P*N), e.get(t, e.GP, P*N), N, P, N))
	case "gemm dW2":
		checkGradAdd(tW2, naiveProduct(true, false, e.get(t, e.Wf, R*NN), e.get(t, e.h2, R*H), NN, R, H))
	case "gemm dh2", "gemm dh1":
		src, W, dst, K := e.Wf, par[tW2], e.dh2, NN
		if name == "gemm dh1" {
			src, W, dst, K = e.dh2, par[tW1], e.dh1, H
		}
		closeTo(t, name, e.get(t, dst, R*H), naiveProduct(false, false, e.get(t, src, R*K), W, R, K, H), 1e-4)
	case "colsum dB1", "colsum dB0":
		src, ti := e.dh2, tB1
		if name == "colsum dB0" {
			src, ti = e.dh1, tB0
		}
		checkGradAdd(ti, colSums(e.get(t, src, R*H), R, H))
	case "gemm dW1", "gemm dW0":
		dY, X2, ti, K := e.get(t, e.dh2, R*H), e.get(t, e.h1, R*H), tW1, H
		if name == "gemm dW0" {
			vin := e.V
			if rows.idx != nil {
				vin = e.Vu
			}
			dY, X2, ti, K = e.get(t, e.dh1, R*H), e.get(t, vin, 2*R), tW0, 2
		}
		checkGradAdd(ti, naiveProduct(true, false, dY, X2, H, R, K))
	case "relu_mask h2", "relu_mask h1":
		d, h := e.dh2, e.h2
		if name == "relu_mask h1" {
			d, h = e.dh1, e.h1
		}
		hv := e.get(t, h, R*H)
		for i, v := range e.get(t, d, R*H) {
			if !(hv[i] > 0) && v != 0 {
				t.Fatalf("%s: element %d passes gradient %g where the ReLU output is %g", name, i, v, hv[i])
			}
		}
	}
}

// TestOptimizer checks sumsq, opt_finalize and adamw against the train
// package's reference (train.ClipAndAdamW) on random parameters, moments and
// gradient sums, with clipping on and off.
func TestOptimizer(t *testing.T) {
	seed := freshSeed(t)
	s := size{3, 4, 40, 48}
	e := newTestEngine(t, s, graph.PaperLoss(), seed)
	r := rand.New(rand.NewPCG(seed, 3))
	for _, clip := range []float64{0.1, 1e6, 0} {
		for _, K := range []int{1, 2} {
			p := graph.ZeroParams(s.N, s.H)
			g := graph.ZeroParams(s.N, s.H)
			st := graph.ZeroParams(s.N, s.H)
			st2 := graph.ZeroParams(s.N, s.H)
			for i := range p.Slices() {
				copy(p.Slices()[i], randSlice(r, len(p.Slices()[i]), 1))
				copy(g.Slices()[i], randSlice(r, len(p.Slices()[i]), 0.01))
				copy(st.Slices()[i], randSlice(r, len(p.Slices()[i]), 0.01))
				v := randSlice(r, len(p.Slices()[i]), 1e-4)
				for k := range v {
					v[k] = float32(math.Abs(float64(v[k])))
				}
				copy(st2.Slices()[i], v)
			}
			e.spec.Opt.ClipNorm = clip
			gsum := g.Clone()
			for _, x := range gsum.Slices() {
				for k := range x {
					x[k] *= float32(K)
				}
			}
			ref := trainRef(p, g, st, st2, 7, clip, 0.01)
			// Device: same state, gradient sum = K*g, step count 6 -> 7.
			e.step = 6
			if err := e.SetParams(p); err != nil {
				t.Fatal(err)
			}
			if err := e.d.run(func() error {
				if err := e.uploadParams(e.mom, st); err != nil {
					return err
				}
				if err := e.uploadParams(e.vel, st2); err != nil {
					return err
				}
				if err := e.uploadParams(e.grad, gsum); err != nil {
					return err
				}
				return e.d.fill(e.slots(0), 0, 2*slotStride*K)
			}); err != nil {
				t.Fatal(err)
			}
			var scal []float64
			err := e.d.run(func() error {
				G := e.slots(-1)
				if err := e.d.launch("sumsq", sumsqBlocks, 1, 1, 256, 0, ptr(e.grad), i64(e.total), ptr(e.part)); err != nil {
					return err
				}
				if err := e.d.reduce(e.part, sumsqBlocks, 1, G+8*gSumSq); err != nil {
					return err
				}
				if err := e.d.launch("opt_finalize", 1, 1, 1, 1, 0, ptr(G), ptr(e.slots(0)), i64(slotStride), i64(K), f64(clip)); err != nil {
					return err
				}
				oc := e.spec.Opt
				if err := e.d.launch("adamw", gridFor(e.total), 1, 1, 256, 0, ptr(e.par), ptr(e.grad), ptr(e.mom), ptr(e.vel), i64(e.total), ptr(G),
					f64(0.01), f64(oc.WeightDecay), f64(oc.Beta1), f64(oc.Beta2), f64(oc.Eps), f64(1-math.Pow(oc.Beta1, 7)), f64(1-math.Pow(oc.Beta2, 7))); err != nil {
					return err
				}
				scal = make([]float64, slotStride)
				return e.d.downloadF64(scal, G)
			})
			if err != nil {
				t.Fatal(err)
			}
			scalarClose(t, "grad norm", scal[gNorm], ref.norm, 1e-9)
			gotP, _ := e.Params()
			gotS, _ := e.OptState()
			for i, name := range graph.ParamNames {
				closeTo(t, "p "+name, gotP.Slices()[i], f64s(ref.p.Slices()[i]), 1e-6)
				closeTo(t, "m "+name, gotS.M.Slices()[i], f64s(ref.m.Slices()[i]), 1e-6)
				closeTo(t, "v "+name, gotS.V.Slices()[i], f64s(ref.v.Slices()[i]), 1e-6)
			}
		}
	}
}

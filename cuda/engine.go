//go:build gridgpu_cuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/train"
)

func init() {
	train.RegisterBackend(train.DeviceCUDA, func(spec train.EngineSpec) (train.Engine, error) { return NewEngine(spec) })
}

// maxN is the largest state size the pairwise and recurrence kernels handle
// (each lane keeps up to 8 columns of 32 in registers).
const maxN = 256

// Engine runs SIC training steps on one GPU. It implements train.Engine.
type Engine struct {
	d          *device
	spec       train.EngineSpec
	B, T, N, H int
	P, NN      int
	sms        int
	step       int64

	// Parameters, gradient sum, AdamW moments: each one flat buffer in
	// graph.ParamNames order, so that norm, clip and update are single
	// launches over all tensors.
	par, grad, mom, vel devPtr
	off                 []int // element offset of each tensor
	total               int

	V, X             devPtr // [P,2]
	h1, h2, dh1, dh2 devPtr // [rows,H]
	Wf               devPtr // [rows,N*N], becomes dWf in the backward pass
	Vu               devPtr // [T,2] the distinct velocities (distinct.go)
	rowIdx           devPtr // int32 [2P+T+1]: mlpRows.idx
	G, GP, DY, dG    devPtr // [P,N]
	nrm              devPtr // [P]
	g0, n0, capg     devPtr // [N], [1], [N]
	dg0ci, dg0b      devPtr // [B,N]
	colD             devPtr // [N] float64
	part             devPtr // float64 block partials
	S                devPtr // float64 scalar slots
	weights          devPtr // float64 [len(cudaTerms)]: cudaWeights(spec.Loss), uploaded by allocate
	ws               devPtr // split-K workspace
	maxMicro         int
	profile          map[string]time.Duration
	partLen, sLen    int
	pairWsLen        int // pair_tile's share of the workspace
	allocated        int64

	// rows is how many MLP rows the row-sized buffers (mlpBufs) hold: T
	// (the distinct-velocity path) until a microbatch without shared
	// velocities needs P.
	rows int
	// allRows makes every microbatch take the P-row path (a test hook: the
	// two paths on the same batch).
	allRows bool
	// lastU is the number of MLP rows of the last microbatch run: U on the
	// distinct-velocity path, P otherwise.
	lastU int
}

// pairTiled reports whether the pairwise terms use pair_tile (gpu.pair
// tiled, the default, for N <= 128) rather than pair_loss (gpu.pair
// rowblock, or N > 128).
func (e *Engine) pairTiled() bool { return !e.d.pairRowBlock && e.N <= pairTileMaxN }

// Device implements train.Engine. Besides the GPU it names the effective
// kernel choices, "gemm REQUESTED[: RESOLVED]; pair KERNEL", e.g.
// "cuda:0 (NVIDIA H200; gemm auto: cublas libcublas.so.12; pair tiled)".
func (e *Engine) Device() string {
	return fmt.Sprintf("cuda:%d (%s; gemm %s; pair %s)", e.d.ordinal, e.d.name, e.gemmKind(), e.pairKind())
}

// gemmKind is the GEMM the large products use, as a gpu.gemm value (with
// what auto resolved to and the cuBLAS library).
func (e *Engine) gemmKind() string {
	kind := "simt"
	if e.d.blas != "" {
		kind = "cublas " + e.d.blas
	}
	if e.d.gemmReq == "auto" {
		return "auto: " + kind
	}
	return kind
}

// pairKind is the pairwise kernel, as a gpu.pair value.
func (e *Engine) pairKind() string {
	switch {
	case e.pairTiled():
		return "tiled"
	case e.d.pairRowBlock:
		return "rowblock"
	}
	return fmt.Sprintf("rowblock (tiled takes N <= %d)", pairTileMaxN)
}

// AllocatedBytes is the device memory the engine holds (its buffers; the
// CUDA context and the loaded kernels come on top).
func (e *Engine) AllocatedBytes() int64 { return e.allocated }

func (e *Engine) tensor(i int) devPtr { return e.par + devPtr(4*e.off[i]) }
func (e *Engine) gtensor(i int) devPtr {
	return e.grad + devPtr(4*e.off[i])
}

// Tensor indices in graph.ParamNames order.
const (
	tW0 = iota
	tB0
	tW1
	tB1
	tW2
	tB2
	tG0
)

// NewEngine allocates everything a step needs for spec's shapes and copies
// spec.Init to the device.
func NewEngine(spec train.EngineSpec) (*Engine, error) {
	if err := spec.Loss.Validate(); err != nil {
		return nil, err
	}
	if t, ok := cpuOnlyTerm(spec.Loss, cudaTerms); ok {
		ts := graph.TermSpecs[t]
		return nil, fmt.Errorf("loss.%s = %g: the CUDA engine has no %s term; train it with --device cpu", ts.WeightKey, *ts.Weight(&spec.Loss), ts.Name)
	}
	if spec.Loss.LambdaCI != 0 && !spec.Loss.PaperCI() {
		return nil, fmt.Errorf("loss.ci_max_lag/ci_max_dist/ci_scale: the CUDA engine has only the paper's conformal-isometry term (lag 1, steps below sigma_x, variance form); train this setting with --device cpu")
	}
	if spec.Blocks > 1 {
		return nil, fmt.Errorf("model.blocks = %d: the CUDA engine has only the dense W(v); train block-diagonal networks with --device cpu", spec.Blocks)
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	if spec.N > maxN {
		return nil, fmt.Errorf("cuda: N=%d units: the CUDA kernels support N <= %d", spec.N, maxN)
	}
	if !spec.Device.IsCUDA() {
		return nil, fmt.Errorf("device %q: the CUDA backend takes cuda or cuda:N", spec.Device)
	}
	d, err := openDevice(spec.Device.Index, spec.GPU.GEMM, spec.GPU.Pair)
	if err != nil {
		return nil, err
	}
	e := &Engine{d: d, spec: spec, B: spec.B, T: spec.T, N: spec.N, H: spec.H}
	e.P, e.NN = e.B*e.T, e.N*e.N
	if err := d.run(e.allocate); err != nil {
		d.close()
		return nil, err
	}
	if err := e.SetParams(spec.Init); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.SetOptState(train.NewOptState(e.N, e.H)); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) allocate() error {
	var err error
	if e.sms, err = e.d.drv.sms(); err != nil {
		return err
	}
	P, N, H, B, T := e.P, e.N, e.H, e.B, e.T
	sizes := graph.ZeroParams(N, H).Slices()
	e.off = make([]int, len(sizes))
	for i, s := range sizes {
		e.off[i] = e.total
		e.total += len(s)
	}
	cx, cy := pairCountGrid(P)
	e.partLen = max(2*pairBlocks(P), 3*ciBlocks(P), 2*cx*cy, sumsqBlocks, B)
	if e.pairTiled() {
		gx, slabs, _ := pairTilePlan(P, e.sms)
		e.partLen = max(e.partLen, 2*gx*slabs)
		if slabs > 1 {
			e.pairWsLen = slabs * P * N
		}
	}
	e.maxMicro = 16
	e.sLen = (e.maxMicro + 1) * slotStride

	f := func(n int) int64 { return int64(4 * n) }
	// The MLP's row-sized buffers are sized for the distinct-velocity path
	// (T rows); a microbatch without shared velocities grows them to P
	// (ensureRows).
	mlp := e.mlpBufs(T)
	bufs := append(mlp,
		buf{&e.par, f(e.total), "parameters"}, buf{&e.grad, f(e.total), "gradients"},
		buf{&e.mom, f(e.total), "AdamW first moments"}, buf{&e.vel, f(e.total), "AdamW second moments"},
		buf{&e.V, f(2 * P), "velocities"}, buf{&e.X, f(2 * P), "positions"},
		buf{&e.Vu, f(2 * T), "distinct velocities"}, buf{&e.rowIdx, f(2*P + T + 1), "rows of the distinct velocities"},
		buf{&e.G, f(P * N), "states"}, buf{&e.GP, f(P * N), "previous states"},
		buf{&e.DY, f(P * N), "pre-activation gradients"}, buf{&e.dG, f(P * N), "state gradients"},
		buf{&e.nrm, f(P), "state norms"}, buf{&e.g0, f(N), "g0"}, buf{&e.n0, f(1), "|g0|"}, buf{&e.capg, f(N), "capacity gradient"},
		buf{&e.dg0ci, f(B * N), "g0 gradients"}, buf{&e.dg0b, f(B * N), "g0 gradients"},
		buf{&e.colD, int64(8 * N), "column sums"}, buf{&e.part, int64(8 * e.partLen), "partial sums"},
		buf{&e.S, int64(8 * e.sLen), "scalars"}, buf{&e.weights, int64(8 * len(cudaTerms)), "loss term weights"},
	)
	var need int64
	for _, b := range bufs {
		need += b.bytes
	}
	if free, total, err := e.d.drv.memInfo(); err == nil && need > free {
		return fmt.Errorf("cuda:%d: out of device memory: B=%d, T=%d, N=%d, H=%d needs %s (%s of it the states and their gradients, 4 x P x N), but only %s of %s is free; use a smaller batch (B*T) or N",
			e.d.ordinal, e.B, e.T, N, H, gib(need), gib(4*f(P*N)), gib(free), gib(total))
	}
	for _, b := range bufs {
		p, err := e.d.alloc(b.bytes, b.what)
		if err != nil {
			return err
		}
		*b.p = p
	}
	e.rows = T
	e.allocated = need
	if err := e.d.uploadF64(e.weights, cudaWeights(e.spec.Loss, cudaTerms)); err != nil {
		return err
	}
	if sh := pairShared(N); sh > 48*1024 {
		if err := e.d.drv.setMaxDynamicShared("pair_loss", sh); err != nil {
			return err
		}
	}
	if e.pairTiled() {
		if err := e.d.drv.setMaxDynamicShared("pair_tile", pairTileShared()); err != nil {
			return err
		}
	}
	return nil
}

// buf is one device buffer of the engine: where its address goes, its size
// and what it is (for out-of-memory messages).
type buf struct {
	p     *devPtr
	bytes int64
	what  string
}

// mlpBufs are the buffers whose size follows the number of MLP rows R: the
// last layer's output W(v) (which becomes its gradient), the hidden layers
// and their gradients, and the matrix-product workspace (whose split-K
// share depends on the products' shapes).
func (e *Engine) mlpBufs(R int) []buf {
	f := func(n int) int64 { return int64(4 * n) }
	return []buf{
		{&e.Wf, f(R * e.NN), fmt.Sprintf("the MLP output W(v) [%d x %d]", R, e.NN)},
		{&e.h1, f(R * e.H), "hidden layer 1"}, {&e.h2, f(R * e.H), "hidden layer 2"},
		{&e.dh1, f(R * e.H), "hidden layer 1 gradient"}, {&e.dh2, f(R * e.H), "hidden layer 2 gradient"},
		{&e.ws, f(e.wsLenFor(R)), "matrix-product workspace"},
	}
}

// wsLenFor is the split-K workspace (floats) for MLP buffers of R rows: the
// largest split product of a step on the distinct-velocity path (any U <= T
// rows) and, with R = P, of the P-row path; at least pair_tile's slabs.
func (e *Engine) wsLenFor(R int) int {
	N, H, NN := e.N, e.H, e.NN
	n := e.pairWsLen
	// The MLP's products on M rows, forward and backward.
	prods := func(M int) [][3]int {
		return [][3]int{{M, H, H}, {M, NN, H}, {NN, H, M}, {M, H, NN}, {H, H, M}, {H, 2, M}}
	}
	add := func(g [3]int) {
		if s, _ := gemmPlan(g[0], g[1], g[2], e.sms); s > 1 {
			n = max(n, s*g[0]*g[1])
		}
	}
	for U := 1; U <= min(e.T, R); U++ {
		for _, g := range prods(U) {
			add(g)
		}
	}
	if R >= e.P {
		for _, g := range append(prods(e.P), [3]int{N, N, e.P}) {
			add(g)
		}
	}
	return n
}

// ensureRows makes the MLP buffers hold at least R rows (P for a microbatch
// without shared velocities); on the device thread. Growing frees the
// smaller buffers first: nothing in them outlives a microbatch.
func (e *Engine) ensureRows(R int) error {
	if R <= e.rows {
		return nil
	}
	var held, need int64
	for _, b := range e.mlpBufs(e.rows) {
		held += b.bytes
	}
	bufs := e.mlpBufs(R)
	for _, b := range bufs {
		need += b.bytes
	}
	if free, total, err := e.d.drv.memInfo(); err == nil && need > free+held {
		return fmt.Errorf("cuda:%d: out of device memory: a microbatch whose trajectories do not share their velocities (data.augment none) runs the MLP on all B*T = %d rows, which needs %s more (%s for the %d x N^2 MLP output), but only %s of %s is free; use a smaller batch (B*T) or N, or data.augment permute",
			e.d.ordinal, R, gib(need-held), gib(bufs[0].bytes), R, gib(free), gib(total))
	}
	for _, b := range e.mlpBufs(e.rows) {
		e.d.free(*b.p)
		*b.p = 0
	}
	e.allocated -= held
	e.rows = 0 // until all are allocated: a later microbatch tries again
	for i, b := range bufs {
		p, err := e.d.alloc(b.bytes, b.what)
		if err != nil {
			for _, a := range bufs[:i] {
				e.d.free(*a.p)
				*a.p = 0
				e.allocated -= a.bytes
			}
			return err
		}
		*b.p = p
		e.allocated += b.bytes
	}
	e.rows = R
	return nil
}

// slots returns the device address of microbatch m's scalar block (m = -1:
// the step-wide block after maxMicro microbatches).
func (e *Engine) slots(m int) devPtr {
	if m < 0 {
		m = e.maxMicro
	}
	return e.S + devPtr(8*slotStride*m)
}

func (e *Engine) slot(m, s int) devPtr { return e.slots(m) + devPtr(8*s) }

func (e *Engine) checkBatch(b *data.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.B != e.B || b.T != e.T {
		return fmt.Errorf("cuda: microbatch is %dx%d; the engine was built for B=%d, T=%d", b.B, b.T, e.B, e.T)
	}
	return nil
}

// stage is one launch (or a few) of a microbatch's computation.
type stage struct {
	name string
	run  func() error
}

// microbatch runs the forward pass of one microbatch, its losses into slot
// block m and, if grad, adds its parameter gradient to e.grad. On the device
// thread. With e.profile set it synchronises after each stage and adds the
// stage's wall time to e.profile (for the benchmark's breakdown).
func (e *Engine) microbatch(b *data.Batch, m int, grad bool) error {
	for _, s := range e.stages(b, m, grad) {
		t0 := time.Now()
		if err := s.run(); err != nil {
			return err
		}
		if e.profile != nil {
			if err := e.d.drv.synchronize(); err != nil {
				return fmt.Errorf("cuda:%d: %s: %v", e.d.ordinal, s.name, err)
			}
			e.profile[s.name] += time.Since(t0)
		}
	}
	return nil
}

// stages lists the work of one microbatch (see microbatch); uploads of the
// batch are its first stage. The MLP runs on R rows: the microbatch's U
// distinct velocities, or all P states (rowsOf, distinct.go).
func (e *Engine) stages(b *data.Batch, m int, grad bool) []stage {
	rows := e.rowsOf(b)
	steps := e.forwardStages(b, m, rows)
	steps = append(steps, e.lossStages(m, grad)...)
	if grad {
		steps = append(steps, e.backwardStages(rows)...)
	}
	return steps
}

// mlpInput is what the MLP runs on for rows: R rows of velocities Vin, and
// idx, the row of W each state uses (0 on the P-row path, where row i is
// state i's).
func (e *Engine) mlpInput(rows mlpRows) (R int, Vin, idx devPtr) {
	if rows.idx != nil {
		return rows.U, e.Vu, e.rowIdx
	}
	return rows.U, e.V, 0
}

// forwardStages upload microbatch b and clear its slot block m, run the
// MLP on its rows and the recurrence, leaving the states in e.G.
func (e *Engine) forwardStages(b *data.Batch, m int, rows mlpRows) []stage {
	d := e.d
	N, H, NN, B, T := e.N, e.H, e.NN, e.B, e.T
	R, Vin, idx := e.mlpInput(rows)
	// The row-sized buffers (e.Wf, e.h1, ..., e.ws) may be reallocated by
	// the upload stage (ensureRows): the stages read them when they run.
	return []stage{
		{"upload", func() error {
			if err := e.ensureRows(R); err != nil {
				return err
			}
			e.lastU = R
			if err := e.d.upload(e.V, b.Vel); err != nil {
				return err
			}
			if err := e.d.upload(e.X, b.Positions()); err != nil {
				return err
			}
			if rows.idx != nil {
				if err := e.d.upload(e.Vu, rows.vel); err != nil {
					return err
				}
				if err := e.d.uploadI32(e.rowIdx, rows.idx); err != nil {
					return err
				}
			}
			return e.d.fill(e.slots(m), 0, 2*slotStride)
		}},
		// MLP forward, on R rows.
		{"mlp_in", func() error { return d.mlpIn(Vin, e.tensor(tW0), e.tensor(tB0), e.h1, R, H) }},
		{"gemm h2", func() error {
			return d.gemm("gemm_nt", R, H, H, e.h1, H, e.tensor(tW1), H, e.h2, H, e.tensor(tB1), flagBias|flagReLU, e.ws, e.sms)
		}},
		{"gemm W", func() error {
			return d.gemm("gemm_nt", R, NN, H, e.h2, H, e.tensor(tW2), H, e.Wf, NN, e.tensor(tB2), flagBias, e.ws, e.sms)
		}},
		// Recurrence.
		{"g0_forward", func() error { return d.g0Forward(e.tensor(tG0), e.g0, e.n0, N) }},
		{"rnn_forward", func() error { return d.rnnForward(e.Wf, idx, e.g0, e.G, e.GP, e.nrm, e.part, B, T, N) }},
		{"zeros", func() error { return d.reducePartials(e.part, B, 1, e.slot(m, sZeros)) }},
	}
}

// lossStages compute the loss terms of the states in e.G into slot block
// m and their total, and with grad the loss's gradient in the states, dG
// (and dg0ci, the conformal term's in g0).
func (e *Engine) lossStages(m int, grad bool) []stage {
	d := e.d
	P, N, B, T := e.P, e.N, e.B, e.T
	lc := e.spec.Loss
	S := e.slots(m)
	mean := lc.Reduction == graph.ReduceMean
	var steps []stage
	// Pairwise terms (they write dG first, so they also clear it).
	if lc.LambdaSep != 0 || lc.LambdaInv != 0 {
		pc := graph.PairCoefficients(lc)
		sx2, inv2sg2 := lc.SigmaX*lc.SigmaX, pc.Inv2SG
		doSep, doInv := lc.LambdaSep != 0, lc.LambdaInv != 0
		cx, cy := pairCountGrid(P)
		steps = append(steps,
			stage{"pair_count", func() error { return d.pairCount(e.X, P, sx2, e.part) }},
			stage{"pair_count reduce", func() error { return d.reducePartials(e.part, cx*cy, 2, e.slot(m, sNFar)) }},
			stage{"pair_coef", func() error { return d.pairCoef(S, pc.Sep4, pc.Inv4, mean) }},
		)
		if e.pairTiled() {
			// pair_tile: partial gradients per slab of column tiles in ws
			// (or straight into dG with one slab), then their sum.
			gx, slabs, tps := pairTilePlan(P, e.sms)
			steps = append(steps, stage{"pair_loss", func() error {
				out := e.dG
				if slabs > 1 {
					out = e.ws
				}
				return d.pairTile(e.G, e.X, P, N, sx2, inv2sg2, doSep, doInv, S, out, e.part, grad, gx, slabs, tps)
			}})
			if slabs > 1 && grad {
				steps = append(steps, stage{"pair_loss slabs", func() error { return d.pairSlabSum(e.ws, slabs, P*N, e.dG) }})
			}
			steps = append(steps, stage{"pair_loss reduce", func() error { return d.reducePartials(e.part, gx*slabs, 2, e.slot(m, sSepSum)) }})
		} else {
			steps = append(steps,
				stage{"pair_loss", func() error {
					return d.pairLoss(e.G, e.X, P, N, sx2, inv2sg2, doSep, doInv, S, e.dG, e.part, grad)
				}},
				stage{"pair_loss reduce", func() error { return d.reducePartials(e.part, pairBlocks(P), 2, e.slot(m, sSepSum)) }},
			)
		}
	} else if grad {
		steps = append(steps, stage{"clear dG", func() error { return e.d.fill(e.dG, 0, P*N) }})
	}
	if lc.LambdaCap != 0 {
		steps = append(steps,
			stage{"cap colsum", func() error { return d.colsum(e.G, P, N, 0, e.colD, false) }},
			stage{"cap_finalize", func() error { return d.capFinalize(e.colD, N, P, lc.LambdaCap, S, e.capg) }})
		if grad {
			steps = append(steps, stage{"add_rowvec", func() error { return d.addRowvec(e.dG, e.capg, P, N) }})
		}
	}
	if lc.LambdaCI != 0 {
		// Two passes: the mean of r, then the mean square deviation from it.
		steps = append(steps,
			stage{"ci_forward", func() error { return d.ciForward(e.G, e.GP, e.V, P, N, lc.SigmaX, e.part) }},
			stage{"ci reduce", func() error { return d.reducePartials(e.part, ciBlocks(P), 2, e.slot(m, sCIK)) }},
			stage{"ci_coef", func() error { return d.ciCoef(S, lc.LambdaCI) }},
			stage{"ci_var", func() error { return d.ciVar(e.G, e.GP, e.V, P, N, lc.SigmaX, S, e.part) }},
			stage{"ci_var reduce", func() error { return d.reducePartials(e.part, ciBlocks(P), 1, e.slot(m, sCISqDev)) }})
		if grad {
			steps = append(steps, stage{"ci_backward", func() error {
				return d.ciBackward(e.G, e.GP, e.V, B, T, N, lc.SigmaX, S, e.dG, e.dg0ci)
			}})
		}
	} else if grad {
		steps = append(steps, stage{"clear dg0ci", func() error { return e.d.fill(e.dg0ci, 0, B*N) }})
	}
	steps = append(steps, stage{"loss_finalize", func() error {
		return d.lossFinalize(S, P, e.weights, mean)
	}})
	return steps
}

// backwardStages add the parameter gradient of the loss to e.grad, from
// dG back through time and the MLP on its rows.
func (e *Engine) backwardStages(rows mlpRows) []stage {
	d := e.d
	P, N, H, NN, B, T := e.P, e.N, e.H, e.NN, e.B, e.T
	R, Vin, idx := e.mlpInput(rows)
	var steps []stage
	steps = append(steps,
		// Backpropagation through time: DY, and on the P-row path Wf
		// becomes dWf in place.
		stage{"rnn_backward", func() error {
			return d.rnnBackward(e.Wf, idx, e.G, e.GP, e.nrm, e.dG, e.DY, e.dg0ci, e.dg0b, B, T, N)
		}},
		stage{"g0_backward", func() error { return d.g0Backward(e.dg0b, e.g0, e.n0, e.gtensor(tG0), B, N) }},
	)
	if rows.idx != nil {
		// Distinct velocities (distinct.go): dW_u = DY_u^T GP_u over the
		// states of velocity u, into Wf (W is no longer needed), and
		// dB2 = sum_u dW_u.
		start, list := e.rowIdx+devPtr(4*rows.start(P)), e.rowIdx+devPtr(4*rows.list(P))
		steps = append(steps,
			stage{"dw_distinct", func() error { return d.dwDistinct(e.DY, e.GP, start, list, e.Wf, R, N) }},
			stage{"colsum dB2", func() error { return d.colsum(e.Wf, R, NN, e.gtensor(tB2), 0, true) }},
		)
	} else {
		// dB2 = sum_i dWf_i = DY^T GP (dWf_i = dy_i g_prev_i^T): an
		// N x N x P product rather than column sums of P x N^2.
		steps = append(steps, stage{"gemm dB2", func() error {
			return d.gemm("gemm_tn", N, N, P, e.DY, N, e.GP, N, e.gtensor(tB2), N, 0, flagAcc, e.ws, e.sms)
		}})
	}
	// The MLP backward on its R rows, last layer first. Layer l maps x (in
	// wide: h2, h1, the velocities) to y (out wide); from dy (dWf, dh2,
	// dh1) it adds the bias gradient (but the last layer's, above) and
	// dW_l = dy^T x, and below the last layer passes dx = dy W_l, masked by
	// the ReLU that made x, to the layer under it.
	for _, l := range []struct {
		n       int // the layer's number in the stage names
		W, B    int // its weight and bias tensors
		in, out int
		x, dy   *devPtr // read when the stage runs (ensureRows may reallocate)
		dx      *devPtr // nil for the first layer
	}{
		{2, tW2, tB2, H, NN, &e.h2, &e.Wf, &e.dh2},
		{1, tW1, tB1, H, H, &e.h1, &e.dh2, &e.dh1},
		{0, tW0, tB0, 2, H, &Vin, &e.dh1, nil},
	} {
		if l.n < 2 {
			steps = append(steps, stage{fmt.Sprint("colsum dB", l.n), func() error {
				return d.colsum(*l.dy, R, l.out, e.gtensor(l.B), 0, true)
			}})
		}
		steps = append(steps, stage{fmt.Sprint("gemm dW", l.n), func() error {
			return d.gemm("gemm_tn", l.out, l.in, R, *l.dy, l.out, *l.x, l.in, e.gtensor(l.W), l.in, 0, flagAcc, e.ws, e.sms)
		}})
		if l.dx != nil {
			steps = append(steps,
				stage{fmt.Sprint("gemm dh", l.n), func() error {
					return d.gemm("gemm_nn", R, l.in, l.out, *l.dy, l.out, e.tensor(l.W), l.in, *l.dx, l.in, 0, 0, e.ws, e.sms)
				}},
				stage{fmt.Sprint("relu_mask h", l.n), func() error { return d.reluMask(*l.dx, *l.x, R*l.in) }},
			)
		}
	}
	return steps
}

// lossesOf reads microbatch block m of the downloaded scalars.
func lossesOf(s []float64, m int) graph.Losses {
	b := s[m*slotStride:]
	l := graph.Losses{Total: b[sLTot], ZeroFrac: b[sZFrac]}
	for _, ct := range cudaTerms {
		l.Term[ct.term] = b[ct.slot]
	}
	return l
}

// Step implements train.Engine.
func (e *Engine) Step(batches []*data.Batch, lr float64) (train.StepStats, error) {
	if len(batches) == 0 {
		return train.StepStats{}, errors.New("cuda engine: step with no microbatches")
	}
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return train.StepStats{}, fmt.Errorf("cuda engine: learning rate %g", lr)
	}
	for _, b := range batches {
		if err := e.checkBatch(b); err != nil {
			return train.StepStats{}, err
		}
	}
	K := len(batches)
	var scal []float64
	err := e.d.run(func() error {
		if K > e.maxMicro {
			if err := e.growSlots(K); err != nil {
				return err
			}
		}
		if err := e.d.fill(e.grad, 0, e.total); err != nil {
			return err
		}
		for m, b := range batches {
			if err := e.microbatch(b, m, true); err != nil {
				return err
			}
		}
		oc := e.spec.Opt
		t := float64(e.step + 1)
		G := e.slots(-1)
		for _, f := range []func() error{
			func() error { return e.d.sumsq(e.grad, e.total, e.part) },
			func() error { return e.d.reducePartials(e.part, sumsqBlocks, 1, G+8*gSumSq) },
			func() error { return e.d.optFinalize(G, e.slots(0), slotStride, K, oc.ClipNorm) },
			func() error {
				return e.d.adamw(e.par, e.grad, e.mom, e.vel, e.total, G,
					lr, oc.WeightDecay, oc.Beta1, oc.Beta2, oc.Eps, 1-math.Pow(oc.Beta1, t), 1-math.Pow(oc.Beta2, t))
			},
		} {
			if err := f(); err != nil {
				return err
			}
		}
		scal = make([]float64, e.sLen)
		if err := e.d.downloadF64(scal, e.S); err != nil {
			return fmt.Errorf("cuda:%d: step failed: %v", e.d.ordinal, err)
		}
		return nil
	})
	if err != nil {
		return train.StepStats{}, err
	}
	// The states stay on the device; counting silent units would need them
	// downloaded every step, so this engine does not report them.
	st := train.StepStats{DeadUnits: -1}
	losses := make([]graph.Losses, K)
	for m := range losses {
		losses[m] = lossesOf(scal, m)
		if err := train.CheckLosses(losses[m], m); err != nil {
			return train.StepStats{}, err
		}
	}
	st.Losses = graph.MeanLosses(losses)
	gs := scal[e.maxMicro*slotStride:]
	st.GradNorm = gs[gNorm]
	if gs[gOK] == 0 {
		return train.StepStats{}, e.nonFiniteGrad(gs[gNorm])
	}
	e.step++
	return st, nil
}

// nonFiniteGrad names the first gradient tensor holding a NaN or Inf.
func (e *Engine) nonFiniteGrad(norm float64) error {
	g := graph.ZeroParams(e.N, e.H)
	if err := e.d.run(func() error { return e.downloadParams(g, e.grad) }); err == nil {
		if at, bad := g.NonFinite(); bad {
			return &train.NonFiniteError{Term: "gradient of " + at.Tensor, Value: at.Value}
		}
	}
	return &train.NonFiniteError{Term: "gradient norm", Value: norm}
}

func (e *Engine) growSlots(K int) error {
	e.d.free(e.S)
	e.maxMicro = K
	e.sLen = (K + 1) * slotStride
	p, err := e.d.alloc(int64(8*e.sLen), "scalars")
	e.S = p
	return err
}

// Eval implements train.Engine.
func (e *Engine) Eval(b *data.Batch) (graph.Losses, error) {
	if err := e.checkBatch(b); err != nil {
		return graph.Losses{}, err
	}
	scal := make([]float64, slotStride)
	err := e.d.run(func() error {
		if err := e.microbatch(b, 0, false); err != nil {
			return err
		}
		return e.d.downloadF64(scal, e.slots(0))
	})
	if err != nil {
		return graph.Losses{}, err
	}
	l := lossesOf(scal, 0)
	return l, train.CheckLosses(l, 0)
}

func (e *Engine) downloadParams(p *graph.Params, src devPtr) error {
	for i, s := range p.Slices() {
		if err := e.d.download(s, src+devPtr(4*e.off[i])); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) uploadParams(dst devPtr, p *graph.Params) error {
	for i, s := range p.Slices() {
		if err := e.d.upload(dst+devPtr(4*e.off[i]), s); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) checkShape(p *graph.Params) error {
	if p == nil {
		return errors.New("cuda: nil parameters")
	}
	if err := p.Check(); err != nil {
		return err
	}
	if p.N != e.N || p.H != e.H {
		return fmt.Errorf("cuda: parameters have N=%d, H=%d; the engine has N=%d, H=%d", p.N, p.H, e.N, e.H)
	}
	return nil
}

// Params implements train.Engine.
func (e *Engine) Params() (*graph.Params, error) {
	p := graph.ZeroParams(e.N, e.H)
	return p, e.d.run(func() error { return e.downloadParams(p, e.par) })
}

// SetParams implements train.Engine.
func (e *Engine) SetParams(p *graph.Params) error {
	if err := e.checkShape(p); err != nil {
		return err
	}
	return e.d.run(func() error { return e.uploadParams(e.par, p) })
}

// OptState implements train.Engine.
func (e *Engine) OptState() (*train.OptState, error) {
	st := train.NewOptState(e.N, e.H)
	st.Step = e.step
	err := e.d.run(func() error {
		if err := e.downloadParams(st.M, e.mom); err != nil {
			return err
		}
		return e.downloadParams(st.V, e.vel)
	})
	return st, err
}

// SetOptState implements train.Engine.
func (e *Engine) SetOptState(st *train.OptState) error {
	if st == nil {
		return errors.New("cuda: nil optimiser state")
	}
	if err := e.checkShape(st.M); err != nil {
		return err
	}
	if err := e.checkShape(st.V); err != nil {
		return err
	}
	err := e.d.run(func() error {
		if err := e.uploadParams(e.mom, st.M); err != nil {
			return err
		}
		return e.uploadParams(e.vel, st.V)
	})
	if err == nil {
		e.step = st.Step
	}
	return err
}

// Close implements train.Engine.
func (e *Engine) Close() error {
	if e.d != nil {
		e.d.close()
		e.d = nil
	}
	return nil
}

package graph

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/gridgpu/gridgpu/data"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Model is the SIC graph built once for a fixed microbatch shape (B, T),
// model size (N, H) and loss setting; it is reused every step. It is not
// safe for concurrent use.
//
// It holds up to two graphs: one whose MLP runs on the distinct velocities
// of a microbatch whose trajectories share them (the paper's permutation
// augmentation: T of them, or T per velocity set with data.velocity_sets;
// recurrence.go, "Distinct velocities"), and one, built when first needed,
// whose MLP runs on all B*T rows (augment none). Each microbatch goes to the
// first that fits it.
type Model struct {
	B, T, N, H int
	Loss       LossConfig
	impl       *model[float32] // the last graph run
	shared     *model[float32] // U = the most distinct velocities (NewModelDistinct)
	all        *model[float32] // U = B*T, nil until needed
}

// NewModel builds the float32 graph for microbatches whose trajectories
// share at most T distinct velocities (one permuted set) or have their own.
func NewModel(B, T, N, H int, lc LossConfig) (*Model, error) {
	return NewModelDistinct(B, T, N, H, T, lc)
}

// NewModelDistinct is NewModel with the shared graph's MLP sized for most
// distinct velocities (T per velocity set of data.Sampler.VelocitySets; at
// most B*T); a microbatch with more runs on the all-rows graph.
func NewModelDistinct(B, T, N, H, most int, lc LossConfig) (*Model, error) {
	if most < 1 || most > B*T {
		return nil, fmt.Errorf("model: %d distinct velocities, want 1 to B*T = %d", most, B*T)
	}
	m, err := newModel[float32](B, T, N, H, most, lc)
	if err != nil {
		return nil, err
	}
	mm := &Model{B: B, T: T, N: N, H: H, Loss: lc, impl: m, shared: m}
	// A model dropped without Close still returns its off-heap buffers. No
	// reference to them leaves the model, so once the model is unreachable
	// nothing can use them.
	runtime.SetFinalizer(mm, func(mm *Model) { mm.free() })
	return mm, nil
}

func (m *Model) free() {
	m.shared.rec.free()
	if m.all != nil {
		m.all.rec.free()
	}
}

// graphFor returns the graph that runs microbatch b, with the rows of its
// MLP (see model.rows): the distinct-velocity graph when b has at most its
// U distinct velocities, else the all-rows graph.
func (m *Model) graphFor(b *data.Batch) (*model[float32], []int32, error) {
	if err := b.Validate(); err != nil {
		return nil, nil, err
	}
	if idx, ok := m.shared.rows(b); ok {
		return m.shared, idx, nil
	}
	if m.all == nil {
		all, err := newModel[float32](m.B, m.T, m.N, m.H, m.B*m.T, m.Loss)
		if err != nil {
			return nil, nil, err
		}
		m.all = all
	}
	return m.all, nil, nil
}

// Grad runs forward and backward on one microbatch and returns the losses and
// the gradient of the weighted total with respect to every parameter.
func (m *Model) Grad(p *Params, b *data.Batch) (Losses, *Params, error) {
	defer runtime.KeepAlive(m) // the finalizer must not free buffers in use
	if err := p.Check(); err != nil {
		return Losses{}, nil, err
	}
	impl, idx, err := m.graphFor(b)
	if err != nil {
		return Losses{}, nil, err
	}
	m.impl = impl
	impl.rec.setNormBlocks(p.normBlocks())
	l, g, err := m.impl.runRows(toT[float32](p), b, idx, true)
	if err != nil {
		return l, nil, err
	}
	// run returns fresh slices, so they become the result without a copy.
	grad := &Params{N: m.N, H: m.H, W0: g[0], B0: g[1], W1: g[2], B1: g[3], W2: g[4], B2: g[5], G0: g[6]}
	return l, grad, nil
}

// Eval runs the forward pass only.
func (m *Model) Eval(p *Params, b *data.Batch) (Losses, error) {
	defer runtime.KeepAlive(m) // the finalizer must not free buffers in use
	if err := p.Check(); err != nil {
		return Losses{}, err
	}
	impl, idx, err := m.graphFor(b)
	if err != nil {
		return Losses{}, err
	}
	m.impl = impl
	impl.rec.setNormBlocks(p.normBlocks())
	l, _, err := m.impl.runRows(toT[float32](p), b, idx, false)
	return l, err
}

// ActiveUnits ORs into active (length N) the units that were positive in at
// least one stepped state g_1..g_T of the last Grad or Eval. A unit that is
// never active gets no gradient through Norm-ReLU, so a count of the units
// left false over a step's microbatches is the number of silent units.
func (m *Model) ActiveUnits(active []bool) {
	r := m.impl.rec
	for b := 0; b < r.B; b++ {
		for t := 1; t <= r.T; t++ {
			row := r.s[(b*(r.T+1)+t)*r.N : (b*(r.T+1)+t+1)*r.N]
			for i, v := range row {
				if v > 0 {
					active[i] = true
				}
			}
		}
	}
}

// AllTerms returns every unweighted term of the microbatch b, which must be
// the one of the last Grad or Eval, including the terms whose weight is
// zero. Those are not part of the graph (a zero weight costs nothing in
// Grad), so they are computed here from the states that run left: a
// forward-only pairwise pass when lambda_sep or lambda_inv is zero, a pass
// over the states for the others. Training calls it on logging steps only.
func (m *Model) AllTerms(b *data.Batch) (TermValues, error) {
	defer runtime.KeepAlive(m)
	if m.impl.last == nil || m.impl.last != b {
		return TermValues{}, errors.New("AllTerms: the microbatch is not the one of the model's last run")
	}
	return m.impl.allTerms(b), nil
}

// allTerms is AllTerms for element type T: the terms of its last run's
// states, taking the values its graph computed where it has them.
func (m *model[T]) allTerms(b *data.Batch) TermValues {
	var pair *pairResult
	if m.pair != nil && m.lc.LambdaSep != 0 && m.lc.LambdaInv != 0 {
		pair = &m.pair.res
	}
	return termsOfStates(m.B, m.T, m.N, m.rec.s, b, m.lc, pair, func(t Term) (float64, bool) {
		switch {
		case t == Cap && m.capT != nil:
			return m.capT.value, true
		case t == CI && m.ci != nil:
			return m.ci.value, true
		}
		return 0, false
	})
}

// termsOfStates computes every term of the states s ([B*(steps+1)][N], the
// recurrence's layout) on the microbatch b, whatever its weight: the one
// place that lists how each term is had from states, for AllTerms and
// LossOfStates. pair, when not nil, is a pairwise pass already made with
// both pair terms on; computed(t), when not nil, gives a term's value
// where the graph has just computed it. A term with nothing to average
// over under the mean reduction is nil.
func termsOfStates[T float](B, steps, N int, s []T, b *data.Batch, lc LossConfig, pair *pairResult, computed func(Term) (float64, bool)) TermValues {
	var out TermValues
	val := func(v float64) *float64 { return &v }
	have := func(t Term) (float64, bool) {
		if computed == nil {
			return 0, false
		}
		return computed(t)
	}

	var res pairResult
	if pair != nil {
		res = *pair
	} else {
		g := make([]T, B*steps*N)
		stepRows(B, steps, N, s, g)
		both := lc
		both.LambdaSep, both.LambdaInv = 1, 1
		res = pairLoss(B*steps, N, g, b.Positions(), both, nil)
	}
	mean := lc.Reduction == ReduceMean
	if !mean || res.NFar > 0 {
		out[Sep] = val(res.Sep)
	}
	if !mean || res.NNear > 0 {
		out[Inv] = val(res.Inv)
	}

	if v, ok := have(Cap); ok {
		out[Cap] = val(v)
	} else {
		c, _ := capLoss(B, steps, N, s)
		out[Cap] = val(c)
	}

	w := lc.ciWindow()
	if ciPairs(B, steps, b.Vel, w) > 0 {
		if v, ok := have(CI); ok {
			out[CI] = val(v)
		} else {
			out[CI] = val(ciLoss(B, steps, N, s, b.Vel, w, nil, 0))
		}
	}
	return out
}

// Close releases the graphs' machines and the model's largest buffers.
func (m *Model) Close() error {
	m.free()
	err := m.shared.vm.Close()
	if m.all != nil {
		if e := m.all.vm.Close(); err == nil {
			err = e
		}
	}
	return err
}

// DistinctVelocities is distinctVelocities for other engines (the CUDA
// engine runs its MLP on the same rows).
func DistinctVelocities(b *data.Batch, most int) []int32 { return distinctVelocities(b, most) }

// distinctVelocities numbers the distinct velocities of b in the order they
// first appear in the time-major rows (row (t-1)*B + b) and returns, for each
// row, its velocity's number; nil when there are more than most. Velocities
// are equal when their float32 bits are.
func distinctVelocities(b *data.Batch, most int) []int32 {
	P := b.B * b.T
	idx := make([]int32, P)
	seen := make(map[[2]float32]int32, most)
	for t := 0; t < b.T; t++ {
		for bi := 0; bi < b.B; bi++ {
			src := (bi*b.T + t) * 2
			v := [2]float32{b.Vel[src], b.Vel[src+1]}
			u, ok := seen[v]
			if !ok {
				if len(seen) == most {
					return nil
				}
				u = int32(len(seen))
				seen[v] = u
			}
			idx[t*b.B+bi] = u
		}
	}
	return idx
}

func toT[T float](p *Params) [][]T {
	out := make([][]T, 0, 7)
	for _, s := range p.Slices() {
		if t, ok := any(s).([]T); ok {
			out = append(out, t)
			continue
		}
		c := make([]T, len(s))
		for i, v := range s {
			c[i] = T(v)
		}
		out = append(out, c)
	}
	return out
}

// model is the graph for element type T.
type model[T float] struct {
	B, T, N, H int
	U          int // rows of the MLP: B*T, or fewer distinct velocities
	lc         LossConfig
	g          *G.ExprGraph
	vm         G.VM
	vel        *G.Node
	params     []*G.Node // ParamNames order
	grads      []*G.Node
	total      *G.Node
	rec        *recurrence[T]
	velT       []T  // velocities in time-major row order
	wantGrad   bool // false in Eval: the backward ops skip their work
	pair       *pairTerm[T]
	capT       *scalarTerm[T]
	ci         *ciTerm[T]
	last       *data.Batch // the microbatch of the last successful run
}

// newModel builds the graph with U rows of the MLP: B*T (each time-major
// row its own velocity) or fewer, for microbatches with at most U distinct
// velocities.
func newModel[T float](B, steps, N, H, U int, lc LossConfig) (*model[T], error) {
	if B < 1 || steps < 1 || N < 1 || H < 1 {
		return nil, fmt.Errorf("model sizes B=%d, T=%d, N=%d, H=%d must all be at least 1", B, steps, N, H)
	}
	if U < 1 || U > B*steps {
		return nil, fmt.Errorf("model: %d MLP rows, want 1 to B*T = %d", U, B*steps)
	}
	if err := lc.Validate(); err != nil {
		return nil, err
	}
	if lc.Weights() == ([NumTerms]float64{}) {
		return nil, errors.New("every loss weight is zero: nothing to train")
	}
	m := &model[T]{B: B, T: steps, N: N, H: H, U: U, lc: lc, g: G.NewGraph()}
	dt := dtypeOf[T]()
	m.vel = G.NewMatrix(m.g, dt, G.WithShape(U, 2), G.WithName("velocities"))
	for i, sh := range Shapes(N, H) {
		var n *G.Node
		if len(sh) == 2 {
			n = G.NewMatrix(m.g, dt, G.WithShape(sh...), G.WithName(ParamNames[i]))
		} else {
			n = G.NewVector(m.g, dt, G.WithShape(sh...), G.WithName(ParamNames[i]))
		}
		m.params = append(m.params, n)
	}
	// The MLP's rows are time-major (row (t-1)*B + b, see recurrence.go),
	// or the distinct velocities when U < B*T; run() arranges them.
	p := m.params
	h, err := newLinearReLU(m, m.vel, p[0], p[1], false)
	if err == nil {
		h, err = newLinearReLU(m, h, p[2], p[3], true)
	}
	var s *G.Node
	if err == nil {
		m.rec, s, err = newRecurrence(m, B, steps, N, h, p[4], p[5], p[6])
	}
	if err != nil {
		return nil, fmt.Errorf("building the model graph: %w", err)
	}
	var terms []*G.Node
	if lc.LambdaSep != 0 || lc.LambdaInv != 0 {
		var n *G.Node
		if m.pair, n, err = newPairTerm(m, B, steps, N, lc, s); err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	weighted := func(n *G.Node, lambda float64) (*G.Node, error) {
		return G.Mul(n, G.NewConstant(T(lambda)))
	}
	if lc.LambdaCap != 0 {
		var n *G.Node
		if m.capT, n, err = newCapTerm(m, B, steps, N, s); err == nil {
			n, err = weighted(n, lc.LambdaCap)
		}
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if lc.LambdaCI != 0 {
		var n *G.Node
		if m.ci, n, err = newCITerm(m, B, steps, N, lc.ciWindow(), s); err == nil {
			n, err = weighted(n, lc.LambdaCI)
		}
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	m.total = terms[0]
	for _, t := range terms[1:] {
		if m.total, err = G.Add(m.total, t); err != nil {
			return nil, err
		}
	}
	if m.grads, err = G.Grad(m.total, m.params...); err != nil {
		return nil, fmt.Errorf("building the gradient graph: %w", err)
	}
	m.vm = G.NewTapeMachine(m.g)
	return m, nil
}

// rows returns, for a graph with fewer MLP rows than B*T, the distinct
// velocity of each time-major row of b (distinctVelocities), and whether b
// fits the graph; nil and true for a graph with a row per step.
func (m *model[T]) rows(b *data.Batch) ([]int32, bool) {
	if m.U == m.B*m.T {
		return nil, true
	}
	idx := distinctVelocities(b, m.U)
	return idx, idx != nil
}

// run evaluates the graph on parameters in ParamNames order. The backward
// half always runs (the tape holds both); grads are returned when wantGrad.
func (m *model[T]) run(p [][]T, b *data.Batch, wantGrad bool) (Losses, [][]T, error) {
	if err := b.Validate(); err != nil {
		return Losses{}, nil, err
	}
	idx, ok := m.rows(b)
	if !ok {
		return Losses{}, nil, fmt.Errorf("microbatch has more than %d distinct velocities, the graph's MLP rows", m.U)
	}
	return m.runRows(p, b, idx, wantGrad)
}

// runRows is run with the rows of the MLP given (m.rows of b).
func (m *model[T]) runRows(p [][]T, b *data.Batch, idx []int32, wantGrad bool) (Losses, [][]T, error) {
	if err := b.Validate(); err != nil {
		return Losses{}, nil, err
	}
	if b.B != m.B || b.T != m.T {
		return Losses{}, nil, fmt.Errorf("microbatch is %d x %d, the model was built for B=%d, T=%d", b.B, b.T, m.B, m.T)
	}
	shapes := Shapes(m.N, m.H)
	for i, n := range m.params {
		if want := m.params[i].Shape().TotalSize(); len(p[i]) != want {
			return Losses{}, nil, fmt.Errorf("tensor %s has %d values, want %v", ParamNames[i], len(p[i]), shapes[i])
		}
		if err := G.Let(n, denseOf(p[i], shapes[i]...)); err != nil {
			return Losses{}, nil, err
		}
	}
	if m.velT == nil {
		m.velT = make([]T, m.U*2)
	}
	if idx != nil {
		// Rows no step uses (fewer distinct velocities than U) stay zero:
		// their W is computed and never read, and their gradient is zero.
		clear(m.velT)
	}
	for bi := 0; bi < m.B; bi++ {
		for t := 0; t < m.T; t++ {
			src, dst := (bi*m.T+t)*2, t*m.B+bi
			if idx != nil {
				dst = int(idx[dst])
			}
			m.velT[2*dst], m.velT[2*dst+1] = T(b.Vel[src]), T(b.Vel[src+1])
		}
	}
	m.rec.setRows(idx)
	if err := G.Let(m.vel, denseOf(m.velT, m.U, 2)); err != nil {
		return Losses{}, nil, err
	}
	if m.pair != nil {
		m.pair.pos = b.Positions()
	}
	if m.ci != nil {
		m.ci.vel = b.Vel
	}
	m.wantGrad = wantGrad
	m.last = nil
	defer m.vm.Reset()
	t0 := tick()
	defer tock(PhaseTotal, t0)
	if err := m.vm.RunAll(); err != nil {
		return Losses{}, nil, fmt.Errorf("running the model graph: %w", err)
	}
	m.last = b
	var l Losses
	l.Total = scalarOf(m.total.Value())
	if m.pair != nil {
		l.Term[Sep], l.Term[Inv] = m.pair.res.Sep, m.pair.res.Inv
	}
	if m.capT != nil {
		l.Term[Cap] = m.capT.value
	}
	if m.ci != nil {
		l.Term[CI] = m.ci.value
	}
	l.ZeroFrac = float64(m.rec.zeros) / float64(m.B*m.T)
	// The total in float64 from the terms, so that float32 rounding of the
	// graph's scalar adds does not show in reports.
	l.Total = l.Weighted(m.lc)
	if !wantGrad {
		return l, nil, nil
	}
	grads := make([][]T, len(m.grads))
	for i, gn := range m.grads {
		v := gn.Value()
		if v == nil {
			return l, nil, fmt.Errorf("gradient of %s was not computed", ParamNames[i])
		}
		grads[i] = append([]T(nil), sliceOf[T](v)...)
	}
	return l, grads, nil
}

var _ = tensor.Float32

// Grad64 is the same graph in float64, for checking other implementations
// (the CUDA engine's tests): it returns the losses and the gradient of every
// tensor in ParamNames order. Parameters are taken as given (float32 values
// widened exactly), so the float32 graph and another float32 implementation
// can both be measured against it.
func Grad64(p *Params, b *data.Batch, lc LossConfig) (Losses, [][]float64, error) {
	U := b.B * b.T
	if distinctVelocities(b, b.T) != nil {
		U = b.T
	}
	return grad64(p, b, lc, U)
}

// grad64 is Grad64 with the number of MLP rows given (U = B*T: every row
// its own, the path without shared velocities).
func grad64(p *Params, b *data.Batch, lc LossConfig, U int) (Losses, [][]float64, error) {
	m, err := newModel[float64](b.B, b.T, p.N, p.H, U, lc)
	if err != nil {
		return Losses{}, nil, err
	}
	defer func() {
		m.rec.free()
		m.vm.Close()
	}()
	m.rec.setNormBlocks(p.normBlocks())
	return m.run(toT[float64](p), b, true)
}

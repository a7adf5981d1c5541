package train

import (
	"fmt"
	"math"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

func init() {
	RegisterBackend(DeviceCPU, newCPUEngine)
}

// gradModel is what the CPU engine needs of graph.Model. It is an interface
// only so that tests of the training loop can substitute a cheap model.
type gradModel interface {
	Grad(p *graph.Params, b *data.Batch) (graph.Losses, *graph.Params, error)
	Eval(p *graph.Params, b *data.Batch) (graph.Losses, error)
}

// newGradModel builds the CPU model; tests replace it.
var newGradModel = func(s EngineSpec) (gradModel, error) {
	return graph.NewModelDistinct(s.B, s.T, s.N, s.H, s.distinct(), s.Loss)
}

// cpuEngine keeps parameters and AdamW state in host memory and runs the
// Gorgonia graph of package graph for each microbatch.
type cpuEngine struct {
	spec  EngineSpec
	model gradModel
	p     *graph.Params
	st    *OptState
	// scratch, reused every step
	avg   *graph.Params
	grads []*graph.Params
	// allTerms asks Step for StepStats.Terms (see AllTermser)
	allTerms bool
}

func newCPUEngine(spec EngineSpec) (Engine, error) {
	if !spec.Device.IsCPU() {
		return nil, fmt.Errorf("device %q: the CPU backend takes only \"cpu\" (it uses all cores of the machine)", spec.Device)
	}
	if err := spec.Loss.Validate(); err != nil {
		return nil, err
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	m, err := newGradModel(spec)
	if err != nil {
		return nil, err
	}
	return &cpuEngine{
		spec:  spec,
		model: m,
		p:     spec.Init.Clone(),
		st:    NewOptState(spec.N, spec.H),
		avg:   graph.ZeroParams(spec.N, spec.H),
	}, nil
}

func (e *cpuEngine) Device() string { return "cpu" }

// NonFiniteError reports a NaN or Inf in a loss term or gradient tensor.
// Term is "loss", "sep", "inv", "cap", "ci" or "gradient of <tensor>".
type NonFiniteError struct {
	Term       string
	Value      float64
	Microbatch int // 0-based index within the step
}

func (e *NonFiniteError) Error() string {
	what := "NaN"
	if math.IsInf(e.Value, 0) {
		what = fmt.Sprintf("%v", e.Value)
	}
	if _, isTerm := graph.TermByKey(e.Term); isTerm || e.Term == "loss" {
		return fmt.Sprintf("loss term %s is %s (microbatch %d)", e.Term, what, e.Microbatch)
	}
	return fmt.Sprintf("%s is %s (microbatch %d)", e.Term, what, e.Microbatch)
}

// CheckLosses reports the first non-finite loss: the total, then the terms
// in graph.Term order.
func CheckLosses(l graph.Losses, microbatch int) error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(l.Total) {
		return &NonFiniteError{Term: "loss", Value: l.Total, Microbatch: microbatch}
	}
	for t, v := range l.Term {
		if bad(v) {
			return &NonFiniteError{Term: graph.TermSpecs[t].Key, Value: v, Microbatch: microbatch}
		}
	}
	return nil
}

func (e *cpuEngine) Step(batches []*data.Batch, lr float64) (StepStats, error) {
	if len(batches) == 0 {
		return StepStats{}, fmt.Errorf("cpu engine: step with no microbatches")
	}
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return StepStats{}, fmt.Errorf("cpu engine: learning rate %g", lr)
	}
	// Keep every microbatch's gradient: the model may reuse its output
	// buffers between calls, so each one but the last is copied before the
	// next Grad (no later call overwrites the last).
	for len(e.grads) < len(batches)-1 {
		e.grads = append(e.grads, graph.ZeroParams(e.spec.N, e.spec.H))
	}
	losses := make([]graph.Losses, 0, len(batches))
	srcs := make([]*graph.Params, 0, len(batches))
	au, tracksUnits := e.model.(activeUnitser)
	tm, hasTerms := e.model.(allTermser)
	var terms []graph.TermValues
	wantTerms := e.allTerms && hasTerms
	active := make([]bool, e.spec.N)
	for k, b := range batches {
		l, g, err := e.model.Grad(e.p, b)
		if err != nil {
			return StepStats{}, err
		}
		if tracksUnits {
			au.ActiveUnits(active)
		}
		if wantTerms {
			t, err := tm.AllTerms(b)
			if err != nil {
				return StepStats{}, err
			}
			terms = append(terms, t)
		}
		if err := CheckLosses(l, k); err != nil {
			return StepStats{}, err
		}
		if k < len(batches)-1 {
			dst := e.grads[k]
			for i, s := range g.Slices() {
				copy(dst.Slices()[i], s)
			}
			g = dst
		}
		srcs = append(srcs, g)
		losses = append(losses, l)
	}
	mean := graph.MeanLosses(losses)
	AverageGrads(e.avg, srcs)
	graph.MaskBlocks(e.avg, e.spec.Blocks)
	// The norm is a float64 sum of squares of float32 values, which cannot
	// overflow: it is finite exactly when every gradient element it sums
	// is, so the microbatches are scanned for the culprit only when it is
	// not (the scan of every gradient was a pass over all parameters per
	// microbatch).
	norm := GlobalNorm(e.avg)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		for k, g := range srcs {
			if at, bad := g.NonFinite(); bad {
				return StepStats{}, &NonFiniteError{Term: "gradient of " + at.Tensor, Value: at.Value, Microbatch: k}
			}
		}
		// Not reached while the argument above holds; kept so that a
		// non-finite norm can never reach the optimiser.
		return StepStats{}, &NonFiniteError{Term: "gradient norm", Value: norm}
	}
	clipAndAdamW(e.p, e.avg, norm, e.st, lr, e.spec.Opt)
	dead := -1
	if tracksUnits {
		dead = CountDead(active)
	}
	st := StepStats{Losses: mean, GradNorm: norm, DeadUnits: dead}
	if wantTerms {
		m := graph.MeanTermValues(terms)
		st.Terms = &m
	}
	return st, nil
}

// SetAllTerms implements AllTermser.
func (e *cpuEngine) SetAllTerms(on bool) { e.allTerms = on }

// allTermser is implemented by models that compute every unweighted term of
// their last run (graph.Model does).
type allTermser interface {
	AllTerms(b *data.Batch) (graph.TermValues, error)
}

// activeUnitser is implemented by models that report which units were
// active in their last run (graph.Model does).
type activeUnitser interface{ ActiveUnits(active []bool) }

func (e *cpuEngine) Eval(b *data.Batch) (graph.Losses, error) {
	return e.model.Eval(e.p, b)
}

func (e *cpuEngine) Params() (*graph.Params, error) { return e.p.Clone(), nil }

func (e *cpuEngine) SetParams(p *graph.Params) error {
	if err := p.Check(); err != nil {
		return err
	}
	if p.N != e.spec.N || p.H != e.spec.H {
		return fmt.Errorf("parameters have N=%d, H=%d but the engine has N=%d, H=%d", p.N, p.H, e.spec.N, e.spec.H)
	}
	e.p = p.Clone()
	return nil
}

func (e *cpuEngine) OptState() (*OptState, error) {
	return &OptState{M: e.st.M.Clone(), V: e.st.V.Clone(), Step: e.st.Step}, nil
}

func (e *cpuEngine) SetOptState(st *OptState) error {
	for _, q := range []*graph.Params{st.M, st.V} {
		if q == nil {
			return fmt.Errorf("optimiser state lacks moments")
		}
		if err := q.Check(); err != nil {
			return err
		}
		if q.N != e.spec.N || q.H != e.spec.H {
			return fmt.Errorf("optimiser state has N=%d, H=%d but the engine has N=%d, H=%d", q.N, q.H, e.spec.N, e.spec.H)
		}
	}
	if st.Step < 0 {
		return fmt.Errorf("optimiser step %d is negative", st.Step)
	}
	e.st = &OptState{M: st.M.Clone(), V: st.V.Clone(), Step: st.Step}
	return nil
}

// Close releases the model's graph machine, if it holds one.
func (e *cpuEngine) Close() error {
	if c, ok := e.model.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the element type a graph is built for: float32 for training,
// float64 for gradient checks against finite differences.
type float interface{ ~float32 | ~float64 }

var opSerial atomic.Uint64

// customOp adapts a forward function, and optionally a symbolic gradient, to
// Gorgonia's Op and SDOp interfaces. Every instance hashes differently:
// Gorgonia merges nodes whose ops hash alike, and two of our ops with the
// same inputs (say the forward and a gradient) must never be merged.
type customOp struct {
	name    string
	id      uint64
	inDims  []int // tensor rank per input; 0 = scalar
	outDims int   // 0 = scalar output
	shape   func(in []tensor.Shape) (tensor.Shape, error)
	do      func(in []G.Value) (G.Value, error)
	diffWRT []bool
	symDiff func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error)
}

func newOp(name string, inDims []int, outDims int) *customOp {
	return &customOp{name: name, id: opSerial.Add(1), inDims: inDims, outDims: outDims}
}

func (op *customOp) Arity() int { return len(op.inDims) }

func (op *customOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	typ := func(d int) hm.Type {
		if d == 0 {
			return a
		}
		return G.TensorType{Dims: d, Of: a}
	}
	ts := make([]hm.Type, 0, len(op.inDims)+1)
	for _, d := range op.inDims {
		ts = append(ts, typ(d))
	}
	ts = append(ts, typ(op.outDims))
	return hm.NewFnType(ts...)
}

func (op *customOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d has no concrete shape", op.name, i)
		}
		shapes[i] = s
	}
	if op.outDims == 0 {
		return tensor.ScalarShape(), nil
	}
	return op.shape(shapes)
}

func (op *customOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != len(op.inDims) {
		return nil, fmt.Errorf("%s: got %d inputs, want %d", op.name, len(in), len(op.inDims))
	}
	return op.do(in)
}

func (op *customOp) ReturnsPtr() bool      { return false }
func (op *customOp) CallsExtern() bool     { return false }
func (op *customOp) OverwritesInput() int  { return -1 }
func (op *customOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", op.name, op.id) }
func (op *customOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *customOp) String() string { return op.name }

func (op *customOp) DiffWRT(inputs int) []bool {
	if op.diffWRT == nil {
		return make([]bool, inputs)
	}
	return op.diffWRT
}

func (op *customOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.symDiff == nil {
		return nil, fmt.Errorf("%s has no gradient", op.name)
	}
	return op.symDiff(inputs, output, grad)
}

// handOver returns a node whose value is *buf, computed as a side result by
// the op of node after. Gorgonia ops have one output; an op that computes
// several gradients returns one and leaves the others in buffers, and these
// nodes depend on it, so they run after it.
func handOver[T float](name string, buf *[]T, after *G.Node, shape ...int) (*G.Node, error) {
	op := newOp(name, []int{len(after.Shape())}, len(shape))
	op.shape = func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape(shape), nil }
	op.do = func([]G.Value) (G.Value, error) { return denseOf(*buf, shape...), nil }
	return apply(op, after)
}

// apply adds op to the graph.
func apply(op *customOp, in ...*G.Node) (*G.Node, error) { return G.ApplyOp(op, in...) }

// sliceOf returns the backing slice of a tensor value.
func sliceOf[T float](v G.Value) []T {
	switch d := v.Data().(type) {
	case []T:
		return d
	default:
		panic(fmt.Sprintf("graph: value of type %T, want []%T", v.Data(), T(0)))
	}
}

// scalarOf reads a scalar value (a 0-d tensor or a Gorgonia scalar).
func scalarOf(v G.Value) float64 {
	switch x := v.(type) {
	case *G.F32:
		return float64(*x)
	case *G.F64:
		return float64(*x)
	}
	switch d := v.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	panic(fmt.Sprintf("graph: value %T is not a scalar", v))
}

// scalarValue makes a scalar of element type T.
func scalarValue[T float](x float64) G.Value {
	var z T
	if _, ok := any(z).(float32); ok {
		return G.NewF32(float32(x))
	}
	return G.NewF64(x)
}

// denseOf wraps data as a tensor of the given shape.
func denseOf[T float](data []T, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func dtypeOf[T float]() tensor.Dtype {
	var z T
	if _, ok := any(z).(float32); ok {
		return tensor.Float32
	}
	return tensor.Float64
}

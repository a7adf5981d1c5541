package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Tensor names in SPEC section 7 order. They are the names PyTorch gives the
// parameters of nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) under a
// module called "mlp", plus the raw initial state g0.
var ParamNames = []string{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias", "g0"}

// Params holds the model's trainable tensors, row-major float32.
//
//	W0 [H,2]   B0 [H]      first Linear(2,H)
//	W1 [H,H]   B1 [H]      second Linear(H,H)
//	W2 [N*N,H] B2 [N*N]    third Linear(H,N*N); its output is read as an N x N matrix, row-major
//	G0 [N]                 raw initial state, g_0 = NormReLU(G0)
type Params struct {
	N, H                   int
	W0, B0, W1, B1, W2, B2 []float32
	G0                     []float32
}

// Shapes returns each tensor's shape in ParamNames order.
func Shapes(N, H int) [][]int {
	return [][]int{{H, 2}, {H}, {H, H}, {H}, {N * N, H}, {N * N}, {N}}
}

// Slices returns the tensors in ParamNames order; they alias p.
func (p *Params) Slices() [][]float32 {
	return [][]float32{p.W0, p.B0, p.W1, p.B1, p.W2, p.B2, p.G0}
}

// Size is the number of scalars in all tensors.
func (p *Params) Size() int {
	n := 0
	for _, s := range p.Slices() {
		n += len(s)
	}
	return n
}

// ZeroParams allocates zero tensors for N units and hidden width H.
func ZeroParams(N, H int) *Params {
	p := &Params{N: N, H: H}
	sh := Shapes(N, H)
	alloc := func(i int) []float32 {
		n := 1
		for _, d := range sh[i] {
			n *= d
		}
		return make([]float32, n)
	}
	p.W0, p.B0, p.W1, p.B1, p.W2, p.B2, p.G0 = alloc(0), alloc(1), alloc(2), alloc(3), alloc(4), alloc(5), alloc(6)
	return p
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	q := ZeroParams(p.N, p.H)
	for i, s := range p.Slices() {
		copy(q.Slices()[i], s)
	}
	return q
}

// Check reports a tensor whose length does not fit N and H.
func (p *Params) Check() error {
	if p.N < 1 || p.H < 1 {
		return fmt.Errorf("model has N=%d units and hidden width H=%d: both must be at least 1", p.N, p.H)
	}
	for i, sh := range Shapes(p.N, p.H) {
		n := 1
		for _, d := range sh {
			n *= d
		}
		if got := len(p.Slices()[i]); got != n {
			return fmt.Errorf("tensor %s has %d values, want %v = %d for N=%d, H=%d", ParamNames[i], got, sh, n, p.N, p.H)
		}
	}
	return nil
}

// InitParams draws parameters as PyTorch's nn.Linear default does
// (weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and g0 ~ N(0,1)
// (a SPEC assumption). The draw depends only on seed.
func InitParams(N, H int, seed uint64) *Params {
	p := ZeroParams(N, H)
	rng := rand.New(rand.NewPCG(seed, 0x9a7a3))
	uni := func(dst []float32, fanIn int) {
		bound := 1 / math.Sqrt(float64(fanIn))
		for i := range dst {
			dst[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	uni(p.W0, 2)
	uni(p.B0, 2)
	uni(p.W1, H)
	uni(p.B1, H)
	uni(p.W2, H)
	uni(p.B2, H)
	for i := range p.G0 {
		p.G0[i] = float32(rng.NormFloat64())
	}
	return p
}

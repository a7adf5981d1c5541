package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Tensor names in the checkpoint format's order. They are the names PyTorch gives the
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
	// NormBlocks > 1 normalises the state in that many contiguous blocks of
	// N/NormBlocks units, each to norm 1/sqrt(NormBlocks) (NormReLUBlocks),
	// so that every block carries its own share of the state whatever the
	// others do. 0 and 1: one Norm-ReLU over all N units, the paper's. It is
	// part of the architecture, not a tensor: checkpoints keep it in their
	// config (model.blocks with model.block_norm).
	NormBlocks int
}

// normBlocks is NormBlocks with 0 read as 1.
func (p *Params) normBlocks() int { return max(1, p.NormBlocks) }

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
	q.NormBlocks = p.NormBlocks
	return q
}

// Check reports a tensor whose length does not fit N and H.
func (p *Params) Check() error {
	if p.N < 1 || p.H < 1 {
		return fmt.Errorf("model has N=%d units and hidden width H=%d: both must be at least 1", p.N, p.H)
	}
	if p.NormBlocks < 0 || p.normBlocks() > p.N || p.N%p.normBlocks() != 0 {
		return fmt.Errorf("model normalises its %d units in %d blocks: the block count must divide N", p.N, p.NormBlocks)
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

// Initialisations of the network (InitSpec.Kind) and of g0 (InitSpec.G0).
const (
	InitPyTorch  = "pytorch"  // every Linear as PyTorch's default
	InitIdentity = "identity" // W(v) starts near the identity matrix
	G0Normal     = "normal"   // g0 ~ N(0,1)
	G0Abs        = "abs"      // g0 ~ |N(0,1)|: every unit starts active
)

// InitSpec says how InitParamsSpec draws the parameters.
//
// The paper does not say how it initialised. With PyTorch's default the
// recurrent matrix W(v) is a random N x N matrix for every velocity, so the
// state forgets where it came from within a few steps and about half the
// units are silent from the first step (Norm-ReLU of a random projection).
// Path integration needs W(v -> 0) ~ I: a small step must leave the state
// almost unchanged. The identity start gives exactly that: the last layer's
// bias is the flattened identity plus Scale times the PyTorch draw and its
// weight is Scale times the PyTorch draw, so W(v) = I + O(Scale) for every v,
// and g0 = |N(0,1)| keeps every unit active at the start.
type InitSpec struct {
	Kind  string  // InitPyTorch or InitIdentity
	Scale float64 // identity: factor on the last layer's PyTorch draw
	G0    string  // G0Normal or G0Abs
	// Blocks > 1 starts W(v) block-diagonal (see MaskBlocks); 0 and 1 are
	// the dense network.
	Blocks int
	// BlockNorm with Blocks > 1 also normalises each block on its own
	// (Params.NormBlocks = Blocks).
	BlockNorm bool
	// Parts > 1 starts from that many independent networks of N/Parts
	// units and H/Parts hidden units side by side (JoinParams with gains
	// 1): part k drawn as this spec says from seed + PartSeedStride*k.
	// Training couples them unless Blocks keeps W(v) block-diagonal.
	Parts int
}

// PartSeedStride separates the seeds of the parts of InitSpec.Parts.
const PartSeedStride = 1000

// DefaultInit is PyTorch's initialisation with g0 ~ N(0,1), an
// assumption: the paper does not say how it initialised.
var DefaultInit = InitSpec{Kind: InitPyTorch, Scale: 1, G0: G0Normal}

// Validate names the first bad field.
func (s InitSpec) Validate() error {
	switch {
	case s.Kind != InitPyTorch && s.Kind != InitIdentity:
		return fmt.Errorf("init %q: must be %q or %q", s.Kind, InitPyTorch, InitIdentity)
	case !(s.Scale >= 0) || math.IsInf(s.Scale, 0):
		return fmt.Errorf("init scale %g: must be a number >= 0", s.Scale)
	case s.G0 != G0Normal && s.G0 != G0Abs:
		return fmt.Errorf("g0 init %q: must be %q or %q", s.G0, G0Normal, G0Abs)
	}
	return nil
}

// InitParams draws parameters as PyTorch's nn.Linear default does
// (weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and g0 ~ N(0,1)
// (an assumption: the paper does not say). The draw depends only on seed.
func InitParams(N, H int, seed uint64) *Params {
	return InitParamsSpec(N, H, seed, DefaultInit)
}

// InitParamsSpec draws parameters as spec says (see InitSpec). Every kind
// makes the same random draws from seed and then transforms them, so two
// specs differ only by that transformation (Parts > 1 draws each part so).
// N and H must be multiples of spec.Parts.
func InitParamsSpec(N, H int, seed uint64, spec InitSpec) *Params {
	if k := spec.Parts; k > 1 {
		part := spec
		part.Parts, part.Blocks, part.BlockNorm = 1, 1, false
		p := InitParamsSpec(N/k, H/k, seed, part)
		for i := 1; i < k; i++ {
			var err error
			if p, err = JoinParams(p, InitParamsSpec(N/k, H/k, seed+uint64(i*PartSeedStride), part), 1, 1); err != nil {
				panic(err) // fresh parts always check
			}
		}
		return finishInit(p, spec)
	}
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
		if spec.G0 == G0Abs {
			p.G0[i] = float32(math.Abs(float64(p.G0[i])))
		}
	}
	if spec.Kind == InitIdentity {
		k := float32(spec.Scale)
		for i := range p.W2 {
			p.W2[i] *= k
		}
		for i := range p.B2 {
			p.B2[i] *= k
		}
		for i := 0; i < N; i++ {
			p.B2[i*N+i]++
		}
	}
	return finishInit(p, spec)
}

// finishInit applies the block structure of spec to fresh parameters.
func finishInit(p *Params, spec InitSpec) *Params {
	MaskBlocks(p, spec.Blocks)
	if spec.BlockNorm && spec.Blocks > 1 {
		p.NormBlocks = spec.Blocks
	}
	return p
}

// MaskBlocks zeroes the entries of the last layer (weight rows and bias)
// that make the off-diagonal blocks of W(v) when the N units are split into
// K contiguous blocks of N/K: W(v)[i][j] = 0 for units i and j of different
// blocks, for every velocity. Applied to the initial parameters and to
// every gradient (train does both), it keeps W(v) block-diagonal: each block
// is its own velocity-gated recurrence, coupled to the others only through
// the shared Norm-ReLU and the losses. This is the hard version of the
// block structure that gives other models several grid modules (Gao et al.
// 2021). K <= 1 does nothing; K must divide N.
func MaskBlocks(p *Params, K int) {
	H := p.H
	offBlock(p.N, K, func(r int) bool {
		clear(p.W2[r*H : (r+1)*H])
		p.B2[r] = 0
		return true
	})
}

// BlockDiagonal reports whether W(v) is block-diagonal in K contiguous
// blocks for every velocity: the last layer's rows and biases of the
// off-diagonal entries are all zero (what MaskBlocks makes).
func BlockDiagonal(p *Params, K int) bool {
	H := p.H
	return offBlock(p.N, K, func(r int) bool {
		if p.B2[r] != 0 {
			return false
		}
		for _, w := range p.W2[r*H : (r+1)*H] {
			if w != 0 {
				return false
			}
		}
		return true
	})
}

// offBlock calls f with r = i*N + j, the last layer's row of entry (i, j)
// of W(v), for every i and j in different blocks when the N units are split
// into K contiguous blocks of N/K (none for K <= 1), until f returns false;
// it reports whether f never did.
func offBlock(N, K int, f func(r int) bool) bool {
	if K <= 1 {
		return true
	}
	size := N / K
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			if i/size != j/size && !f(i*N+j) {
				return false
			}
		}
	}
	return true
}

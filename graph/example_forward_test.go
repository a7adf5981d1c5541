package graph_test

import (
	"fmt"
	"math"
	"strings"

	"github.com/gridgpu/gridgpu/graph"
)

// ForwardStates runs a (here untrained) network of N = 8 units along B = 3
// walks of T = 4 velocity steps. Every state is a NormReLU output: no
// negative entries and unit norm. The state depends only on the velocities
// so far, so two walks that start alike agree until they part.
func ExampleForwardStates() {
	const B, T, N, H = 3, 4, 8, 16
	p := graph.InitParams(N, H, 1)
	vel := make([]float32, B*T*2) // [B][T][2], m per step
	for t := range T {
		vel[(0*T+t)*2] = 0.1   // walk 0: east
		vel[(1*T+t)*2+1] = 0.1 // walk 1: north
		vel[(2*T+t)*2+1] = 0.1 // walk 2: north, then west from step 3
		if t >= 2 {
			vel[(2*T+t)*2], vel[(2*T+t)*2+1] = -0.1, 0
		}
	}
	g, err := graph.ForwardStates(p, vel, B, T)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("states:", len(g), "= B*T*N")
	state := func(b, t int) []float32 { return g[(b*T+t)*N : (b*T+t+1)*N] }
	for b := range B {
		norms := make([]string, T)
		for t := range T {
			var ss float64
			for _, v := range state(b, t) {
				if v < 0 {
					fmt.Println("negative entry in", b, t)
				}
				ss += float64(v) * float64(v)
			}
			norms[t] = fmt.Sprintf("%.4f", math.Sqrt(ss))
		}
		fmt.Printf("walk %d: norms %s\n", b, strings.Join(norms, " "))
	}
	// (To rounding: the walks are computed side by side, in one matrix
	// product per step.)
	same := func(x, y []float32) bool {
		for i := range x {
			if math.Abs(float64(x[i]-y[i])) > 1e-6 {
				return false
			}
		}
		return true
	}
	for t := range T {
		fmt.Printf("step %d: walks 1 and 2 agree: %v, walks 0 and 1 agree: %v\n", t+1, same(state(1, t), state(2, t)), same(state(0, t), state(1, t)))
	}
	// Output:
	// states: 96 = B*T*N
	// walk 0: norms 1.0000 1.0000 1.0000 1.0000
	// walk 1: norms 1.0000 1.0000 1.0000 1.0000
	// walk 2: norms 1.0000 1.0000 1.0000 1.0000
	// step 1: walks 1 and 2 agree: true, walks 0 and 1 agree: false
	// step 2: walks 1 and 2 agree: true, walks 0 and 1 agree: false
	// step 3: walks 1 and 2 agree: false, walks 0 and 1 agree: false
	// step 4: walks 1 and 2 agree: false, walks 0 and 1 agree: false
}

package graph

import (
	"math"
	"testing"
)

// firstNonFiniteCases runs FirstNonFinite on NaN, +Inf and -Inf at the
// first, a middle and the last position of slices of T, on finite slices
// (with the largest finite values and zeros) and on empty ones.
func firstNonFiniteCases[T ~float32 | ~float64](t *testing.T, name string, largest T) {
	t.Helper()
	nan, inf := T(math.NaN()), T(math.Inf(1))
	for _, bad := range []T{nan, inf, -inf} {
		for _, n := range []int{1, 2, 5} {
			for _, at := range []int{0, n / 2, n - 1} {
				xs := make([]T, n)
				for i := range xs {
					xs[i] = T(i) - largest*T(i%2) // finite, the extremes included
				}
				xs[at] = bad
				if at+1 < n {
					xs[n-1] = -inf // a later one is not the first
				}
				i, v, ok := FirstNonFinite(xs)
				same := v == bad || v != v && bad != bad
				if !ok || i != at || !same {
					t.Errorf("%s: FirstNonFinite(%v) = %d, %v, %v; want %d, %v, true", name, xs, i, v, ok, at, bad)
				}
			}
		}
	}
	for _, xs := range [][]T{nil, {}, {0}, {largest, -largest, 0, 1e-30}} {
		if i, v, ok := FirstNonFinite(xs); ok || i != 0 || v != 0 {
			t.Errorf("%s: FirstNonFinite(%v) = %d, %v, %v; want 0, 0, false", name, xs, i, v, ok)
		}
	}
}

func TestFirstNonFinite(t *testing.T) {
	firstNonFiniteCases[float32](t, "float32", math.MaxFloat32)
	firstNonFiniteCases[float64](t, "float64", math.MaxFloat64)
}

// Params.NonFinite names the first tensor in ParamNames order holding a
// NaN or Inf, the index in it and the value.
func TestParamsNonFinite(t *testing.T) {
	p := ZeroParams(3, 4)
	if at, ok := p.NonFinite(); ok {
		t.Errorf("zero parameters: %+v", at)
	}
	p.G0[2] = float32(math.Inf(-1))
	p.W2[p.N*p.N*p.H-1] = float32(math.Inf(1))
	if at, ok := p.NonFinite(); !ok || at != (NonFiniteValue{Tensor: "mlp.4.weight", Index: p.N*p.N*p.H - 1, Value: math.Inf(1)}) {
		t.Errorf("+Inf last in mlp.4.weight, -Inf in g0: %+v, %v", at, ok)
	}
	p.W0[0] = float32(math.NaN())
	if at, ok := p.NonFinite(); !ok || at.Tensor != "mlp.0.weight" || at.Index != 0 || !math.IsNaN(at.Value) {
		t.Errorf("NaN first in mlp.0.weight: %+v, %v", at, ok)
	}
}

package graph

// FirstNonFinite finds the first NaN, +Inf or -Inf in xs: its index and
// value, and ok true; ok is false when every value is finite (xs empty
// included). It is gridgpu's one scan for non-finite values: of gradients
// (Params.NonFinite), of losses and of input arrays.
func FirstNonFinite[T ~float32 | ~float64](xs []T) (index int, value T, ok bool) {
	for i, v := range xs {
		// f-f is 0 for every finite f and NaN for NaN and both
		// infinities: one subtraction and one branch an element where
		// IsNaN and IsInf take three (the scan runs over every gradient).
		if f := float64(v); f-f != 0 {
			return i, v, true
		}
	}
	return 0, 0, false
}

// NonFiniteValue is where a Params holds a NaN or Inf: the tensor (one of
// ParamNames), the index in it (row-major) and the value.
type NonFiniteValue struct {
	Tensor string
	Index  int
	Value  float64
}

// NonFinite finds the first NaN or Inf of p, the tensors taken in
// ParamNames order; ok is false when every value is finite.
func (p *Params) NonFinite() (at NonFiniteValue, ok bool) {
	for t, s := range p.Slices() {
		if i, v, bad := FirstNonFinite(s); bad {
			return NonFiniteValue{Tensor: ParamNames[t], Index: i, Value: float64(v)}, true
		}
	}
	return NonFiniteValue{}, false
}

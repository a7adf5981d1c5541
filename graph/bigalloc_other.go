//go:build !unix

package graph

// bigAlloc returns a zeroed buffer of n elements and a function that
// releases it (here the garbage collector does).
func bigAlloc[T float](n int) ([]T, func()) { return make([]T, n), func() {} }

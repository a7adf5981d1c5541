package graph

import "runtime"

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// ParallelFor runs f(i) for i in [0, n) on up to GOMAXPROCS goroutines, each
// index exactly once. Results written per index do not depend on the
// number of goroutines or their scheduling, as long as the split into
// indices does not either.
func ParallelFor(n int, f func(i int)) { parallelFor(n, f) }

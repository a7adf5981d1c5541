package graph

import (
	"runtime"

	"github.com/gridgpu/gridgpu/internal/workpool"
)

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// ParallelFor runs f(i) for i in [0, n) on up to GOMAXPROCS goroutines, each
// index exactly once. Results written per index do not depend on the
// number of goroutines or their scheduling, as long as the split into
// indices does not either.
func ParallelFor(n int, f func(i int)) { parallelFor(n, f) }

// parallelFor runs f(i) for i in [0, n) on up to GOMAXPROCS goroutines. Each
// index is handled by exactly one call, so results written per index are
// deterministic whatever the scheduling.
func parallelFor(n int, f func(i int)) { parallelForW(n, func(_, i int) { f(i) }) }

// parallelForW is parallelFor that also tells f which goroutine (0 to
// min(n, GOMAXPROCS)-1) runs it, for per-goroutine scratch memory:
// workpool.Each on that many goroutines, or a plain loop on this one
// (w = 0) where that is at most 1.
func parallelForW(n int, f func(w, i int)) {
	workers := min(n, maxProcs())
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	workpool.Each(workers, n, nil, f)
}

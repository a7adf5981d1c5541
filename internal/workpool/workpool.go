// Package workpool runs the iterations of a loop on a pool of goroutines
// that take the indices in order from a shared counter: the loop that
// analyze (walks, then units), gridscore (maps) and sweep (runs) spread
// over their workers, and package graph its parallel loops (parallelFor).
package workpool

import (
	"sync"

	"github.com/gridgpu/gridgpu/internal/stopsig"
)

// Each calls f(w, i) for every i from 0 to n-1 on workers goroutines, w
// the goroutine's number (0 to workers-1, for state of its own such as an
// accumulator). Each goroutine takes the lowest index no other has taken,
// and ends when none is left or, where stop is not nil, when stop reports
// true before it begins the next index (indices not begun are then never
// run). Each returns when every goroutine has ended; with workers < 1 it
// runs nothing.
func Each(workers, n int, stop func() bool, f func(w, i int)) {
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if stop != nil {
					stopsig.Yield() // the stop is usually a signal, carried by goroutines
				}
				if i >= n || (stop != nil && stop()) {
					return
				}
				f(w, i)
			}
		}(w)
	}
	wg.Wait()
}

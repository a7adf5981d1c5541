package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestEachRunsEveryIndexOnce(t *testing.T) {
	for _, c := range []struct{ workers, n int }{{1, 0}, {1, 5}, {3, 100}, {8, 3}} {
		counts := make([]int32, c.n)
		var mu sync.Mutex
		seen := map[int]bool{}
		Each(c.workers, c.n, nil, func(w, i int) {
			atomic.AddInt32(&counts[i], 1)
			mu.Lock()
			seen[w] = true
			mu.Unlock()
		})
		for i, k := range counts {
			if k != 1 {
				t.Errorf("workers %d, n %d: index %d ran %d times", c.workers, c.n, i, k)
			}
		}
		for w := range seen {
			if w < 0 || w >= c.workers {
				t.Errorf("workers %d: worker number %d", c.workers, w)
			}
		}
	}
}

func TestEachInOrderOnOneWorker(t *testing.T) {
	var got []int
	Each(1, 4, nil, func(_, i int) { got = append(got, i) })
	if len(got) != 4 || got[0] != 0 || got[1] != 1 || got[2] != 2 || got[3] != 3 {
		t.Errorf("order %v, want 0 1 2 3", got)
	}
}

func TestEachStops(t *testing.T) {
	var ran atomic.Int32
	Each(1, 10, func() bool { return ran.Load() >= 3 }, func(_, i int) { ran.Add(1) })
	if ran.Load() != 3 {
		t.Errorf("%d indices ran, want 3 (stop after the third)", ran.Load())
	}
	ran.Store(0)
	Each(0, 10, nil, func(_, i int) { ran.Add(1) })
	if ran.Load() != 0 {
		t.Errorf("no workers: %d indices ran", ran.Load())
	}
}

package graph

import (
	"sync"
	"sync/atomic"
	"time"
)

// Phase timings for benchmarks. Off by default: each probe then costs one
// atomic load. The model's ops run one after another (the tape machine is
// sequential), so the phases do not overlap and sum to about the run time.
const (
	PhaseMLPForward         = "mlp_forward"         // hidden layers and the last layer's product
	PhaseRecurrenceForward  = "recurrence_forward"  // the T gated steps with Norm-ReLU
	PhasePairwise           = "pairwise"            // separation and invariance with their gradient
	PhaseOtherLosses        = "capacity_ci"         // capacity and conformal isometry, both passes
	PhaseRecurrenceBackward = "recurrence_backward" // back through the T steps
	PhaseMLPBackward        = "mlp_backward"        // products of the MLP's backward pass
	PhaseTotal              = "graph_total"         // a whole Grad or Eval call
)

var (
	timingOn atomic.Bool
	timingMu sync.Mutex
	timings  = map[string]time.Duration{}
)

// EnableTiming switches the phase timers on or off (package-wide).
func EnableTiming(on bool) { timingOn.Store(on) }

// TakeTimings returns the time spent in each phase since the last call and
// resets the counters.
func TakeTimings() map[string]time.Duration {
	timingMu.Lock()
	defer timingMu.Unlock()
	out := timings
	timings = map[string]time.Duration{}
	return out
}

// tick starts a probe; it returns the zero time when timing is off.
func tick() time.Time {
	if !timingOn.Load() {
		return time.Time{}
	}
	return time.Now()
}

// tock adds the time since t0 to phase.
func tock(phase string, t0 time.Time) {
	if t0.IsZero() {
		return
	}
	d := time.Since(t0)
	timingMu.Lock()
	timings[phase] += d
	timingMu.Unlock()
}

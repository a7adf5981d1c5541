package train

import (
	"encoding/json"
	"fmt"
	"math"
)

// Plateau is ReduceLROnPlateau (mode "min", threshold_mode "rel", cooldown
// 0) fed with the mean total loss of each window of Window consecutive
// steps. Single-step losses are too noisy with freshly sampled microbatches;
// a window mean is one observation, as a validation loss per epoch is for
// PyTorch's scheduler.
//
// An observation a improves on the best b when a < b - Threshold*|b|. For
// positive b that is PyTorch's a < b*(1-threshold); the absolute value keeps
// the rule meaningful for the negative totals the capacity term can produce.
// After more than Patience windows without improvement the learning rate
// becomes max(LR*Factor, MinLR) (only if that changes it by more than 1e-8
// relative, like PyTorch's eps) and the count restarts.
//
// All fields are exported so the state round-trips through JSON in
// checkpoints; Sum is float64 and JSON keeps float64 exactly.
type Plateau struct {
	Enabled   bool    `json:"enabled"`
	LR        float64 `json:"lr"`
	Factor    float64 `json:"factor"`
	Patience  int     `json:"patience"`
	Window    int     `json:"window"`
	MinLR     float64 `json:"min_lr"`
	Threshold float64 `json:"threshold"`
	// DecayStep > 0 is a step schedule instead (Enabled is then false):
	// LRFor gives LR up to this step and LR*Factor after it.
	DecayStep int64 `json:"decay_step,omitempty"`

	HasBest   bool      `json:"has_best"`
	Best      float64   `json:"best"`
	NumBad    int       `json:"num_bad"`
	Losses    []float64 `json:"window_losses"` // the current, incomplete window
	Reduction int       `json:"reductions"`    // how many times LR was reduced
}

// NewPlateau builds the scheduler for a config.
func NewPlateau(c *Config) *Plateau {
	s := c.Scheduler
	p := &Plateau{Enabled: s.Kind == "plateau", LR: c.Optimizer.LR, Factor: s.Factor, Patience: s.Patience,
		Window: s.Window, MinLR: s.MinLR, Threshold: s.Threshold}
	if s.Kind == "step" {
		p.DecayStep = s.DecayStep
	}
	return p
}

// LRFor returns the learning rate of optimiser step `step` (counted from 1):
// the plateau's current rate, or for a step schedule the rate before or
// after its decay step. It depends on nothing but the step and the
// settings, so a resumed run takes the same rates as an uninterrupted one.
func (p *Plateau) LRFor(step int64) float64 {
	if p.DecayStep > 0 && step > p.DecayStep {
		return p.LR * p.Factor
	}
	return p.LR
}

// Observe records one step's total loss and returns the learning rate for
// the next step.
func (p *Plateau) Observe(loss float64) float64 {
	if !p.Enabled {
		return p.LR
	}
	p.Losses = append(p.Losses, loss)
	if len(p.Losses) < p.Window {
		return p.LR
	}
	var s float64
	for _, l := range p.Losses {
		s += l
	}
	mean := s / float64(len(p.Losses))
	p.Losses = p.Losses[:0]
	if !p.HasBest || mean < p.Best-p.Threshold*math.Abs(p.Best) {
		p.HasBest, p.Best, p.NumBad = true, mean, 0
		return p.LR
	}
	p.NumBad++
	if p.NumBad > p.Patience {
		newLR := math.Max(p.LR*p.Factor, p.MinLR)
		if p.LR-newLR > 1e-8*p.LR {
			p.LR = newLR
			p.Reduction++
		}
		p.NumBad = 0
	}
	return p.LR
}

// MarshalState is the checkpoint form of the scheduler.
func (p *Plateau) MarshalState() (string, error) {
	b, err := json.Marshal(p)
	return string(b), err
}

// UnmarshalPlateau restores a scheduler from MarshalState's output.
func UnmarshalPlateau(s string) (*Plateau, error) {
	var p Plateau
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("scheduler state: %w", err)
	}
	if p.Window < 1 || !(p.LR > 0) {
		return nil, fmt.Errorf("scheduler state: window %d, lr %g", p.Window, p.LR)
	}
	return &p, nil
}

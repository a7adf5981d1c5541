package train

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// slowRun is the run length from which a run is worth a note at its start.
const slowRun = 86400 // seconds

// SlowRunNote is one line saying that steps optimiser steps at secsPerStep
// take more than a day on the device that desc, an engine's description
// (Engine.Device: "cpu", "cuda:0 (NVIDIA H200; ...)"), names, and which
// preset is meant for that device (demo for a CPU, grids for a GPU); ""
// when they take less. preset is the one the run started from ("" if
// unknown).
func SlowRunNote(secsPerStep float64, steps int64, desc, preset string) string {
	total := secsPerStep * float64(steps)
	if !(total > slowRun) {
		return ""
	}
	dev, _, _ := strings.Cut(desc, " ")
	note := fmt.Sprintf("note: at %s a step on %s, these %d steps take about %s", FormatSeconds(secsPerStep), dev, steps, FormatSeconds(total))
	d, err := ParseDevice(dev)
	gpu := err == nil && d.IsCUDA()
	switch {
	case !gpu && preset != "demo":
		note += "; the demo preset is the one meant for a CPU (--preset demo, minutes), grids for a GPU (--preset grids --device cuda:0)"
	case gpu && preset != "grids":
		note += "; the grids preset is the one meant for a GPU (--preset grids)"
	}
	return note
}

// FormatSeconds renders a duration in seconds for people: "85 ms",
// "5.31 s", "42 min", "7.5 h", "122 days", ">100 years".
func FormatSeconds(s float64) string {
	switch {
	case math.IsNaN(s) || s < 0:
		return "?"
	case s < 1:
		return fmt.Sprintf("%.3g ms", s*1000)
	case s < 120:
		return fmt.Sprintf("%.3g s", s)
	case s < 2*3600:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 2*86400:
		return fmt.Sprintf("%.2g h", s/3600)
	case s < 100*365.25*86400:
		return fmt.Sprintf("%.0f days", s/86400)
	}
	return ">100 years"
}

// StepTiming is what MeasureStep measured.
type StepTiming struct {
	Seconds float64 // seconds per optimiser step: median of the steps after the first, else the first
	Steps   int     // steps timed (including the first)
	Device  string  // the engine's description of its device
}

// MeasureStep builds cfg's engine and times optimiser steps on microbatches
// from cfg's sampler, writing nothing: the first step (which also warms the
// engine up) and, while the time spent stays under budget, up to three
// more, whose median is the figure. The parameters are the initial ones of
// cfg's seed; the time of a step does not depend on their values.
func MeasureStep(cfg *Config, budget time.Duration) (StepTiming, error) {
	N, H, B, T := cfg.Model.Units, cfg.Model.Hidden, cfg.Data.BatchSize, cfg.Data.SeqLen
	init := graph.InitParamsSpec(N, H, cfg.Run.Seed, cfg.Model.InitSpec())
	dev, err := ParseDevice(cfg.Run.Device)
	if err != nil {
		return StepTiming{}, err
	}
	eng, err := NewEngine(EngineSpec{Device: dev, B: B, T: T, N: N, H: H, Loss: cfg.Loss, Opt: cfg.OptConfig(), Init: init, GPU: cfg.GPU, Blocks: cfg.Model.Blocks, VelocitySets: cfg.Data.VelocitySets})
	if err != nil {
		return StepTiming{}, err
	}
	defer eng.Close()
	sampler, err := cfg.Data.NewSampler(cfg.Run.Seed)
	if err != nil {
		return StepTiming{}, err
	}
	batches := make([]*data.Batch, cfg.Optimizer.Accumulation)
	step := func() (float64, error) {
		for i := range batches {
			batches[i] = sampler.Next()
		}
		t0 := time.Now()
		if _, err := eng.Step(batches, cfg.Optimizer.LR); err != nil {
			return 0, err
		}
		return time.Since(t0).Seconds(), nil
	}
	start := time.Now()
	first, err := step()
	if err != nil {
		return StepTiming{}, err
	}
	var more []float64
	for len(more) < 3 && time.Since(start)+time.Duration(first*float64(time.Second)) < budget {
		s, err := step()
		if err != nil {
			return StepTiming{}, err
		}
		more = append(more, s)
	}
	res := StepTiming{Seconds: first, Steps: 1 + len(more), Device: eng.Device()}
	if len(more) > 0 {
		sort.Float64s(more)
		res.Seconds = more[len(more)/2]
	}
	return res, nil
}

package train

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
)

// OptConfig is the optimiser setting of one step: AdamW as PyTorch defines
// it (decoupled weight decay) after clipping the global gradient norm.
type OptConfig struct {
	Beta1, Beta2, Eps, WeightDecay float64
	ClipNorm                       float64 // 0 disables clipping
}

// OptState is AdamW's state: first and second moments in parameter layout
// and the number of updates taken.
type OptState struct {
	M, V *graph.Params
	Step int64
}

// StepStats describes one optimiser step.
type StepStats struct {
	Losses   graph.Losses // mean over the step's microbatches
	GradNorm float64      // global norm of the averaged gradient, before clipping
	// DeadUnits counts the units that were zero in every state g_1..g_T of
	// every microbatch of the step; -1 when the engine cannot tell.
	DeadUnits int
	// Terms holds every unweighted loss term, those with weight zero
	// included, averaged over the microbatches where each is defined (nil
	// where it is defined in none). Only engines that implement AllTermser
	// fill it, and only for steps asked for; otherwise it is nil and
	// Losses has the terms the engine computed (zero for a zero weight).
	Terms *graph.TermValues
}

// AllTermser is implemented by engines that can report every unweighted
// loss term of a step, including those whose weight is zero and that the
// step itself does not compute (the CPU engine; the CUDA engine does not).
// SetAllTerms(true) asks for StepStats.Terms on the following Steps; the
// training loop asks only on the steps it logs, so that a zero weight still
// costs nothing on the others.
type AllTermser interface {
	SetAllTerms(on bool)
}

// CountDead is the number of false entries of active.
func CountDead(active []bool) int {
	n := 0
	for _, a := range active {
		if !a {
			n++
		}
	}
	return n
}

// Engine owns the model parameters and optimiser state on some device and
// performs whole optimiser steps there.
type Engine interface {
	// Device names the device, e.g. "cpu" or "cuda:0 (NVIDIA H100)".
	Device() string
	// Step computes the gradient averaged over the microbatches, clips its
	// global norm, and applies one AdamW update with learning rate lr. If any
	// loss term or the gradient is not finite it returns an error naming the
	// term and leaves parameters and optimiser state unchanged.
	Step(batches []*data.Batch, lr float64) (StepStats, error)
	// Eval computes the losses of one microbatch without updating anything.
	Eval(b *data.Batch) (graph.Losses, error)
	// Params and OptState return host copies; SetParams and SetOptState
	// replace the device's.
	Params() (*graph.Params, error)
	SetParams(*graph.Params) error
	OptState() (*OptState, error)
	SetOptState(*OptState) error
	Close() error
}

// EngineSpec is what a backend needs to build an engine.
type EngineSpec struct {
	Device     Device // run.device or --device, parsed (ParseDevice)
	B, T, N, H int
	Loss       graph.LossConfig
	Opt        OptConfig
	Init       *graph.Params // initial parameters (copied)
	// Blocks > 1: W(v) is kept block-diagonal by masking the gradient
	// (graph.MaskBlocks); Init must already be masked.
	Blocks int
	// VelocitySets is data.velocity_sets: a microbatch holds at most
	// T x VelocitySets distinct velocities, the rows the CPU graph's MLP
	// is built for (0 counts as 1). The CUDA engine runs its MLP on T
	// distinct rows and takes every row otherwise.
	VelocitySets int
	// GPU is the CUDA engine's choice of kernels (an empty value is the
	// default, see DefaultGPU); the CPU engine ignores it.
	GPU GPUConfig
}

// Check reports what every engine refuses in a spec: a bad optimiser
// setting, missing or malformed initial parameters, or a microbatch or
// model size that does not match them. Engines add their own limits.
func (s EngineSpec) Check() error {
	if err := s.Opt.Validate(); err != nil {
		return err
	}
	if s.Init == nil {
		return errors.New("engine: no initial parameters")
	}
	if err := s.Init.Check(); err != nil {
		return err
	}
	if s.Init.N != s.N || s.Init.H != s.H {
		return fmt.Errorf("engine: initial parameters have N=%d, H=%d but the engine is for N=%d, H=%d", s.Init.N, s.Init.H, s.N, s.H)
	}
	if s.B < 1 || s.T < 1 {
		return fmt.Errorf("engine: batch B=%d, T=%d: both must be at least 1", s.B, s.T)
	}
	return nil
}

// distinct is the most distinct velocities of one microbatch.
func (s EngineSpec) distinct() int { return min(s.T*max(s.VelocitySets, 1), s.B*s.T) }

// Backend builds engines for the devices of one kind (DeviceCPU,
// DeviceCUDA).
type Backend func(EngineSpec) (Engine, error)

var (
	backendsMu sync.Mutex
	backends   = map[string]Backend{}
)

// RegisterBackend makes a backend available for the devices of a kind
// (DeviceCPU, DeviceCUDA). Backends register themselves from init
// functions.
func RegisterBackend(kind string, b Backend) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[kind] = b
}

// NewEngine builds an engine for spec.Device.
func NewEngine(spec EngineSpec) (Engine, error) {
	backendsMu.Lock()
	b, ok := backends[spec.Device.Kind]
	var names []string
	for k := range backends {
		names = append(names, k)
	}
	backendsMu.Unlock()
	sort.Strings(names)
	if !ok {
		if spec.Device.IsCUDA() {
			return nil, fmt.Errorf("device %q: this gridgpu binary was built without CUDA support; build it with `make build-cuda` (go build -tags gridgpu_cuda, after scripts/setup-cuda.sh), or use the Docker image (see the README), or pass --device cpu", spec.Device)
		}
		return nil, fmt.Errorf("device %q: unknown; this binary supports %s", spec.Device, strings.Join(names, ", "))
	}
	return b(spec)
}

package analysis

import (
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/gridgpu/gridgpu/data"
)

// MemoryEstimate is the memory an analysis needs at its peak, from the
// buffers analyzeArena, the scorers and the report (report.WriteReport)
// allocate. Sizes are float64 so that absurd options cannot overflow the
// arithmetic.
type MemoryEstimate struct {
	Bytes float64 // total, with the allowance for the garbage collector
	// Largest describes the largest part, for messages; Flag is the flag
	// that sizes it: "steps", "bins" or "samples".
	Largest string
	Flag    string
}

// workers is the number of workers Analyze runs with.
func (o *Options) workers() int {
	if o.Workers < 1 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Workers
}

// EstimateMemory estimates the peak memory of analysing a network of N
// units and hidden width H with opt (which Validate has accepted).
func EstimateMemory(N, H int, opt Options) MemoryEstimate {
	const f32, f64, c128 = 4.0, 8.0, 16.0
	n, h := float64(N), float64(H)
	W := float64(opt.workers())
	T := float64(opt.Steps)
	Tt := T
	if opt.Start == StartUniform {
		Tt += float64(opt.BurnIn)
	}
	nTraj := float64(opt.Trajectories)
	ns := math.Min(float64(opt.DistanceSamples), nTraj*T)
	samples := ns*(2*f64+n*f32) + ns*48 // positions, states; the indices and their set
	// Walks go through the network in chunks of B (analyzeArena).
	B := math.Ceil(nTraj / (4 * W))
	B = math.Max(1, math.Min(math.Min(B, 64), math.Floor(float64(32<<20)/math.Max(1, Tt*n))))
	chunk := B*Tt*2*f32 + B*T*2*f64 + // velocities, positions
		B*Tt*n*f32 + B*n*n*f32 + 2*B*h*f32 + 2*B*n*f32 // ForwardStates: states, W(v), hidden layers, previous states

	var kept, keptMaps, peak, copies float64
	steps, bins, samp := 0.0, 0.0, 0.0 // the largest part of each kind
	for _, L := range opt.Arenas {
		nb := float64(NewBinning(L, opt.BinsPerMetre).NB)
		nb2 := nb * nb
		acc := nb2*n*f64 + nb2*f64 // a worker's sums and counts
		ratemaps := nb2 * n * f64
		sx := fftSize(int(2*nb - 1))
		sacs := n * float64((2*nb-1)*(2*nb-1)) * f64
		pf := float64(fftSize(max(opt.Fourier.Pad, 1) * int(nb)))
		pf = math.Max(pf, float64(fftSize(32)))
		scratch := 6*c128*float64(sx*sx) + (c128+f64)*pf*pf // SAC and Fourier buffers of one unit
		walking := W * (acc + chunk)
		scoring := W*acc + ratemaps + sacs + W*scratch
		peak = math.Max(peak, kept+samples+math.Max(walking, scoring))
		kept += ratemaps + sacs + nb2*f64 + samples
		keptMaps += ratemaps + sacs + nb2*f64
		copies += nb2 * n * f32 // ratemaps.npz's float32 maps
		steps = math.Max(steps, W*chunk)
		bins = math.Max(bins, math.Max(W*acc+ratemaps+sacs+W*scratch, keptMaps+copies))
		samp += samples
	}
	peak = math.Max(peak, kept+copies)
	e := MemoryEstimate{Bytes: 2*peak + 64<<20} // GOGC=100: the heap grows to twice its live size
	switch {
	case steps >= bins && steps >= samp:
		e.Flag, e.Largest = "steps", fmt.Sprintf("the walks' states, %s for %d worker(s)", data.FormatBytes(steps), int(W))
	case bins >= samp:
		e.Flag, e.Largest = "bins", fmt.Sprintf("the ratemaps, autocorrelograms and the workers' bins, %s", data.FormatBytes(bins))
	default:
		e.Flag, e.Largest = "samples", fmt.Sprintf("the sampled states, %s", data.FormatBytes(samp))
	}
	return e
}

// ResourceFlags names the command-line flags of the options, for messages
// (states calls the samples --samples).
type ResourceFlags struct {
	Samples string // "--distance-samples"
}

// MaxSeconds bounds the time an analysis may be expected to take: one
// estimated at more than a week even at MinFlopRate is refused.
const MaxSeconds = 7 * 24 * 3600.0

// MinFlopRate is the arithmetic rate (flop/s per worker) the time estimate
// assumes: more than a CPU core does, so that only analyses that cannot
// end within a week on any machine are refused.
const MinFlopRate = 1e11

// EstimateSeconds is a lower bound on the time of an analysis of a network
// of N units and hidden width H with opt: the arithmetic of its walks
// through the network (every step of every walk in every arena: the MLP
// that makes W(v), and W(v) g) and of its distance curves (all pairs of
// sampled states), at MinFlopRate on each worker.
func EstimateSeconds(N, H int, opt Options) float64 {
	n, h := float64(N), float64(H)
	perWalk := float64(opt.Steps)
	if opt.Start == StartUniform {
		perWalk += float64(opt.BurnIn)
	}
	arenas, traj := float64(len(opt.Arenas)), float64(opt.Trajectories)
	walks := arenas * traj * perWalk * 2 * (2*h + h*h + h*n*n + n*n)
	ns := math.Min(float64(opt.DistanceSamples), traj*float64(opt.Steps))
	pairs := arenas * ns * (ns - 1) / 2 * 3 * n
	return (walks + pairs) / (MinFlopRate * float64(opt.workers()))
}

// CheckResources refuses, in one line naming the flag to change and the
// largest value of it that fits, options whose estimated memory exceeds
// have bytes (what the machine has; kind says what: "available"; have <= 0
// skips the check), or that would take more than MaxSeconds even at
// MinFlopRate. Call it after Validate, before Analyze.
func CheckResources(N, H int, opt Options, have float64, kind string, flags ResourceFlags) error {
	if flags.Samples == "" {
		flags.Samples = "--distance-samples"
	}
	type knob struct {
		name string
		lo   int
		get  func(o *Options) int
		set  func(o *Options, v int)
	}
	knobs := map[string]knob{
		"steps":        {"--steps", 1, func(o *Options) int { return o.Steps }, func(o *Options, v int) { o.Steps = v }},
		"trajectories": {"--trajectories", 1, func(o *Options) int { return o.Trajectories }, func(o *Options, v int) { o.Trajectories = v }},
		"bins":         {"--bins", 2, func(o *Options) int { return o.BinsPerMetre }, func(o *Options, v int) { o.BinsPerMetre = v }},
		"samples":      {flags.Samples, 2, func(o *Options) int { return o.DistanceSamples }, func(o *Options, v int) { o.DistanceSamples = v }},
	}
	// most is the largest value of k, at most its value in opt, with which
	// fits holds (each estimate grows with each of these flags); ok is
	// false when not even the smallest fits.
	most := func(k knob, fits func(o *Options) bool) (int, bool) {
		lo, hi := k.lo, k.get(&opt)
		try := func(v int) bool {
			o := opt
			k.set(&o, v)
			return fits(&o)
		}
		if !try(lo) {
			return 0, false
		}
		for lo+1 < hi {
			mid := lo + (hi-lo)/2
			if try(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return lo, true
	}
	W := opt.workers()
	workers := ""
	if W > 1 {
		workers = fmt.Sprintf(" (or fewer --workers than %d)", W)
	}

	if e := EstimateMemory(N, H, opt); have > 0 && e.Bytes > have {
		k := knobs[e.Flag]
		msg := fmt.Sprintf("%s %d: the analysis needs about %s of memory (largest: %s), but this machine has %s %s",
			k.name, k.get(&opt), data.FormatBytes(e.Bytes), e.Largest, data.FormatBytes(have), kind)
		v, ok := most(k, func(o *Options) bool { return EstimateMemory(N, H, *o).Bytes <= have })
		if !ok {
			return fmt.Errorf("%s; even %s %d does not fit: analyse fewer --arena sides, or with fewer --workers", msg, k.name, k.lo)
		}
		if e.Flag == "samples" {
			workers = "" // the samples do not grow with the workers
		}
		return fmt.Errorf("%s; the most that fits is %s %d%s", msg, k.name, v, workers)
	}

	secs := EstimateSeconds(N, H, opt)
	if secs <= MaxSeconds {
		return nil
	}
	// The flag most above its default is the one to name.
	d := DefaultOptions()
	k, ratio := knobs["trajectories"], float64(opt.Trajectories)/float64(d.Trajectories)
	for _, c := range []struct {
		key   string
		ratio float64
	}{{"steps", float64(opt.Steps) / float64(d.Steps)}, {"samples", float64(opt.DistanceSamples) / float64(d.DistanceSamples)}} {
		if c.ratio > ratio {
			k, ratio = knobs[c.key], c.ratio
		}
	}
	msg := fmt.Sprintf("%s %d: the analysis would take at least %s (on %d worker(s) at %.0f GFLOP/s each), over the limit of a week",
		k.name, k.get(&opt), formatDuration(secs), W, MinFlopRate/1e9)
	v, ok := most(k, func(o *Options) bool { return EstimateSeconds(N, H, *o) <= MaxSeconds })
	if !ok {
		return fmt.Errorf("%s; analyse fewer --arena sides or walks", msg)
	}
	return fmt.Errorf("%s; the most that can end within a week is %s %d", msg, k.name, v)
}

// formatDuration writes seconds as the largest whole unit: "3 days",
// "12 years".
func formatDuration(s float64) string {
	const day, year = 86400.0, 365.25 * 86400
	switch {
	case s >= 2*year:
		return strings.Replace(fmt.Sprintf("%.3g years", s/year), "e+", "e", 1)
	case s >= 2*day:
		return fmt.Sprintf("%.0f days", s/day)
	}
	return fmt.Sprintf("%.0f hours", s/3600)
}

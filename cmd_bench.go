package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/train"
)

// benchPresets are the sizes bench accepts: the project's four benchmark
// sizes, each with the paper's loss and optimiser settings.
var benchPresets = []string{"tiny", "small", "medium", "paper"}

func benchCommand() *cli.Command {
	return newCommand("bench", "time training steps at a preset size; prints one JSON object",
		"gridgpu bench --preset P --device D [--iters N] [--warmup N] [--threads N] [--seed S] [--gpu-gemm G] [--gpu-pair K]",
		benchAction, append([]cli.Flag{
			&cli.StringFlag{Name: "preset", Value: "paper", Usage: "size: " + strings.Join(benchPresets, ", ")},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, or cuda:N on a CUDA build"},
			intFlag(cli.IntFlag{Name: "iters", Value: 5, Usage: "timed steps"}),
			intFlag(cli.IntFlag{Name: "warmup", Value: 1, Usage: "untimed steps first (buffers are allocated on the first)"}),
			threadsFlag("GOMAXPROCS for the CPU engine (0: all cores)"),
			seedFlag(0, "seed of the initial parameters and the microbatches"),
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a pprof CPU profile of the timed steps to `FILE`"},
		}, configFlags(presetDefaults("paper", benchPresets), "gpu.")...)...)
}

// benchOutput is the JSON printed by bench.
type benchOutput struct {
	SecondsPerStep float64            `json:"seconds_per_step"`
	MinSeconds     float64            `json:"min_seconds"`
	MaxSeconds     float64            `json:"max_seconds"`
	StepTimes      []float64          `json:"step_times"`
	Breakdown      map[string]float64 `json:"breakdown,omitempty"`
	Phases         map[string]float64 `json:"phases,omitempty"`
	PeakRSSMB      float64            `json:"peak_rss_mb"`
	Loss           float64            `json:"loss"`
	Config         benchConfig        `json:"config"`
}

type benchConfig struct {
	Preset  string `json:"preset"`
	B       int    `json:"B"`
	T       int    `json:"T"`
	N       int    `json:"N"`
	H       int    `json:"H"`
	P       int    `json:"P"`
	Device  string `json:"device"`
	Threads int    `json:"threads"`
	BLAS    string `json:"blas,omitempty"`
	// Vector is the path of the C kernels (avx512, avx2, scalar; go in
	// the build without C): the same results at different speeds.
	Vector string `json:"vector,omitempty"`
	Iters  int    `json:"iters"`
	Warmup int    `json:"warmup"`
	Seed   uint64 `json:"seed"`
	Go     string `json:"go"`
	// GPU is the gpu section asked for (CUDA devices only); Device says
	// what it resolved to.
	GPU *train.GPUConfig `json:"gpu,omitempty"`
}

func benchAction(c *cli.Context) error {
	preset := c.String("preset")
	iters, warmup := c.Int("iters"), c.Int("warmup")
	cfg, dev, err := benchSetup(c)
	if err != nil {
		return err
	}
	B, T, N, H := cfg.Data.BatchSize, cfg.Data.SeqLen, cfg.Model.Units, cfg.Model.Hidden
	seed := c.Uint64("seed")
	eng, err := train.NewEngine(train.EngineSpec{
		Device: dev, B: B, T: T, N: N, H: H,
		Loss: cfg.Loss, Opt: cfg.OptConfig(), Init: graph.InitParams(N, H, seed), GPU: cfg.GPU,
		VelocitySets: cfg.Data.VelocitySets,
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	smp, err := cfg.Data.NewSampler(seed + 1)
	if err != nil {
		return err
	}
	cpu := dev.IsCPU()
	graph.EnableTiming(cpu)
	defer graph.EnableTiming(false)

	out := benchOutput{Config: benchConfig{Preset: preset, B: B, T: T, N: N, H: H, P: B * T,
		Device: eng.Device(), Threads: runtime.GOMAXPROCS(0), Iters: iters, Warmup: warmup, Seed: seed,
		Go: runtime.Version()}}
	if cpu {
		out.Config.BLAS = graph.BLAS + " (" + graph.BLASCore() + ")"
		out.Config.Vector = graph.VectorPath()
	} else {
		out.Config.GPU = &cfg.GPU
	}
	// A stop signal ends the timing between steps with the status the
	// other long commands give (a benchmark of the paper size runs for
	// minutes); the line on stderr says the signals are caught.
	ctx, stopWatching := stopContext(c.App.ErrWriter, nil, "\ngridgpu: second %s: aborting\n")
	defer stopWatching()
	fmt.Fprintf(c.App.ErrWriter, "bench: timing %d steps after %d warm-up of the %s size on %s\n", iters, warmup, preset, eng.Device())
	phases := map[string]float64{}
	for it := 0; it < warmup+iters; it++ {
		stopsig.Yield()
		if s, ok := stopSignal(ctx); ok {
			return stoppedBy(s, fmt.Sprintf("bench: %s: interrupted after %d of %d steps; nothing printed", stopsig.Name(s), it, warmup+iters))
		}
		if it == warmup && c.String("cpuprofile") != "" {
			f, err := os.Create(c.String("cpuprofile"))
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		b := smp.Next()
		graph.TakeTimings()
		t0 := time.Now()
		st, err := eng.Step([]*data.Batch{b}, cfg.Optimizer.LR)
		dt := time.Since(t0).Seconds()
		if err != nil {
			return fmt.Errorf("step %d: %w", it, err)
		}
		tm := graph.TakeTimings()
		if it < warmup {
			continue
		}
		out.StepTimes = append(out.StepTimes, dt)
		out.Loss = st.Losses.Total
		for k, v := range tm {
			phases[k] += v.Seconds() / float64(iters)
		}
		if len(tm) > 0 {
			phases["optimiser"] += (dt - tm[graph.PhaseTotal].Seconds()) / float64(iters)
		}
	}
	out.summarise(phases)
	out.PeakRSSMB = peakRSSMB()
	enc := json.NewEncoder(c.App.Writer)
	return enc.Encode(out)
}

// benchSetup checks bench's flags, sets --threads, and returns the
// preset's config with the device and the GPU settings (flags, then the
// environment) applied.
func benchSetup(c *cli.Context) (train.Config, train.Device, error) {
	var cfg train.Config
	var dev train.Device
	preset := c.String("preset")
	if !slices.Contains(benchPresets, preset) {
		return cfg, dev, usagef("--preset %q: choose one of %s", preset, strings.Join(benchPresets, ", "))
	}
	if iters, warmup := c.Int("iters"), c.Int("warmup"); iters < 1 || warmup < 0 {
		return cfg, dev, usagef("--iters must be at least 1 and --warmup at least 0 (got %d, %d)", iters, warmup)
	}
	if n := c.Int("threads"); n < 0 {
		return cfg, dev, usagef("--threads %d: must be at least 0", n)
	} else if most := maxThreads(); n > most {
		return cfg, dev, usagef("--threads %d: at most %d (4 x the %d CPUs of this machine)", n, most, runtime.NumCPU())
	} else if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	cfg, err := train.Preset(preset)
	if err != nil {
		return cfg, dev, err
	}
	if dev, err = train.ParseDevice(c.String("device")); err != nil {
		return cfg, dev, usagef("%v", err)
	}
	cfg.Run.Device = dev.String()
	applyConfigFlags(c, &cfg, "gpu.")
	notes, err := train.ApplyGPUEnv(&cfg.GPU, cfg.Run.Device, os.Getenv)
	if err != nil {
		return cfg, dev, err
	}
	for _, n := range notes {
		fmt.Fprintf(c.App.ErrWriter, "gridgpu: %s\n", n)
	}
	if err := cfg.GPU.Validate(); err != nil {
		return cfg, dev, usagef("%v", err)
	}
	if dev.IsCPU() {
		d := cfg.Data
		if err := train.CheckMemory(d.BatchSize, d.SeqLen, cfg.Model.Units, cfg.Model.Hidden, 1, train.UseTrain, "choose a smaller --preset"); err != nil {
			return cfg, dev, fmt.Errorf("bench --preset %s: %w", preset, err)
		}
	}
	return cfg, dev, nil
}

// summarise sets the step-time statistics (the median is the figure
// reported) and, from the graph's per-phase seconds, the breakdown.
func (out *benchOutput) summarise(phases map[string]float64) {
	sorted := append([]float64(nil), out.StepTimes...)
	sort.Float64s(sorted)
	out.MinSeconds, out.MaxSeconds = sorted[0], sorted[len(sorted)-1]
	out.SecondsPerStep = sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		out.SecondsPerStep = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	if len(phases) > 0 {
		out.Phases = phases
		// The coarse split the project's notes use; "graph_other" is what the
		// graph machine spends outside the timed ops (scalar adds, copies).
		named := phases[graph.PhaseMLPForward] + phases[graph.PhaseRecurrenceForward] + phases[graph.PhasePairwise] +
			phases[graph.PhaseOtherLosses] + phases[graph.PhaseRecurrenceBackward] + phases[graph.PhaseMLPBackward]
		out.Breakdown = map[string]float64{
			"mlp":             phases[graph.PhaseMLPForward],
			"recurrence":      phases[graph.PhaseRecurrenceForward],
			"pairwise_losses": phases[graph.PhasePairwise],
			"other_losses":    phases[graph.PhaseOtherLosses],
			"backward":        phases[graph.PhaseRecurrenceBackward] + phases[graph.PhaseMLPBackward],
			"optimiser":       phases["optimiser"],
			"graph_other":     phases[graph.PhaseTotal] - named,
		}
	}
}

// maxThreads is the largest --threads bench accepts: more goroutines than
// that only add scheduling and stacks.
func maxThreads() int { return 4 * runtime.NumCPU() }

// peakRSSMB reads the process's peak resident set (VmHWM) in MiB, or 0
// where /proc is not available.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, err := strconv.ParseFloat(fields[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}

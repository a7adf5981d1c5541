package train

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/data"
)

// MemoryEstimate is the host memory a CPU model of one size needs, from the
// buffers package graph allocates once per model (see graph/model.go,
// graph/recurrence.go, graph/separation_invariance.go, graph/linear.go, graph/capacity.go, graph/conformal.go)
// and those of the engine. Sizes are float64 so that absurd configurations
// cannot overflow the arithmetic.
type MemoryEstimate struct {
	Bytes   float64 // total, with the allowance for the garbage collector
	Largest string  // the largest single buffer, for the message
}

// memoryUse selects the buffers a command holds besides the model's.
type memoryUse int

const (
	// UseTrain: parameters, AdamW moments, averaged and per-microbatch
	// gradients, and the clones a checkpoint takes.
	UseTrain memoryUse = iota
	// UseLoss: the parameters as read from the file and one gradient.
	UseLoss
)

// EstimateMemory estimates the peak host memory of a CPU model with
// microbatch B x T, N units and hidden width H, used as use says; accum is
// the number of microbatches per step (training only).
func EstimateMemory(B, T, N, H, accum int, use memoryUse) MemoryEstimate {
	const f32, f64 = 4.0, 8.0
	b, t, n, h := float64(B), float64(T), float64(N), float64(H)
	P, S, NN := b*t, b*(t+1), n*n
	procs := float64(runtime.GOMAXPROCS(0))
	params := NN*h + NN + h*h + 3*h + n + 2*h // every model tensor, in values

	// The [P][N*N] last-layer output: the largest buffer by far. From 64 MiB
	// up it is anonymous memory outside the Go heap.
	w := P * NN * f32
	// Pairwise losses: every unordered pair of rows is visited in tiles of
	// 256; each row block keeps a slab for the later rows' gradient.
	const block = 256.0
	nb := float64(int64((P + block - 1) / block))
	slabRows := nb*P - block*nb*(nb+1)/2 // sum over blocks of the later rows
	if slabRows < 0 {
		slabRows = 0
	}
	cols := slabRows * n * f32

	heap := 0.0
	heap += 5 * P * h * f32                      // two layers' outputs and output gradients, one input gradient
	heap += h * h * f32                          // second layer's weight gradient
	heap += S*n*f32 + S*f64 + 3*P*n*f32          // recurrence: states, norms, previous states, dy
	heap += P * h * f32                          // recurrence: gradient of the hidden activations
	heap += (NN*h + NN) * f32                    // recurrence: last-layer weight and bias gradients
	heap += procs * 1024 * (n + h) * f32         // per-goroutine gathered rows
	heap += 3*P*n*f32 + S*n*f32 + 3*P*f64 + cols // pairwise: rows, their gradient, slabs
	heap += procs * block * block * f32          // pairwise tiles
	heap += 2 * S * n * f32                      // capacity and conformal-isometry gradients
	heap += P * 40                               // pair counting grid
	heap += params * f32                         // the gradient the model returns
	switch use {
	case UseTrain:
		heap += float64(4+accum+3) * params * f32 // p, m, v, average, per-microbatch gradients, checkpoint clones
	case UseLoss:
		heap += 2 * params * f32 // the file's tensors and the parameters
	}
	// The Go runtime lets the heap grow to about twice its live size
	// between collections (GOGC=100); buffers of 64 MiB and more are
	// outside it.
	total := 2 * heap
	if w >= 64<<20 {
		total += w
	} else {
		total += 2 * w
	}
	total += 64 << 20 // program, runtime, BLAS threads' stacks

	largest := fmt.Sprintf("the [B*T][N*N] last-layer output, %s", data.FormatBytes(w))
	if cols > w {
		largest = fmt.Sprintf("the pairwise-loss gradient slabs, %s", data.FormatBytes(cols))
	}
	if params*f32 > w && params*f32 > cols {
		largest = fmt.Sprintf("each copy of the parameters, %s", data.FormatBytes(params*f32))
	}
	return MemoryEstimate{Bytes: total, Largest: largest}
}

// MachineMemory returns the memory available to a new allocation
// (MemAvailable, else MemTotal, from /proc/meminfo) and its name; 0 where
// it cannot be read.
func MachineMemory() (float64, string) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	vals := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			v *= 1024
		}
		vals[k] = v
	}
	if v, ok := vals["MemAvailable"]; ok && v > 0 {
		return v, "available"
	}
	if v, ok := vals["MemTotal"]; ok && v > 0 {
		return v, "total"
	}
	return 0, ""
}

// machineMemory is MachineMemory; tests replace it.
var machineMemory = MachineMemory

// CheckMemory refuses a configuration whose estimated memory exceeds what
// the machine has, with one line giving both, before anything is
// allocated; hint ends the message (what to change).
func CheckMemory(B, T, N, H, accum int, use memoryUse, hint string) error {
	est := EstimateMemory(B, T, N, H, accum, use)
	have, kind := machineMemory()
	if have <= 0 || est.Bytes <= have {
		return nil
	}
	return fmt.Errorf("B=%d, T=%d, N=%d, H=%d needs about %s of memory (largest: %s), but this machine has %s %s; %s",
		B, T, N, H, data.FormatBytes(est.Bytes), est.Largest, data.FormatBytes(have), kind, hint)
}

// CheckConfigMemory is CheckMemory for a training config on the CPU; other
// devices keep the model in their own memory and are not checked here.
func CheckConfigMemory(c *Config) error {
	if d, err := ParseDevice(c.Run.Device); err != nil || !d.IsCPU() {
		return nil
	}
	return CheckMemory(c.Data.BatchSize, c.Data.SeqLen, c.Model.Units, c.Model.Hidden, c.Optimizer.Accumulation, UseTrain,
		"reduce --batch-size, --seq-len, --units or --hidden")
}

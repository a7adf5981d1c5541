package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/testutil"
)

// TestThreadCountDoesNotChangeTraining trains the demo preset's size for a
// few steps with GOMAXPROCS 1, 2 and 3 and requires every tensor of the
// final checkpoint (parameters and AdamW moments), every logged loss and the
// in-training evaluation's scores to be bit-identical: a run's outcome must not depend on the machine's core
// count. The demo size is large enough that every parallel product and
// reduction splits into several tasks.
func TestThreadCountDoesNotChangeTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three runs")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	type result struct {
		tensors map[string][]byte
		losses  []string
	}
	train := func(threads int) result {
		runtime.GOMAXPROCS(threads)
		dir := filepath.Join(t.TempDir(), "run")
		code, _, stderr := runCLI(t, "train", "--preset", "demo", "--steps", "4", "--log-every", "1",
			"--eval-every", "4", "--checkpoint-every", "0", "--seed", "3", "--out", dir)
		if code != 0 {
			t.Fatalf("train with GOMAXPROCS=%d: exit %d: %s", threads, code, stderr)
		}
		f, err := data.ReadSafetensors(latestCheckpoint(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		r := result{tensors: map[string][]byte{}}
		for name, ten := range f.Tensors {
			var buf bytes.Buffer
			binary.Write(&buf, binary.LittleEndian, ten.F32)
			r.tensors[name] = buf.Bytes()
		}
		for _, m := range testutil.MetricsObjects(t, dir) {
			// Everything but the clock.
			for _, k := range []string{"elapsed", "steps_per_sec", "eval_seconds"} {
				delete(m, k)
			}
			b, _ := json.Marshal(m)
			r.losses = append(r.losses, string(b))
		}
		return r
	}
	want := train(1)
	if len(want.tensors) == 0 || len(want.losses) < 4 {
		t.Fatalf("one-thread run left %d tensors and %d metrics lines", len(want.tensors), len(want.losses))
	}
	if !strings.Contains(want.losses[len(want.losses)-1], `"eval_score60_max"`) {
		t.Fatalf("the last metrics line has no evaluation: %s", want.losses[len(want.losses)-1])
	}
	for _, threads := range []int{2, 3} {
		got := train(threads)
		for name, b := range want.tensors {
			if !bytes.Equal(got.tensors[name], b) {
				t.Errorf("GOMAXPROCS=%d: tensor %s differs from the one-thread run", threads, name)
			}
		}
		for i := range want.losses {
			if i >= len(got.losses) || got.losses[i] != want.losses[i] {
				t.Errorf("GOMAXPROCS=%d: metrics line %d differs:\n one thread: %s\n %d threads: %s", threads, i+1, want.losses[i], threads, got.losses[min(i, len(got.losses)-1)])
				break
			}
		}
	}
}

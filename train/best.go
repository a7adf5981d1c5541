package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/rundir"
)

// The best checkpoint (run.keep_best).
//
// run.keep_best names a metrics.jsonl key. Every metrics line that holds it
// (the logged steps for the training keys, the evaluated steps for the
// eval_ keys) is a candidate: when its value beats the best so far, a
// checkpoint of that step is written (if the step is not a checkpoint step
// anyway) and the pointer file checkpoints/best names it. Retention
// (run.keep_checkpoints) never removes the best checkpoint; it is kept
// besides the newest ones. Whether higher or lower is better is fixed per
// key (BestKeys); ties keep the earlier checkpoint.
//
// The pointer holds the checkpoint's file name on its first line, as
// "latest" does, and the key and value on the second ("eval_grid_units
// 12"), so that a resumed run continues with the same best; where the
// pointer is missing or was kept for another key, the best is recomputed
// from metrics.jsonl among the checkpoints still on disk. The pointer file
// itself is rundir's (rundir.BestFile, rundir.ReadBest, rundir.WriteBest).

// bestHigher lists the keys run.keep_best may name where higher is better;
// bestLower those where lower is better (the loss and its terms, counts of
// dead or square units).
var (
	bestHigher = []string{"eval_grid_units", "eval_grid_frac", "eval_score60_max", "eval_score60_p90", "eval_modules", "eval_std_grid_units", "eval_trn_grid_units"}
	bestLower  = func() []string {
		keys := []string{"loss"}
		for _, s := range graph.TermSpecs {
			keys = append(keys, s.Key)
		}
		return append(keys, "zero_frac", "grad_norm", "dead_units", "eval_square_units", "eval_score90_max", "eval_dead_units", "eval_trn_square_units")
	}()
)

// BestKeys returns the metrics keys run.keep_best accepts: those where
// higher is better, then those where lower is better.
func BestKeys() (higher, lower []string) {
	return append([]string(nil), bestHigher...), append([]string(nil), bestLower...)
}

// bestLowerIsBetter reports the direction of key, and whether key is one
// run.keep_best accepts.
func bestLowerIsBetter(key string) (lower, ok bool) {
	for _, k := range bestHigher {
		if k == key {
			return false, true
		}
	}
	for _, k := range bestLower {
		if k == key {
			return true, true
		}
	}
	return false, false
}

// checkKeepBest is the rule of run.keep_best ("" if r's value is valid).
func checkKeepBest(r *RunConfig) string {
	key := r.KeepBest
	if key == "" {
		return ""
	}
	if _, ok := bestLowerIsBetter(key); !ok {
		return fmt.Sprintf(`must be "" (off) or a metrics key: higher is better for %s; lower is better for %s`,
			strings.Join(bestHigher, ", "), strings.Join(bestLower, ", "))
	}
	if strings.HasPrefix(key, "eval_") && r.EvalEvery == 0 {
		return "is an evaluation key, and run.eval_every (--eval-every) is 0: no step is evaluated; set it, or choose a training key such as loss"
	}
	if (strings.HasPrefix(key, "eval_std_") || strings.HasPrefix(key, "eval_trn_")) && r.EvalWalks != EvalBoth {
		return fmt.Sprintf("is written only with run.eval_walks (--eval-walks) both, not %s", r.EvalWalks)
	}
	return ""
}

// bestTracker follows the best checkpoint of a run.
type bestTracker struct {
	key   string
	lower bool
	name  string // the best checkpoint's file name; "" before the first
	step  int64
	value float64
}

// better reports whether v beats the best so far.
func (b *bestTracker) better(v float64) bool {
	if b.name == "" {
		return true
	}
	if b.lower {
		return v < b.value
	}
	return v > b.value
}

// metricValue is key's number on a metrics line; false where the line does
// not hold it (or holds null).
func metricValue(line []byte, key string) (float64, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return 0, false
	}
	raw, ok := m[key]
	if !ok {
		return 0, false
	}
	var v *float64
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return 0, false
	}
	return *v, true
}

// restoreBest sets up the best checkpoint of the run in the run directory
// run, resumed at step start (0 for a fresh run). With key "" it returns
// nil, and a pointer left by an earlier part of the run is removed (it
// would soon name a deleted file); note then says so.
func restoreBest(run, key string, start int64) (b *bestTracker, note string, err error) {
	dir := rundir.CheckpointsPath(run)
	ptr := filepath.Join(dir, rundir.BestFile)
	if key == "" {
		if _, err := os.Lstat(ptr); err == nil {
			name, _, _ := rundir.ReadPointer(ptr)
			if err := os.Remove(ptr); err != nil {
				return nil, "", err
			}
			return nil, fmt.Sprintf("run.keep_best is off: removed %s/%s (it named %s, now kept only while among the newest run.keep_checkpoints)", rundir.CheckpointDir, rundir.BestFile, name), nil
		}
		return nil, "", nil
	}
	lower, _ := bestLowerIsBetter(key)
	b = &bestTracker{key: key, lower: lower}
	if start == 0 {
		return b, "", nil
	}
	exists := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	// The pointer, if it is for this key and names a checkpoint of the run
	// being continued.
	if p, err := rundir.ReadBest(dir); err == nil && p.Key == key {
		if step, ok := rundir.CheckpointStep(p.Name); ok && step <= start && exists(p.Name) {
			b.name, b.step, b.value = p.Name, step, p.Value
			return b, "", nil
		}
	}
	// Otherwise the best of the metrics lines whose checkpoint is on disk.
	m, err := rundir.ReadMetrics(run, rundir.MetricsOptions{MissingOK: true})
	if err != nil {
		return nil, "", err
	}
	for _, l := range m.Records() {
		if l.Step > start {
			continue
		}
		v, ok := metricValue(l.Text, key)
		if !ok || !b.better(v) || !exists(rundir.CheckpointName(l.Step)) {
			continue
		}
		b.name, b.step, b.value = rundir.CheckpointName(l.Step), l.Step, v
	}
	if b.name != "" {
		if err := rundir.WriteBest(dir, rundir.Best{Name: b.name, Key: key, Value: b.value}); err != nil {
			return nil, "", err
		}
		note = fmt.Sprintf("best checkpoint by %s: %s (%s %g), from %s", key, b.name, key, b.value, rundir.MetricsFile)
	} else if _, err := os.Lstat(ptr); err == nil {
		// A pointer for another key, or to a checkpoint no longer there.
		if err := os.Remove(ptr); err != nil {
			return nil, "", err
		}
	}
	return b, note, nil
}

// Package testutil holds helpers that the tests of several packages share:
// a buffer that a child process (or goroutine) writes while the test reads
// it, and readers of the JSON files that runs and reports leave (package
// testfs writes the files tests hand to commands). Only tests import it.
package testutil

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/rundir"
)

// SyncBuffer is a bytes.Buffer that is safe to read while another
// goroutine, or a child process's output copier, writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ReadJSON decodes the JSON file at path into v; the test fails at once
// when the file cannot be read or decoded.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// MetricsObjects reads run's metrics.jsonl, every line of which must be a
// metrics record, as JSON objects.
func MetricsObjects(t testing.TB, run string) []map[string]any {
	t.Helper()
	m, err := rundir.ReadMetrics(run, rundir.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := m.Objects()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// RewriteSafetensors reads the safetensors file src, lets edit change its
// tensors (in file order, data shared with the file read) and metadata, and
// writes the result to dst (which may be src) through the plain writer,
// without the trainer's checks: a damaged or older file.
func RewriteSafetensors(t testing.TB, src, dst string, edit func(ts []data.Tensor, meta map[string]string)) {
	t.Helper()
	f, err := data.ReadSafetensors(src)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]data.Tensor, len(f.Order))
	for i, n := range f.Order {
		ts[i] = f.Tensors[n]
	}
	edit(ts, f.Metadata)
	if err := data.WriteSafetensors(dst, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

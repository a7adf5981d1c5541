package rundir

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/internal/testfs"
)

func TestReadMetrics(t *testing.T) {
	rec := func(step int) string { return `{"step":` + itoa(step) + `,"loss":1.5}` }
	type line struct {
		n    int
		step int64
		why  string // "": a record
	}
	for _, c := range []struct {
		name  string
		text  string
		opt   MetricsOptions
		lines []line
		cut   int
	}{
		{"empty", "", MetricsOptions{}, nil, 0},
		{"whole lines", rec(1) + "\n" + rec(2) + "\n", MetricsOptions{}, []line{{1, 1, ""}, {2, 2, ""}}, 0},
		{"blank lines counted, left out", "\n" + rec(1) + "\n  \r\n" + rec(3) + "\n\n", MetricsOptions{}, []line{{2, 1, ""}, {4, 3, ""}}, 0},
		{"CRLF", rec(1) + "\r\n" + rec(2) + "\r\n", MetricsOptions{}, []line{{1, 1, ""}, {2, 2, ""}}, 0},
		{"a record without its end of line", rec(1) + "\n" + rec(2), MetricsOptions{}, []line{{1, 1, ""}, {2, 2, ""}}, 0},
		{"a cut last line", rec(1) + "\n" + `{"step":2,"lo`, MetricsOptions{}, []line{{1, 1, ""}}, len(`{"step":2,"lo`)},
		{"a cut last line that is garbage", rec(1) + "\n" + "\x00\x00\x00", MetricsOptions{}, []line{{1, 1, ""}}, 3},
		{"a damaged last line with its end of line", rec(1) + "\n" + `{"step":2,"lo` + "\n", MetricsOptions{}, []line{{1, 1, ""}, {2, 0, "not JSON at byte 13"}}, 0},
		{"garbage in the middle", rec(1) + "\ngarbage\n" + rec(3) + "\n", MetricsOptions{}, []line{{1, 1, ""}, {2, 0, "not JSON at byte 1"}, {3, 3, ""}}, 0},
		{"not records", strings.Join([]string{
			`[1, 2]`, `"text"`, `7`, `null`, `{}`, `{"loss": 1}`, `{"step": null}`, `{"step": 1.5}`, `{"step": "3"}`,
			`{"step": 1e3}`, `{"step": -1}`, `{"step": 99999999999999999999}`, `{"step": 1} x`, `{"step": 4}`,
		}, "\n") + "\n", MetricsOptions{}, []line{
			{1, 0, "not a JSON object"}, {2, 0, "not a JSON object"}, {3, 0, "not a JSON object"}, {4, 0, `no "step"`},
			{5, 0, `no "step"`}, {6, 0, `no "step"`}, {7, 0, `no "step"`}, {8, 0, `"step" is not an integer`},
			{9, 0, `"step" is not an integer`}, {10, 0, `"step" is not an integer`}, {11, 0, `"step" is negative`},
			{12, 0, `"step" is not an integer`}, {13, 0, "not JSON at byte 13"}, {14, 4, ""},
		}, 0},
		{"tail: the first line of the part read is left out", rec(1) + "\n" + rec(2) + "\n" + rec(3) + "\n",
			MetricsOptions{Tail: int64(len(rec(3)) + 5)}, []line{{1, 3, ""}}, 0},
		{"tail on a line boundary", rec(1) + "\n" + rec(2) + "\n" + rec(3) + "\n",
			MetricsOptions{Tail: int64(len(rec(3)) + 1)}, []line{{1, 3, ""}}, 0},
		{"tail within the last line", rec(1) + "\n" + rec(2) + "\n", MetricsOptions{Tail: 3}, nil, 0},
		{"tail longer than the file", rec(1) + "\n" + rec(2) + "\n", MetricsOptions{Tail: 1 << 20}, []line{{1, 1, ""}, {2, 2, ""}}, 0},
		{"tail with a cut last line", rec(1) + "\n" + rec(2) + "\n" + `{"st`, MetricsOptions{Tail: int64(len(rec(2)) + 6)}, []line{{1, 2, ""}}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := t.TempDir()
			os.WriteFile(MetricsPath(run), []byte(c.text), 0o644)
			m, err := ReadMetrics(run, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []line
			for _, l := range m.Lines {
				g := line{n: l.N, step: l.Step}
				if l.Err != nil {
					var le *LineError
					if !errors.As(l.Err, &le) || le.N != l.N || le.Path != m.Path {
						t.Errorf("line %d: error %v is not a LineError of the line", l.N, l.Err)
					}
					g.why = le.Why
					want := m.Path + " line " + itoa(l.N) + " is not a metrics record (" + le.Why + ": "
					if !strings.HasPrefix(l.Err.Error(), want) {
						t.Errorf("line %d: message %q, want it to start %q", l.N, l.Err, want)
					}
				}
				got = append(got, g)
			}
			if !reflect.DeepEqual(got, c.lines) || m.Cut != c.cut || m.Missing {
				t.Errorf("lines %v, cut %d, missing %t; want %v, cut %d", got, m.Cut, m.Missing, c.lines, c.cut)
			}
			if c.opt.Tail == 0 && string(m.Raw) != c.text {
				t.Errorf("Raw %q, want the file", m.Raw)
			}
		})
	}
}

func TestMetricsRecordsAndObjects(t *testing.T) {
	run := t.TempDir()
	os.WriteFile(MetricsPath(run), []byte(`{"step":1,"loss":2,"dead_units":null}`+"\n"+`{"step":2,"loss":1,"eval_grid_units":3}`+"\n"+`{"step":3`), 0o644)
	m, err := ReadMetrics(run, MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := m.Objects()
	want := []map[string]any{{"step": 1.0, "loss": 2.0, "dead_units": nil}, {"step": 2.0, "loss": 1.0, "eval_grid_units": 3.0}}
	if err != nil || !reflect.DeepEqual(objs, want) {
		t.Errorf("Objects = %v, %v; want %v", objs, err, want)
	}
	if last, ok := m.Last(); !ok || last.Step != 2 {
		t.Errorf("Last = %+v, %t", last, ok)
	}
	var v struct {
		Eval *int64 `json:"eval_grid_units"`
	}
	err = m.NotRecord(m.Lines[1], json.Unmarshal([]byte(`{"eval_grid_units": 1.5}`), &v))
	if want := `line 2 is not a metrics record ("eval_grid_units" is not an integer: "{\"step\":2`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NotRecord: %v, want %q", err, want)
	}

	// A line that is not a record: Objects fails on it, Records and Last
	// pass it over.
	os.WriteFile(MetricsPath(run), []byte(`{"step":1}`+"\n"+`{"step":2}`+"\n"+strings.Repeat("z", 100)+"\n"), 0o644)
	m, _ = ReadMetrics(run, MetricsOptions{})
	if _, err := m.Objects(); err == nil || !strings.Contains(err.Error(), `line 3 is not a metrics record (not JSON at byte 1: "zzzz`) || len(err.Error()) > 200 {
		t.Errorf("Objects over garbage: %v", err)
	}
	if r := m.Records(); len(r) != 2 || r[1].Step != 2 {
		t.Errorf("Records = %+v", r)
	}
	if last, ok := m.Last(); !ok || last.Step != 2 {
		t.Errorf("Last over garbage = %+v, %t", last, ok)
	}
	os.WriteFile(MetricsPath(run), []byte("garbage\n"), 0o644)
	m, _ = ReadMetrics(run, MetricsOptions{})
	if _, ok := m.Last(); ok {
		t.Error("Last of a file without records")
	}
}

func TestReadMetricsFiles(t *testing.T) {
	run := t.TempDir()
	if _, err := ReadMetrics(run, MetricsOptions{}); err == nil || !strings.Contains(err.Error(), "metrics file "+MetricsPath(run)+": no such file or directory") {
		t.Errorf("missing: %v", err)
	}
	if m, err := ReadMetrics(run, MetricsOptions{MissingOK: true}); err != nil || !m.Missing || len(m.Lines) != 0 || m.Path != MetricsPath(run) {
		t.Errorf("missing with MissingOK: %+v, %v", m, err)
	}
	os.Mkdir(MetricsPath(run), 0o755)
	if _, err := ReadMetrics(run, MetricsOptions{MissingOK: true}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a folder: %v", err)
	}
	fifo := t.TempDir()
	testfs.FIFO(t, fifo, filepath.Base(MetricsPath(fifo)))
	if _, err := ReadMetrics(fifo, MetricsOptions{}); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("a FIFO: %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

package rundir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/gridgpu/gridgpu/data"
)

// A metrics record is a line of metrics.jsonl that holds a JSON object with
// a "step", a non-negative integer; the trainer writes one a logged step,
// each with its end of line in the same write. Any other non-blank line is
// not a record: garbage, or a line damaged in the middle of the file.
//
// A last line without an end of line that is not a record is a write cut
// short by a crash, or one still under way while a training appends: the
// reader leaves it out and says so (Metrics.Cut), instead of counting it as
// damaged. A last line without an end of line that is a record counts as
// one.

// MetricsOptions select what ReadMetrics reads.
type MetricsOptions struct {
	// Tail, when above 0, reads only the last Tail bytes of the file
	// (for its newest records); the first line of that part is left out
	// unless it starts there.
	Tail int64
	// MissingOK reads a missing metrics.jsonl as one without lines
	// (Metrics.Missing) instead of failing.
	MissingOK bool
}

// Metrics is metrics.jsonl as read at one moment.
type Metrics struct {
	Path string
	// Missing is set when there is no file (with MetricsOptions.MissingOK).
	Missing bool
	// Raw is what was read: the whole file, or its tail (from the byte
	// before it).
	Raw []byte
	// Lines are the non-blank lines, records or not, in file order; a cut
	// last line is not among them.
	Lines []MetricsLine
	// Cut is the length of the last line when it has no end of line and
	// is not a record (0 when there is none).
	Cut int
}

// MetricsLine is one non-blank line of metrics.jsonl.
type MetricsLine struct {
	// N is the line's number, from 1, blank lines counted (with
	// MetricsOptions.Tail: in the part read).
	N int
	// Text is the line without its end of line; it shares memory with
	// Metrics.Raw.
	Text []byte
	// Step is the record's "step" where Err is nil.
	Step int64
	// Err says why the line is not a record (a *LineError); nil for a
	// record.
	Err error
}

// LineError says that a line of metrics.jsonl is not a metrics record.
type LineError struct {
	Path string
	N    int    // the line's number
	Text []byte // the line
	Why  string // in words: not JSON at byte 3, no "step", ...
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s line %d is not a metrics record (%s: %s)", e.Path, e.N, e.Why, quoteLine(e.Text))
}

// ReadMetrics reads run's metrics.jsonl, which must be a regular file
// (data.OpenRegular: a FIFO in its place is refused, not waited on). It
// reads what the file holds when it is opened: lines appended while it
// reads are left for the next read.
func ReadMetrics(run string, opt MetricsOptions) (*Metrics, error) {
	m := &Metrics{Path: MetricsPath(run)}
	if opt.MissingOK {
		if _, err := os.Lstat(m.Path); errors.Is(err, fs.ErrNotExist) {
			m.Missing = true
			return m, nil
		}
	}
	f, size, err := data.OpenRegular(m.Path, "metrics file", 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	off := int64(0)
	if opt.Tail > 0 && size > opt.Tail {
		// From the byte before the tail: where that is an end of line,
		// the tail's first line is whole.
		off = size - opt.Tail - 1
	}
	b := make([]byte, size-off)
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("metrics file %s: %w", m.Path, err)
	}
	m.Raw = b[:n]
	rest := m.Raw
	if off > 0 {
		_, rest, _ = bytes.Cut(rest, []byte{'\n'})
	}
	for n := 1; len(rest) > 0; n++ {
		line, after, complete := bytes.Cut(rest, []byte{'\n'})
		rest = after
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		l := MetricsLine{N: n, Text: line}
		if step, why := parseRecord(line); why != "" {
			if !complete {
				m.Cut = len(line)
				break
			}
			l.Err = &LineError{Path: m.Path, N: n, Text: line, Why: why}
		} else {
			l.Step = step
		}
		m.Lines = append(m.Lines, l)
	}
	return m, nil
}

// parseRecord is the step of a metrics record, or why line is not one.
func parseRecord(line []byte) (step int64, why string) {
	var rec struct {
		Step json.RawMessage `json:"step"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return 0, jsonWhy(err)
	}
	if len(rec.Step) == 0 || string(rec.Step) == "null" {
		return 0, `no "step"`
	}
	if err := json.Unmarshal(rec.Step, &step); err != nil {
		return 0, `"step" is not an integer`
	}
	if step < 0 {
		return 0, `"step" is negative`
	}
	return step, ""
}

// Records are the lines that are records.
func (m *Metrics) Records() []MetricsLine {
	var out []MetricsLine
	for _, l := range m.Lines {
		if l.Err == nil {
			out = append(out, l)
		}
	}
	return out
}

// Last is the newest record (the last in the file); false when there is
// none.
func (m *Metrics) Last() (MetricsLine, bool) {
	for i := len(m.Lines) - 1; i >= 0; i-- {
		if m.Lines[i].Err == nil {
			return m.Lines[i], true
		}
	}
	return MetricsLine{}, false
}

// Object decodes a record as a JSON object: numbers are float64, null
// values nil.
func (l MetricsLine) Object() (map[string]any, error) {
	if l.Err != nil {
		return nil, l.Err
	}
	var o map[string]any
	if err := json.Unmarshal(l.Text, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// Objects decodes every line as a JSON object (Object), in file order; the
// first line that is not a record is the error.
func (m *Metrics) Objects() ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(m.Lines))
	for _, l := range m.Lines {
		o, err := l.Object()
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// NotRecord is the error that refuses line l for err, a JSON decoding
// error of a caller's own (a key of the wrong type, say), in the words of
// a LineError.
func (m *Metrics) NotRecord(l MetricsLine, err error) error {
	return &LineError{Path: m.Path, N: l.N, Text: l.Text, Why: jsonWhy(err)}
}

// jsonWhy is a JSON decoding error in words, without Go's type names:
// "not JSON at byte 3", "not a JSON object", "KEY" is not an integer.
func jsonWhy(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%q is not an integer", te.Field)
		}
		return "not a JSON object"
	}
	return err.Error()
}

// quoteLine quotes the start of a line for a message.
func quoteLine(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:37])) + "..."
	}
	return strconv.Quote(string(b))
}

package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A resume never drops metrics.jsonl lines it cannot read without saying
// so (issue 19 F22). A last line without an end of line that is not a
// record is a write cut short by a crash: it is dropped, and the log says
// so with its length. Any other line that is not a record (garbage, a line
// damaged in the middle, a last line that is complete but broken) refuses
// the resume in one line naming the file and the line, and nothing in the
// run directory changes.
func TestResumeMetricsLines(t *testing.T) {
	useFake(t, nil)
	const cut = `{"step": 9, "loss": 0.1` // 23 bytes
	cases := []struct {
		name   string
		damage func(lines []string) string // the new file from its lines
		want   string                      // in the error; "" when the resume goes on
		note   string                      // in the log when it goes on
	}{
		{"cut-short last line", func(l []string) string { return strings.Join(l, "\n") + "\n" + cut }, "", "dropped its last line, 23 bytes without an end of line"},
		{"complete last line without its end of line", func(l []string) string { return strings.Join(l, "\n") }, "", ""},
		{"blank lines", func(l []string) string {
			return strings.Join(l[:2], "\n") + "\n\n  \n" + strings.Join(l[2:], "\n") + "\n"
		}, "", ""},
		{"garbage in the middle", func(l []string) string {
			return strings.Join(l[:2], "\n") + "\ngarbage\n" + strings.Join(l[2:], "\n") + "\n"
		}, "metrics.jsonl line 3 is not a metrics record (not JSON at byte 1: \"garbage\")", ""},
		{"line damaged in the middle", func(l []string) string {
			l[1] = l[1][:len(l[1])/2]
			return strings.Join(l, "\n") + "\n"
		}, "metrics.jsonl line 2 is not a metrics record", ""},
		{"broken last line with its end of line", func(l []string) string { return strings.Join(l, "\n") + "\n" + cut + "\n" }, "metrics.jsonl line 9 is not a metrics record", ""},
		{"a record without a step", func(l []string) string { return strings.Join(l, "\n") + "\n{\"loss\": 1}\n" }, "metrics.jsonl line 9 is not a metrics record (no \"step\"", ""},
		{"a fractional step", func(l []string) string { return "{\"step\": 1.5}\n" + strings.Join(l, "\n") + "\n" }, "metrics.jsonl line 1 is not a metrics record (\"step\" is not an integer", ""},
		{"a JSON array", func(l []string) string { return strings.Join(l[:4], "\n") + "\n[1, 2]\n" }, "metrics.jsonl line 5 is not a metrics record", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			cfg := testConfig(t, 8)
			if _, err := Run(context.Background(), cfg, Options{Out: out}); err != nil {
				t.Fatal(err)
			}
			mp := filepath.Join(out, "metrics.jsonl")
			raw, err := os.ReadFile(mp)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			if len(lines) != 8 {
				t.Fatalf("%d metrics lines, want 8", len(lines))
			}
			if err := os.WriteFile(mp, []byte(c.damage(lines)), 0o644); err != nil {
				t.Fatal(err)
			}
			p, ck := loadAt(t, out, 4)
			rc := ck.Config
			rc.Run.Steps = 10
			before := dirSnapshot(t, out)
			var log bytes.Buffer
			_, err = Run(context.Background(), rc, Options{Out: out, Resume: ck, ResumePath: p, Log: &log})
			if c.want != "" {
				if err == nil {
					t.Fatal("resumed over a damaged metrics.jsonl")
				}
				msg := err.Error()
				if !strings.Contains(msg, mp) || !strings.Contains(msg, c.want) || !strings.Contains(msg, "nothing was changed") || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line naming %s and %q", msg, mp, c.want)
				}
				if after := dirSnapshot(t, out); after != before {
					t.Errorf("the refused resume changed the run directory:\nbefore %s\nafter  %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if c.note != "" && !strings.Contains(log.String(), mp+": "+c.note) {
				t.Errorf("log lacks %q:\n%s", c.note, log.String())
			}
			if c.note == "" && strings.Contains(log.String(), "dropped") {
				t.Errorf("log notes a dropped line:\n%s", log.String())
			}
			// Every line a record, steps 1 to 10 in order.
			ms := readMetrics(t, out)
			if len(ms) != 10 {
				t.Fatalf("%d metrics lines after the resume, want 10", len(ms))
			}
			for i, m := range ms {
				if got := m["step"].(float64); got != float64(i+1) {
					t.Fatalf("line %d has step %v, want %d", i+1, got, i+1)
				}
			}
		})
	}
}

package train

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/graph"
)

func TestProgressLines(t *testing.T) {
	l := graph.Losses{Total: 1.5, Term: [graph.NumTerms]float64{0.5, 0.25, -0.5, 1}}
	t0 := time.Now()
	for _, tty := range []bool{false, true} {
		var buf bytes.Buffer
		p := newProgress(&buf, tty, time.Hour, 0, 100)
		p.line.Width = func() int { return 200 } // wide enough for every field
		for s := int64(1); s <= 100; s++ {
			p.update(s, l, 1e-3, t0.Add(time.Duration(s)*time.Second))
		}
		p.finish()
		out := buf.String()
		if strings.Contains(out, "\r") != tty {
			t.Errorf("tty=%v: carriage returns present=%v:\n%q", tty, !tty, out)
		}
		for _, want := range []string{"step 100/100", "loss 1.5", "ci 1", "steps/s", "ETA 0s"} {
			if !strings.Contains(out, want) {
				t.Errorf("tty=%v: output lacks %q:\n%s", tty, want, out)
			}
		}
		if !tty && strings.Count(out, "\n") != 2 {
			// first step, last step; the hour-long interval suppresses the rest
			t.Errorf("plain output has %d lines, want 2:\n%s", strings.Count(out, "\n"), out)
		}
		if tty && !strings.HasSuffix(out, "\n") {
			t.Error("live line not ended with a newline")
		}
	}
	if got := fmtDuration(3*time.Hour + 25*time.Minute); got != "3h25m" {
		t.Errorf("fmtDuration = %s", got)
	}
}

// TestFitLine fits a progress line with every field to terminals of several
// widths: it never exceeds the width, the step, loss, ETA and grid fields
// stay longest, and fields go in rank order (loss terms, lr, steps/s first).
func TestFitLine(t *testing.T) {
	// The terms of graph.TermSpecs take these values (and %.4g texts) in
	// turn, so that neighbours differ and a misordered term shows.
	values := []struct {
		v    float64
		text string
	}{{-0.012345, "-0.01235"}, {0.0012345, "0.001234"}, {-1.2345, "-1.234"}, {0.00012345, "0.0001234"}}
	l := graph.Losses{Total: 0.123456}
	terms := make([]string, graph.NumTerms) // each term's text in the line
	for t, s := range graph.TermSpecs {
		v := values[t%len(values)]
		l.Term[t] = v.v
		terms[t] = s.Key + " " + v.text
	}
	fields := progressFields(1234, 1500, l, 1.234e-4, "grid 123/512", 123.4, "1h02m")
	full := fitLine(fields, math.MaxInt)
	want := "step 1234/1500 (82.3%)  loss 0.12346  " + strings.Join(terms, " ") + "  lr 0.000123  grid 123/512  123 steps/s  ETA 1h02m"
	if full != want {
		t.Fatalf("full line\n%q, want\n%q", full, want)
	}
	// The terms leave first, the last one first: at 120 columns the first
	// two are left.
	for _, c := range []struct {
		width      int
		has, lacks []string
	}{
		{40, []string{"step 1234/1500", "loss 0.12346", "ETA 1h02m"}, append([]string{"%", "lr", "steps/s", "grid"}, terms...)},
		{60, []string{"step 1234/1500", "loss 0.12346", "grid 123/512", "ETA 1h02m"}, append([]string{"%", "lr", "steps/s"}, terms...)},
		{80, []string{"step 1234/1500 (82.3%)", "loss 0.12346", "grid 123/512", "ETA 1h02m", "steps/s"}, append([]string{"lr"}, terms...)},
		{120, []string{"step 1234/1500 (82.3%)", "loss 0.12346  " + terms[0] + " " + terms[1] + "  lr", "grid", "steps/s", "ETA"}, terms[2:]},
		{len(want), []string{full}, nil},
	} {
		got := fitLine(fields, c.width)
		t.Logf("%3d: %s", c.width, got)
		if len(got) > c.width {
			t.Errorf("width %d: line of %d columns: %q", c.width, len(got), got)
		}
		for _, s := range c.has {
			if !strings.Contains(got, s) {
				t.Errorf("width %d: %q lacks %q", c.width, got, s)
			}
		}
		for _, s := range c.lacks {
			if strings.Contains(got, s) {
				t.Errorf("width %d: %q still has %q", c.width, got, s)
			}
		}
	}
	// Every width from 0 up: never wider, and fields leave in rank order
	// (a field present at width w is present at every larger width).
	prev := map[string]bool{}
	for w := 0; w <= len(full)+1; w++ {
		got := fitLine(fields, w)
		if len(got) > w {
			t.Fatalf("width %d: %q", w, got)
		}
		for _, f := range fields {
			if prev[f.text] && !strings.Contains(got, f.text) {
				t.Errorf("width %d: %q lacks %q, which fitted at width %d", w, got, f.text, w-1)
			}
			prev[f.text] = strings.Contains(got, f.text)
		}
	}
	// Before the first evaluation there is no grid field and no stray
	// separator.
	noGrid := fitLine(progressFields(5, 10, l, 1e-3, "", 2, "3s"), 200)
	if strings.Contains(noGrid, "    ") || strings.Contains(noGrid, "grid") {
		t.Errorf("line without evaluation: %q", noGrid)
	}
}

// TestProgressFitsTerminal redraws the live line on a 60-column terminal:
// no drawn line (between carriage returns) reaches the last column, and
// padding never pushes one past it.
func TestProgressFitsTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true, time.Hour, 0, 100000)
	width := 200
	p.line.Width = func() int { return width }
	p.setEval(12, 512)
	t0 := time.Now()
	l := graph.Losses{Total: 1.5, Term: [graph.NumTerms]float64{0.5, 0.25, -0.5, 1}}
	for s := int64(1); s <= 50; s++ {
		if s == 20 {
			width = 60 // the terminal is narrowed
		}
		p.update(s, l, 1e-3, t0.Add(time.Duration(s)*time.Second))
	}
	p.finish()
	parts := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\r")
	for i, part := range parts[len(parts)-10:] {
		if len(part) > 59 {
			t.Errorf("redraw %d: %d columns on a 60-column terminal: %q", i, len(part), part)
		}
		if !strings.Contains(part, "ETA") || !strings.Contains(part, "grid 12/512") {
			t.Errorf("redraw %d lacks the ETA or grid: %q", i, part)
		}
	}
}

package statusline

import (
	"bytes"
	"strings"
	"testing"
)

// TestLineTerminal: on a terminal a status replaces the one on screen,
// padded over a longer one and cut to the width; a permanent line erases it
// first; Finish keeps the last status and ends it with a newline.
func TestLineTerminal(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, true)
	l.Width = func() int { return 11 }
	l.Update("a long status")
	l.Update("short")
	l.Printf("done %d", 1)
	l.Update("again")
	l.Finish()
	l.Finish()
	const want = "\ra long sta\rshort     \r     \rdone 1\n\ragain\n"
	if got := buf.String(); got != want {
		t.Errorf("output\n%q, want\n%q", got, want)
	}
}

// TestLinePlain: elsewhere every status is a line of its own, with no
// control characters, and Finish and Clear write nothing.
func TestLinePlain(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, false)
	l.Update("step 1")
	l.Printf("note")
	l.Update("step 2")
	l.Clear()
	l.Finish()
	if got, want := buf.String(), "step 1\nnote\nstep 2\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if strings.Contains(buf.String(), "\r") || IsTerminal(&buf) || TermWidth(&buf) != 80 {
		t.Error("a buffer is taken for a terminal")
	}
}

package train

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/graph"
)

func TestProgressLines(t *testing.T) {
	l := graph.Losses{Total: 1.5, Sep: 0.5, Inv: 0.25, Cap: -0.5, CI: 1}
	t0 := time.Now()
	for _, tty := range []bool{false, true} {
		var buf bytes.Buffer
		p := newProgress(&buf, tty, time.Hour, 0, 100)
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

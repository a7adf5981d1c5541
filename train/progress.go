package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/graph"
)

// progress shows training progress: on a terminal one line redrawn in place
// with \r (at most 5 times a second, so drawing never costs step time);
// elsewhere (logs, CI) a plain line every interval, so log files hold no
// control characters.
type progress struct {
	w           io.Writer
	tty         bool
	interval    time.Duration
	start, goal int64
	t0, last    time.Time
	// rate is an exponential moving average of steps per second, so that
	// the ETA follows the current speed rather than the whole run's.
	rate      float64
	rateT     time.Time
	rateStep  int64
	drawn     bool
	lastWidth int
	// grid is the last evaluation's "grid a/N" ("" before the first).
	grid string
}

// setEval records the last grid evaluation for the progress line.
func (p *progress) setEval(gridUnits, N int) { p.grid = fmt.Sprintf("  grid %d/%d", gridUnits, N) }

func newProgress(w io.Writer, tty bool, interval time.Duration, start, goal int64) *progress {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	now := time.Now()
	return &progress{w: w, tty: tty, interval: interval, start: start, goal: goal, t0: now, last: now, rateT: now, rateStep: start}
}

// IsTerminal reports whether f is a character device (a terminal), the
// condition for live \r progress.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(step int64, l graph.Losses, lr float64, now time.Time) {
	if dt := now.Sub(p.rateT).Seconds(); dt >= 0.5 || step == p.goal {
		inst := float64(step-p.rateStep) / dt
		if p.rate == 0 {
			p.rate = inst
		} else {
			p.rate = 0.7*p.rate + 0.3*inst
		}
		p.rateT, p.rateStep = now, step
	}
	rate := p.rate
	if rate == 0 {
		rate = float64(step-p.start) / now.Sub(p.t0).Seconds()
	}
	due := now.Sub(p.last) >= p.interval
	if p.tty {
		due = now.Sub(p.last) >= 200*time.Millisecond
	}
	if !due && step != p.goal && step != p.start+1 {
		return
	}
	p.last = now
	eta := "?"
	if rate > 0 {
		eta = fmtDuration(time.Duration(float64(p.goal-step) / rate * float64(time.Second)))
	}
	line := fmt.Sprintf("step %d/%d (%.1f%%)  loss %.5g  sep %.4g inv %.4g cap %.4g ci %.4g  lr %.3g%s  %.3g steps/s  ETA %s",
		step, p.goal, 100*float64(step)/float64(p.goal), l.Total, l.Sep, l.Inv, l.Cap, l.CI, lr, p.grid, rate, eta)
	if p.tty {
		pad := ""
		if n := p.lastWidth - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprint(p.w, "\r"+line+pad)
		p.lastWidth = len(line)
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish ends the live line so following output starts on a fresh line.
func (p *progress) finish() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Seconds() + 0.5)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

package train

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/statusline"
)

// progress shows training progress on a status line (package statusline):
// on a terminal one line redrawn in place with \r (at most 5 times a
// second, so drawing never costs step time), fitted to the terminal's width
// so that it never wraps; elsewhere (logs, CI) the full line every
// interval, so log files hold no control characters.
type progress struct {
	line        *statusline.Line
	interval    time.Duration
	start, goal int64
	t0, last    time.Time
	// rate is an exponential moving average of steps per second, so that
	// the ETA follows the current speed rather than the whole run's.
	rate     float64
	rateT    time.Time
	rateStep int64
	// grid is the last evaluation's "grid a/N" ("" before the first).
	grid string
}

// setEval records the last grid evaluation for the progress line.
func (p *progress) setEval(gridUnits, N int) { p.grid = fmt.Sprintf("grid %d/%d", gridUnits, N) }

func newProgress(w io.Writer, tty bool, interval time.Duration, start, goal int64) *progress {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	now := time.Now()
	return &progress{line: statusline.New(w, tty), interval: interval, start: start, goal: goal, t0: now, last: now, rateT: now, rateStep: start}
}

// field is one part of the progress line: its text, the separator written
// before it (unless it comes first) and its rank: when the line is too
// wide, the field of lowest rank goes first.
type field struct {
	sep, text string
	rank      int
}

// fitLine joins the fields, dropping the lowest-ranked (the rightmost among
// equals) until the line is at most width bytes; if the last field left is
// still too wide, it is cut.
func fitLine(fields []field, width int) string {
	fs := make([]field, 0, len(fields))
	for _, f := range fields {
		if f.text != "" {
			fs = append(fs, f)
		}
	}
	join := func() string {
		var b strings.Builder
		for i, f := range fs {
			if i > 0 {
				b.WriteString(f.sep)
			}
			b.WriteString(f.text)
		}
		return b.String()
	}
	line := join()
	for len(line) > width && len(fs) > 1 {
		drop := len(fs) - 1
		for i := len(fs) - 1; i >= 0; i-- {
			if fs[i].rank < fs[drop].rank {
				drop = i
			}
		}
		fs = append(fs[:drop], fs[drop+1:]...)
		line = join()
	}
	if len(line) > width {
		line = line[:max(width, 0)]
	}
	return line
}

// progressFields are the progress line's fields, ranked: the individual
// loss terms go first (right to left, so a kept "sep" stays next to the
// loss), then lr, steps/s and the percentage; the step, loss, ETA and grid
// evaluation stay longest.
func progressFields(step, goal int64, l graph.Losses, lr float64, grid string, rate float64, eta string) []field {
	fs := []field{
		{"", fmt.Sprintf("step %d/%d", step, goal), 100},
		{" ", fmt.Sprintf("(%.1f%%)", 100*float64(step)/float64(goal)), int(graph.NumTerms) + 3},
		{"  ", fmt.Sprintf("loss %.5g", l.Total), 90},
	}
	// The terms rank below lr (5), the last term lowest.
	for t, s := range graph.TermSpecs {
		sep := " "
		if t == 0 {
			sep = "  "
		}
		fs = append(fs, field{sep, fmt.Sprintf("%s %.4g", s.Key, l.Term[t]), int(graph.NumTerms) - t})
	}
	return append(fs,
		field{"  ", fmt.Sprintf("lr %.3g", lr), int(graph.NumTerms) + 1},
		field{"  ", grid, 80},
		field{"  ", fmt.Sprintf("%.3g steps/s", rate), int(graph.NumTerms) + 2},
		field{"  ", "ETA " + eta, 95})
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
	if p.line.TTY() {
		due = now.Sub(p.last) >= 200*time.Millisecond
	}
	if !due && step != p.goal && step != p.start+1 {
		return
	}
	p.last = now
	eta := fmtETA(float64(p.goal-step), rate)
	fields := progressFields(step, p.goal, l, lr, p.grid, rate, eta)
	width := math.MaxInt
	if p.line.TTY() {
		width = p.line.Columns()
	}
	p.line.Update(fitLine(fields, width))
}

// finish ends the live line so following output starts on a fresh line.
func (p *progress) finish() { p.line.Finish() }

// etaCap is the longest ETA shown as a duration; longer ones (absurd step
// counts) are shown as ">100y" rather than overflowing time.Duration.
const etaCap = 100 * 365.25 * 86400 // seconds

// fmtETA renders the time left for remaining steps at rate steps/s: "?"
// when the rate is not yet known, ">100y" beyond etaCap.
func fmtETA(remaining, rate float64) string {
	if remaining <= 0 {
		return "0s"
	}
	if !(rate > 0) || math.IsNaN(remaining) {
		return "?"
	}
	secs := remaining / rate
	if !(secs <= etaCap) {
		return ">100y"
	}
	return fmtDuration(time.Duration(secs * float64(time.Second)))
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

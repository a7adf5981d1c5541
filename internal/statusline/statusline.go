// Package statusline prints the progress of a long command (train,
// analyze, states): on a terminal one status line redrawn in place with \r,
// cut to the terminal's width so that it never wraps; elsewhere (logs, CI)
// each status as a plain line, so that log files hold no control
// characters. Permanent lines printed in between clear the status line
// first, so the two never mix.
//
// How often a status is worth showing is the caller's choice; a Line only
// draws.
package statusline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Line is the status line of one writer. Its methods may be called from
// several goroutines.
type Line struct {
	// Width returns the terminal's width in columns (TermWidth of the
	// writer unless set; tests set it).
	Width func() int

	mu    sync.Mutex
	w     io.Writer
	tty   bool
	drawn int // columns of the status on screen; 0: none
}

// New returns the status line of w, drawn in place when tty is true (see
// IsTerminal).
func New(w io.Writer, tty bool) *Line {
	return &Line{w: w, tty: tty, Width: func() int { return TermWidth(w) }}
}

// TTY reports whether the line is drawn in place.
func (l *Line) TTY() bool { return l.tty }

// Columns is how wide a status may be on the terminal: one column short of
// its width, because a line filling the last column leaves some terminals
// waiting to wrap, and the next \r would then start a new line.
func (l *Line) Columns() int { return max(l.Width()-1, 1) }

// Update shows status: on a terminal it replaces the status on screen (cut
// to Columns), elsewhere it is written as a line of its own.
func (l *Line) Update(status string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.tty {
		fmt.Fprintln(l.w, status)
		return
	}
	width := l.Columns()
	if len(status) > width {
		status = status[:width]
	}
	pad := ""
	if n := min(l.drawn, width) - len(status); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(l.w, "\r"+status+pad)
	l.drawn = max(len(status), 1)
}

// Printf writes a permanent line (a newline is added), erasing the status
// on screen first.
func (l *Line) Printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
	fmt.Fprintf(l.w, format+"\n", a...)
}

// Finish ends the status on screen with a newline, so that it stays and
// what follows starts on a fresh line.
func (l *Line) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn > 0 {
		fmt.Fprintln(l.w)
		l.drawn = 0
	}
}

// Clear erases the status on screen.
func (l *Line) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
}

func (l *Line) erase() {
	if l.drawn > 0 {
		fmt.Fprint(l.w, "\r"+strings.Repeat(" ", min(l.drawn, l.Columns()))+"\r")
		l.drawn = 0
	}
}

// IsTerminal reports whether w is a terminal (a character device), the
// condition for a status line drawn in place.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// TermWidth is the width of the terminal w writes to, or 80 when w is not a
// terminal or its size is unknown.
func TermWidth(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}

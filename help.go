package main

// Help pages that fit a terminal of helpWidth columns. urfave/cli/v2 does
// not wrap: its flag lines are as long as their usage strings, and
// descriptions keep the lines they were written with. gridgpu's help
// printer renders the page as urfave/cli does and then wraps every line
// that is too long, continuing it under the column it belongs to: a flag's
// usage under the usage column, a command line under its first argument,
// prose under its first word. Descriptions are written as paragraphs (lines
// of a paragraph are joined before wrapping); indented lines (examples,
// tables) are kept as they are.

import (
	"bytes"
	"embed"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// helpWidth is the widest line of a help page.
const helpWidth = 80

// helpTexts holds the DESCRIPTION of each help page: help/NAME.txt for
// command NAME, help/gridgpu.txt for the program's own page.
//
//go:embed help/*.txt
var helpTexts embed.FS

// description is the text of help/NAME.txt without its final newline, as
// written (tidyHelp reflows it), or "" when there is no such file.
func description(name string) string {
	b, err := helpTexts.ReadFile("help/" + name + ".txt")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// newCommand is the command name with the texts of its help page (usage,
// its line in gridgpu --help; usageText, its USAGE lines, "" for the ones
// urfave/cli makes; its description, help/NAME.txt, none without one), its
// action and its flags. A command whose ArgsUsage is "" takes no
// arguments: a stray word on its command line is a usage error before the
// action runs (options are flags, and a word is usually a flag's value
// that lost its flag).
func newCommand(name, usage, usageText string, action cli.ActionFunc, flags ...cli.Flag) *cli.Command {
	return &cli.Command{Name: name, Usage: usage, UsageText: usageText, Description: description(name), Flags: flags,
		Action: func(c *cli.Context) error {
			if c.Command.ArgsUsage == "" && c.Args().Present() {
				return usagef("%s takes no arguments (got %q); options are flags, see 'gridgpu %s --help'", name, c.Args().First(), name)
			}
			return action(c)
		}}
}

func init() {
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		var buf bytes.Buffer
		cli.HelpPrinterCustom(&buf, templ, data, nil)
		io.WriteString(w, wrapHelp(buf.String(), helpWidth))
	}
}

// tidyHelp prepares a command's texts (and its subcommands') for wrapping:
// its description reflowed into paragraphs, and the lines of its usage text
// without indentation of their own (urfave/cli indents them).
func tidyHelp(cmd *cli.Command) {
	cmd.Description = reflow(cmd.Description)
	cmd.UsageText = unindent(cmd.UsageText)
	for _, sub := range cmd.Subcommands {
		tidyHelp(sub)
	}
}

// reflow joins the lines of each paragraph of s into one line; blank lines
// separate paragraphs, and indented lines (and the lines next to them) stay
// as they are.
func reflow(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for i, l := range lines {
		prose := l != "" && l[0] != ' '
		if prose && i > 0 && len(out) > 0 {
			prev := lines[i-1]
			if prev != "" && prev[0] != ' ' {
				out[len(out)-1] += " " + strings.TrimSpace(l)
				continue
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func unindent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// wrapHelp wraps each line of a rendered help page that is wider than
// width at spaces, indenting the continuation lines as hangingIndent says.
func wrapHelp(page string, width int) string {
	lines := strings.Split(page, "\n")
	var out []string
	section := ""
	for _, l := range lines {
		if l != "" && l[0] != ' ' {
			section = strings.TrimSuffix(l, ":")
		}
		if utf8.RuneCountInString(l) <= width {
			out = append(out, l)
			continue
		}
		out = append(out, wrapLine(l, hangingIndent(l, section, width), width, section == "USAGE")...)
	}
	return strings.Join(out, "\n")
}

// hangingIndent is the column where the continuation lines of a long line
// start: after "NAME - " in NAME; under the first argument of a command
// line in USAGE ("gridgpu train [--preset P] ..."); under the last column
// of a line laid out in columns (a flag or command and its usage, a
// table's last column), found as the last run of two or more spaces that
// ends in the line's first 3/5; else under the line's first word.
func hangingIndent(l, section string, width int) int {
	r := []rune(l)
	lead := 0
	for lead < len(r) && r[lead] == ' ' {
		lead++
	}
	hang := lead
	switch {
	case section == "NAME":
		if i := strings.Index(l, " - "); i > 0 {
			hang = utf8.RuneCountInString(l[:i]) + 3
		}
	case section == "USAGE":
		f := strings.Fields(l)
		if len(f) > 2 && f[0] == "gridgpu" && !strings.HasPrefix(f[1], "-") && !strings.HasPrefix(f[1], "[") {
			hang = lead + len(f[0]) + 1 + len(f[1]) + 1
		} else if len(f) > 1 {
			hang = lead + len(f[0]) + 1
		}
	default:
		for i := lead; i+2 < len(r) && i < width/2; i++ {
			if r[i] == ' ' && r[i+1] == ' ' {
				j := i
				for j < len(r) && r[j] == ' ' {
					j++
				}
				if j <= width*3/5 {
					hang = j
				}
				i = j
			}
		}
	}
	if hang > width-24 {
		hang = lead + 4
	}
	return hang
}

// wrapLine breaks l at spaces into lines of at most width runes (a single
// word longer than that stays whole), the continuations indented by hang.
// With groups, a bracketed group ("[--walks standard|training]") is not
// broken.
func wrapLine(l string, hang, width int, groups bool) []string {
	var out []string
	r := []rune(l)
	pad := []rune(strings.Repeat(" ", hang))
	minCut := hang + 1 // never cut inside the indentation
	for len(r) > width {
		ok := make([]bool, len(r)) // the spaces that may end a line
		depth := 0
		for i, c := range r {
			switch c {
			case '[':
				depth++
			case ']':
				depth--
			case ' ':
				ok[i] = !groups || depth <= 0
			}
		}
		cut := -1
		for i := width; i >= minCut; i-- {
			if ok[i] {
				cut = i
				break
			}
		}
		if cut < 0 { // one long word: cut after it
			for i := width; i < len(r); i++ {
				if ok[i] {
					cut = i
					break
				}
			}
			if cut < 0 {
				break
			}
		}
		head := strings.TrimRight(string(r[:cut]), " ")
		out = append(out, head)
		rest := []rune(strings.TrimLeft(string(r[cut:]), " "))
		r = append(append([]rune{}, pad...), rest...)
	}
	return append(out, string(r))
}

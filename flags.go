package main

// The flag helpers shared by the commands: the one-line usage errors, the
// required-flag check, and the flags made from the config fields.

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/internal/editdist"
	"github.com/gridgpu/gridgpu/train"
)

// defaultPreset is the preset of train and landscape without --preset: the
// demo (minutes on a CPU), not the paper's (weeks on a GPU).
const defaultPreset = "demo"

// usageError marks mistakes in how a command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// onUsageError turns flag-parsing failures into one-line errors instead of
// urfave/cli's default of printing the whole help page.
// An unknown flag gets the nearest flag of the command when one is close.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag --" + name
		if s := suggestFlag(c, name); s != "" {
			msg += " (did you mean --" + s + "?)"
		}
	}
	msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	// At the top level urfave/cli's context carries a root command named
	// after the app itself: "gridgpu", not "gridgpu gridgpu".
	name := "gridgpu"
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != name {
		name += " " + c.Command.Name
	}
	return usagef("%s; run '%s --help' for the options", msg, name)
}

// suggestFlag returns the flag of c's command (or of the app, at the top
// level) nearest to name, or "" when none is close.
func suggestFlag(c *cli.Context, name string) string {
	name = strings.TrimLeft(name, "-")
	if len(name) < 3 || c == nil {
		return ""
	}
	var flags []cli.Flag
	if c.Command != nil && c.Command.Name != "" && (c.App == nil || c.Command.Name != c.App.Name) {
		flags = c.Command.Flags
	} else if c.App != nil {
		flags = c.App.Flags
	}
	var names []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) > 1 {
				names = append(names, n)
			}
		}
	}
	names = append(names, "help")
	s, _ := editdist.Closest(name, names)
	return s
}

func setUsageErrors(cmd *cli.Command) {
	if cmd.OnUsageError == nil {
		cmd.OnUsageError = onUsageError
	}
	for _, sub := range cmd.Subcommands {
		setUsageErrors(sub)
	}
}

// configFlags makes one flag per config field whose path starts with one of
// the prefixes (all fields when none is given). The flags have no defaults
// of their own: a flag only counts when it is set, so that presets and
// config files keep their values. Their help shows the default that
// defaults gives for each field. Integer flags take 2000000, 2_000_000 and
// 2e6 alike (intValue).
func configFlags(defaults flagDefaults, prefixes ...string) []cli.Flag {
	var out []cli.Flag
	for _, f := range train.Fields() {
		if len(prefixes) > 0 && !hasPrefix(f.Path, prefixes) {
			continue
		}
		section, _, _ := strings.Cut(f.Path, ".")
		usage := f.Usage + " [" + f.Path + "]"
		def := defaults(f)
		switch f.Kind {
		case reflect.Int, reflect.Int64, reflect.Uint64:
			v := &intValue{unsigned: f.Kind == reflect.Uint64, bits: 64}
			if f.Kind == reflect.Int {
				v.bits = strconv.IntSize
			}
			out = append(out, &cli.GenericFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: def, Value: v})
		case reflect.Float64:
			out = append(out, &cli.Float64Flag{Name: f.Flag, Usage: usage, Category: section, DefaultText: def})
		case reflect.String:
			out = append(out, &cli.StringFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: def})
		case reflect.Bool:
			out = append(out, &cli.BoolFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: def})
		default:
			panic("config field " + f.Path + " has a kind without a flag type")
		}
	}
	return out
}

// flagDefaults gives the default a config flag's help shows.
type flagDefaults func(train.Field) string

// presetDefaults shows a field's value in the preset used without --preset
// (def), then the presets of names whose value differs, grouped by value:
// "0.0003; paper, tiny, small, medium: 2e-5; smoke: 0.003" (the presets not
// listed have the first value), or just "0.9" when every preset agrees.
func presetDefaults(def string, names []string) flagDefaults {
	cfgs := map[string]train.Config{}
	for _, n := range append([]string{def}, names...) {
		c, err := train.Preset(n)
		if err != nil {
			panic(err) // the preset names are the program's own
		}
		cfgs[n] = c
	}
	return func(f train.Field) string {
		d := cfgs[def]
		dv := formatValue(f.Get(&d))
		var vals []string // the other values, in the order of names
		by := map[string][]string{}
		for _, n := range names {
			c := cfgs[n]
			v := formatValue(f.Get(&c))
			if v == dv {
				continue
			}
			if by[v] == nil {
				vals = append(vals, v)
			}
			by[v] = append(by[v], n)
		}
		parts := []string{dv}
		for _, v := range vals {
			parts = append(parts, strings.Join(by[v], ", ")+": "+v)
		}
		return strings.Join(parts, "; ")
	}
}

// checkpointDefaults shows that the value recorded in the checkpoint
// counts, and the preset's value for a checkpoint that records none.
func checkpointDefaults(preset string) flagDefaults {
	c, err := train.Preset(preset)
	if err != nil {
		panic(err) // the preset names are the program's own
	}
	return func(f train.Field) string {
		return "the checkpoint's, else " + formatValue(f.Get(&c)) + ", the " + preset + " preset's"
	}
}

// formatValue writes a config value as a flag would take it, floats in
// their shortest form with a short exponent (2e-5, not 2e-05).
func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if m, e, ok := strings.Cut(s, "e"); ok {
			sign := e[:1]
			e = strings.TrimLeft(e[1:], "0")
			if sign == "+" {
				sign = ""
			}
			s = m + "e" + sign + e
		}
		return s
	case int:
		return groupDigits(int64(x))
	case int64:
		return groupDigits(x)
	case string:
		if x == "" {
			return `""`
		}
		return x
	}
	return fmt.Sprint(v)
}

// groupDigits writes integers of more than four digits in groups of three
// (2_000_000), as integer flags and config files take them.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := strings.TrimPrefix(s, "-")
	if len(digits) <= 4 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:len(s)-len(digits)])
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('_')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// intValue is the value of an integer config flag. Besides what Go's
// integer syntax allows (2000000, 2_000_000, 0x10) it takes a whole number
// in floating-point notation (2e6, 1.5e3), the way step counts are often
// written; anything else is refused with a message that says how to write
// an integer (urfave/cli's own integer flags only say "parse error").
type intValue struct {
	v        int64 // the value; uint64 flags keep theirs in u
	u        uint64
	unsigned bool
	bits     int // 64, or strconv.IntSize for an int field
}

func (i *intValue) Set(s string) error {
	t := strings.TrimSpace(s)
	if i.unsigned {
		if u, err := strconv.ParseUint(t, 0, 64); err == nil {
			i.u = u
			return nil
		}
	} else if n, err := strconv.ParseInt(t, 0, i.bits); err == nil {
		i.v = n
		return nil
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	want := "an integer"
	if i.unsigned {
		want = "an integer >= 0"
	}
	if err != nil || math.IsInf(x, 0) || x != math.Trunc(x) || i.unsigned && x < 0 { // NaN != NaN
		return fmt.Errorf("not %s (write it as 2000000, 2_000_000 or 2e6)", want)
	}
	lo, hi := -math.Ldexp(1, i.bits-1), math.Ldexp(1, i.bits-1) // [lo, hi) holds the signed integers of that size
	if i.unsigned {
		lo, hi = 0, math.Ldexp(1, 64)
	}
	if !(x >= lo && x < hi) {
		return fmt.Errorf("out of range for %s", want)
	}
	if i.unsigned {
		i.u = uint64(x)
	} else {
		i.v = int64(x)
	}
	return nil
}

// intFlag makes the plain integer flag f (one that is not a config key)
// take 1000, 1_000 and 1e3 alike, as the config flags do (intValue);
// c.Int and c.IsSet read it as before.
func intFlag(f cli.IntFlag) *cli.GenericFlag {
	return &cli.GenericFlag{Name: f.Name, Aliases: f.Aliases, Usage: f.Usage, Category: f.Category, DefaultText: f.DefaultText,
		Value: &intValue{v: int64(f.Value), bits: strconv.IntSize}}
}

// uintFlag is intFlag for an unsigned flag, read with c.Uint64.
func uintFlag(f cli.Uint64Flag) *cli.GenericFlag {
	return &cli.GenericFlag{Name: f.Name, Aliases: f.Aliases, Usage: f.Usage, Category: f.Category, DefaultText: f.DefaultText,
		Value: &intValue{u: f.Value, unsigned: true, bits: 64}}
}

// isIntFlag reports whether f takes an integer: urfave/cli's integer flags
// and those of intFlag, uintFlag and configFlags.
func isIntFlag(f cli.Flag) bool {
	switch f := f.(type) {
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return true
	case *cli.GenericFlag:
		_, ok := f.Value.(*intValue)
		return ok
	}
	return false
}

func (i *intValue) String() string {
	if i == nil {
		return ""
	}
	if i.unsigned {
		return strconv.FormatUint(i.u, 10)
	}
	return strconv.FormatInt(i.v, 10)
}

// The flags that several commands define alike, each with the usage that
// fits the command.

// checkpointFlag is --checkpoint F, the checkpoint a command reads.
func checkpointFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "checkpoint", Usage: usage}
}

// runCheckpointUsage is the usage of a required --checkpoint that may be
// given as a run directory.
const runCheckpointUsage = "(required) safetensors checkpoint `F`, or a run directory (its newest checkpoint)"

// outFlag is --out (-o), where a command writes.
func outFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: usage}
}

// overwriteFlag is --overwrite, which lets a command replace its --out.
func overwriteFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: "overwrite", Usage: usage}
}

// threadsFlag is --threads N, the GOMAXPROCS of what a command runs.
func threadsFlag(usage string) cli.Flag {
	return intFlag(cli.IntFlag{Name: "threads", Usage: usage})
}

// seedFlag is --seed S.
func seedFlag(value uint64, usage string) cli.Flag {
	return uintFlag(cli.Uint64Flag{Name: "seed", Value: value, Usage: usage})
}

// requireFlags reports missing required flags as one usage error (urfave's
// Required option prints the whole help page first).
func requireFlags(c *cli.Context, names ...string) error {
	var missing []string
	for _, n := range names {
		if c.String(n) == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("%s: missing %s; see 'gridgpu %s --help'", c.Command.Name, strings.Join(missing, " and "), c.Command.Name)
	}
	return nil
}

// checkpointArgs checks the command line of a command that reads a
// --checkpoint and needs one other flag (--out, --batch): both flags given,
// and a checkpoint that is not an export (checkNotExport).
func checkpointArgs(c *cli.Context, other string) error {
	if err := requireFlags(c, "checkpoint", other); err != nil {
		return err
	}
	return checkNotExport(c.String("checkpoint"))
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// applyConfigFlags copies every flag the user set into cfg.
func applyConfigFlags(c *cli.Context, cfg *train.Config, prefixes ...string) {
	for _, f := range train.Fields() {
		if len(prefixes) > 0 && !hasPrefix(f.Path, prefixes) {
			continue
		}
		if !c.IsSet(f.Flag) {
			continue
		}
		switch f.Kind {
		case reflect.Int, reflect.Int64, reflect.Uint64:
			v := c.Generic(f.Flag).(*intValue)
			switch f.Kind {
			case reflect.Int:
				f.Set(cfg, int(v.v))
			case reflect.Int64:
				f.Set(cfg, v.v)
			default:
				f.Set(cfg, v.u)
			}
		case reflect.Float64:
			f.Set(cfg, c.Float64(f.Flag))
		case reflect.String:
			f.Set(cfg, c.String(f.Flag))
		case reflect.Bool:
			f.Set(cfg, c.Bool(f.Flag))
		}
	}
}

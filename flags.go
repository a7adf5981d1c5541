package main

// The flag helpers shared by the commands: the one-line usage errors, the
// required-flag check, and the flags made from the config fields.

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridgpu/gridgpu/train"
)

// usageError marks mistakes in how a command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// onUsageError turns flag-parsing failures into one-line errors instead of
// urfave/cli's default of printing the whole help page.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	msg := err.Error()
	msg = strings.Replace(msg, "flag provided but not defined: -", "unknown flag --", 1)
	msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	// At the top level urfave/cli's context carries a root command named
	// after the app itself: "gridgpu", not "gridgpu gridgpu".
	name := "gridgpu"
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != name {
		name += " " + c.Command.Name
	}
	return usagef("%s; run '%s --help' for the options", msg, name)
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
// config files keep their values.
func configFlags(defaultText string, prefixes ...string) []cli.Flag {
	var out []cli.Flag
	for _, f := range train.Fields() {
		if len(prefixes) > 0 && !hasPrefix(f.Path, prefixes) {
			continue
		}
		section, _, _ := strings.Cut(f.Path, ".")
		usage := f.Usage + " [" + f.Path + "]"
		switch f.Kind {
		case reflect.Int:
			out = append(out, &cli.IntFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		case reflect.Int64:
			out = append(out, &cli.Int64Flag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		case reflect.Uint64:
			out = append(out, &cli.Uint64Flag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		case reflect.Float64:
			out = append(out, &cli.Float64Flag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		case reflect.String:
			out = append(out, &cli.StringFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		case reflect.Bool:
			out = append(out, &cli.BoolFlag{Name: f.Flag, Usage: usage, Category: section, DefaultText: defaultText})
		default:
			panic("config field " + f.Path + " has a kind without a flag type")
		}
	}
	return out
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
		case reflect.Int:
			f.Set(cfg, c.Int(f.Flag))
		case reflect.Int64:
			f.Set(cfg, c.Int64(f.Flag))
		case reflect.Uint64:
			f.Set(cfg, c.Uint64(f.Flag))
		case reflect.Float64:
			f.Set(cfg, c.Float64(f.Flag))
		case reflect.String:
			f.Set(cfg, c.String(f.Flag))
		case reflect.Bool:
			f.Set(cfg, c.Bool(f.Flag))
		}
	}
}

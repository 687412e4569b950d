package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags in front of its positional
// arguments, so that `logship mark m1 --json` works as users expect;
// urfave/cli stops reading flags at the first positional argument.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	// Global flags and the command (and subcommand) names stay where they are.
	flags := app.Flags
	cmds := app.Commands
	var cmd *cli.Command
	for len(rest) > 0 {
		a := rest[0]
		if strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			out = append(out, a)
			rest = rest[1:]
			if takesValue(flags, a) && len(rest) > 0 {
				out = append(out, rest[0])
				rest = rest[1:]
			}
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		cmd = next
		out = append(out, a)
		rest = rest[1:]
		flags, cmds = cmd.Flags, cmd.Subcommands
	}
	if cmd == nil {
		return args
	}
	var moved, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			moved = append(moved, a)
			if takesValue(flags, a) && i+1 < len(rest) {
				moved = append(moved, rest[i+1])
				i++
			}
			continue
		}
		positional = append(positional, a)
	}
	out = append(out, moved...)
	return append(out, positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// takesValue reports whether the flag token needs the next argument as its
// value: a non-boolean flag written without "=".
func takesValue(flags []cli.Flag, token string) bool {
	name := strings.TrimLeft(token, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

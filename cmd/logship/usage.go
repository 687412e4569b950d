package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// onUsageError turns urfave/cli's flag parsing errors into one line with
// exit 2, suggesting the closest flag of the command.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if i := strings.Index(msg, undefined); i >= 0 {
		given := strings.TrimLeft(msg[i+len(undefined):], "-")
		var names []string
		for _, f := range commandFlags(c) {
			names = append(names, f.Names()...)
		}
		msg = fmt.Sprintf("unknown flag --%s: %s", given, seeHelp(didYouMean(given, names, "--"), c))
	}
	return usageErr(errors.New(msg))
}

// commandFlags are the flags of the command being parsed, or the global
// ones at the top.
func commandFlags(c *cli.Context) []cli.Flag {
	if c.Command != nil && c.Command.Name != "" {
		return c.Command.Flags
	}
	return c.App.Flags
}

func helpName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return c.App.Name
}

// unknownCommand is the action of the application and of every command
// that only groups subcommands: without an argument it shows the help,
// with one it refuses it as an unknown command.
func unknownCommand(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	given := c.Args().First()
	var names []string
	cmds := c.App.Commands
	if c.Command != nil && c.Command.Name != "" {
		cmds = c.Command.Subcommands
	}
	for _, cmd := range cmds {
		if !cmd.Hidden && cmd.Name != "help" {
			names = append(names, cmd.Names()...)
		}
	}
	return usageErr(fmt.Errorf("unknown command %q: %s", given, seeHelp(didYouMean(given, names, ""), c)))
}

// seeHelp ends a usage error: the suggestion, if any, and where the help is.
func seeHelp(suggestion string, c *cli.Context) string {
	if suggestion == "" {
		return "see " + helpName(c) + " --help"
	}
	return suggestion + " See " + helpName(c) + " --help"
}

// didYouMean suggests the name closest to given: one that starts with it,
// or one at most a third of its letters (and at least two) away, but
// never a one-letter alias.
func didYouMean(given string, names []string, prefix string) string {
	best, bestDist := "", 0
	for _, n := range names {
		if len(n) < 2 {
			continue
		}
		d := editDistance(given, n)
		if strings.HasPrefix(n, given) && len(given) >= 2 {
			d = 1
		}
		if best == "" || d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" || bestDist >= len(given) || bestDist > max(2, len(given)/3) {
		return ""
	}
	return fmt.Sprintf("did you mean %s%s?", prefix, best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkFlags moves two checks before the command's action: required
// flags, which urfave/cli would answer with the whole help text, and
// negative durations, which no duration flag means.
func checkFlags(cmd *cli.Command) {
	var required, durations []string
	for _, f := range cmd.Flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			if f.Required {
				f.Required = false
				required = append(required, f.Name)
			}
		case *cli.DurationFlag:
			durations = append(durations, f.Name)
		}
	}
	if len(required) == 0 && len(durations) == 0 {
		return
	}
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		for _, n := range durations {
			if c.IsSet(n) && c.Duration(n) < 0 {
				return usageErr(fmt.Errorf("--%s %s: a duration must not be negative", n, c.Duration(n)))
			}
		}
		for _, n := range required {
			if !c.IsSet(n) {
				return usageErr(fmt.Errorf("%s needs --%s: see %s --help", c.Command.FullName(), n, c.Command.HelpName))
			}
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
}

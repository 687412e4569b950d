package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every flag of every command shows at most one default in --help: a
// default written into the usage and the framework's own made
// "(default 5m) (default: 0s)".
func TestHelpOneDefaultPerFlag(t *testing.T) {
	var paths [][]string
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, prefix...), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp(new(bytes.Buffer), new(bytes.Buffer)).Commands)
	paths = append(paths, nil) // the global flags
	if len(paths) < 10 {
		t.Fatalf("found only %d commands", len(paths))
	}
	for _, p := range paths {
		var out bytes.Buffer
		app := newApp(&out, &out)
		if err := app.Run(append(append([]string{"logship"}, p...), "--help")); err != nil {
			t.Fatalf("logship %s --help: %v", strings.Join(p, " "), err)
		}
		flagLines := 0
		for _, line := range strings.Split(out.String(), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			flagLines++
			if n := strings.Count(line, "(default"); n > 1 {
				t.Errorf("logship %s --help: %d defaults in %q", strings.Join(p, " "), n, strings.TrimSpace(line))
			}
		}
		if flagLines == 0 && len(p) > 0 && p[0] != "catalog" && p[0] != "version" && p[0] != "help" {
			t.Errorf("logship %s --help lists no flags:\n%s", strings.Join(p, " "), out.String())
		}
	}
}

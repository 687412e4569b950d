package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every command that prints JSON (a visible --json flag, or --format) has
// its section in docs/JSON.md, so that a new document cannot go
// undocumented; jsondoc_integration_test.go checks the sections' fields.
func TestEveryJSONCommandDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "## "); ok {
			sections[s] = true
		}
	}
	var walk func(prefix string, cmds []*cli.Command)
	found := 0
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			for _, f := range c.Flags {
				v, ok := f.(cli.VisibleFlag)
				if !ok || !v.IsVisible() || (f.Names()[0] != "json" && f.Names()[0] != "format") {
					continue
				}
				found++
				if !sections[name] {
					t.Errorf("logship %s prints JSON but docs/JSON.md has no section %q", name, name)
				}
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", newApp(new(bytes.Buffer), new(bytes.Buffer)).Commands)
	if found < 8 {
		t.Fatalf("found only %d commands that print JSON", found)
	}
	if !sections["mark --group"] {
		t.Error(`docs/JSON.md has no section "mark --group"`)
	}
}

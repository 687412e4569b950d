package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// F14: every duration flag of every command, found by walking the
// application (so that a flag added later is covered too), refuses a
// negative value with exit 2 and one line naming the flag. The context is
// cancelled from the start, so a command that let the value through ends
// at once instead of running.
func TestF14_EveryDurationFlagRefusesNegative(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	var walk func(path []string, cmds []*cli.Command)
	found := 0
	walk = func(path []string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			p := append(append([]string{}, path...), cmd.Name)
			for _, f := range cmd.Flags {
				d, ok := f.(*cli.DurationFlag)
				if !ok {
					continue
				}
				found++
				name := strings.Join(p, " ") + " --" + d.Name
				args := append(append([]string{"logship", "--store", "file://" + dir}, p...), "--"+d.Name, "-1s")
				code, stderr := runCaptured(t, ctx, args)
				if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--"+d.Name) || !strings.Contains(stderr, "negative") {
					t.Errorf("%s -1s: exit %d, stderr %q; want 2 and one line naming --%s", name, code, stderr, d.Name)
				}
			}
			walk(p, cmd.Subcommands)
		}
	}
	walk(nil, newApp(os.Stdout, os.Stderr).Commands)
	if found < 7 {
		t.Errorf("found %d duration flags, want at least the 7 of backup, mark, purge, restore and schedule", found)
	}
}

func runCaptured(t *testing.T, ctx context.Context, args []string) (int, string) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	code := run(ctx, args, out, errf)
	b, _ := os.ReadFile(errf.Name())
	return code, string(b)
}

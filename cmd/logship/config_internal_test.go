package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// configContext is a cli context whose --config is a file holding doc,
// with the global flags set as args gives them.
func configContext(t *testing.T, doc string, args ...string) (*cli.Context, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logship.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	app := cli.NewApp()
	app.Flags = globalFlags()
	for _, f := range app.Flags {
		if err := f.Apply(fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(append([]string{"--config", path}, args...)); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(app, fs, nil), path
}

// A config error names the file, the line and the key, and suggests the
// key meant; it never shows a Go type.
func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		load      func(*cli.Context) error
		want      string // after "FILE:"
	}{
		{"typo at top level", "store: file:///tmp\nstroe: x\n", loadTop,
			`2: unknown key "stroe" (did you mean store?)`},
		{"job key at top level", "bakup: \"0 1 * * *\"\n", loadTop,
			`1: unknown key "bakup" (did you mean backup under jobs:?)`},
		{"key given twice", "store: file:///a\npg: x\nstore: file:///b\n", loadTop,
			`3: key "store" is given twice (first at line 1)`},
		{"list as a setting", "store:\n  - a\n", loadTop, `2: key "store" must be a plain value`},
		{"syntax", "store: [a\n", loadTop, `1: did not find expected ',' or ']'`},
		{"typo in jobs", "store: file:///tmp\njobs:\n  mark: off\n  bakup: \"0 1 * * *\"\n", loadJobs,
			`4: unknown key "bakup" in jobs: (did you mean backup?)`},
		{"wrong type in jobs", "jobs:\n  keep-backups: seven\n", loadJobs,
			`2: jobs.keep-backups: "seven" is text, want a whole number`},
		{"list for jobs", "jobs: [backup]\n", loadJobs, `1: jobs: value is a list, want a mapping`},
		{"typo in groups", "groups:\n  g:\n    - source: a\n      conn: x\n", loadGroups,
			`4: unknown key "conn" in groups: (known keys: source, pg, standby_port)`},
		{"typo in sources", "sources:\n  main:\n    stor: file:///tmp\n", loadTop,
			`3: unknown key "stor" in sources.main: (did you mean store?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path := configContext(t, tt.doc)
			err := tt.load(c)
			if err == nil {
				t.Fatal("accepted")
			}
			if want := path + ":" + tt.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q\nwant %q", err, want)
			}
			if strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q shows a Go type or is not one line", err)
			}
		})
	}
}

func loadTop(c *cli.Context) error {
	_, err := loadConfigFile(c.String("config"))
	return err
}

func loadJobs(c *cli.Context) error {
	_, err := loadJobsConfig(c)
	return err
}

func loadGroups(c *cli.Context) error {
	_, err := loadGroupsConfig(c)
	return err
}

const sourcesDoc = `pg: "host=top"
compression-level: 3
sources:
  main:
    pg: "host=main"
    push-parallel: 8
  billing:
    store: file:///var/lib/billing
groups:
  all:
    members: [main, billing]
  mixed:
    - main
    - source: other
      pg: "host=other"
`

// A source's keys come between the environment and the file's top level:
// flag > env > sources.<name> > top level > default.
func TestSourcesPrecedence(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args, env []string
		check     func(Config) bool
	}{
		{"source keys win over the top level", []string{"--source", "main"}, nil,
			func(c Config) bool { return c.PG == "host=main" && c.PushParallel == 8 && c.CompressionLevel == 3 }},
		{"top level fills in", []string{"--source", "billing"}, nil,
			func(c Config) bool {
				return c.PG == "host=top" && c.Store == "file:///var/lib/billing" && c.PushParallel == 4 && c.Source == "billing"
			}},
		{"flag wins", []string{"--source", "main", "--pg", "host=flag"}, nil,
			func(c Config) bool { return c.PG == "host=flag" }},
		{"env wins over the file", []string{"--source", "main"}, []string{"LOGSHIP_PG", "host=env"},
			func(c Config) bool { return c.PG == "host=env" && c.PushParallel == 8 }},
		{"env picks the source", nil, []string{"LOGSHIP_SOURCE", "billing"},
			func(c Config) bool { return c.Source == "billing" && c.Store == "file:///var/lib/billing" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i+1 < len(tt.env); i += 2 {
				t.Setenv(tt.env[i], tt.env[i+1])
			}
			c, _ := configContext(t, sourcesDoc, tt.args...)
			cfg, err := loadConfig(c)
			if err != nil || !tt.check(cfg) {
				t.Fatalf("config %+v, %v", cfg, err)
			}
		})
	}
}

// With several sources, a command must be told which one; a misspelt name
// is refused, not taken for a source without settings.
func TestSourcesPick(t *testing.T) {
	t.Parallel()
	c, _ := configContext(t, sourcesDoc)
	if _, err := loadConfig(c); err == nil || !strings.Contains(err.Error(), "several sources (main, billing): pick one with --source") {
		t.Errorf("no --source: %v", err)
	}
	c, _ = configContext(t, sourcesDoc, "--source", "biling")
	if _, err := loadConfig(c); err == nil || !strings.Contains(err.Error(), `--source "biling" is not in the sources:`) ||
		!strings.Contains(err.Error(), "did you mean billing?") {
		t.Errorf("misspelt --source: %v", err)
	}
	c, _ = configContext(t, "sources:\n  only:\n    pg: host=x\n")
	if cfg, err := loadConfig(c); err != nil || cfg.Source != "only" || cfg.PG != "host=x" {
		t.Errorf("the only source: %+v, %v", cfg, err)
	}
	c, _ = configContext(t, "pg: host=x\n")
	if cfg, err := loadConfig(c); err != nil || cfg.Source != "main" {
		t.Errorf("no sources: section: %+v, %v", cfg, err)
	}
	c, _ = configContext(t, "sources:\n  a/b:\n    pg: x\n")
	if _, err := loadConfig(c); err == nil || !strings.Contains(err.Error(), ":2: sources:") {
		t.Errorf("bad source name: %v", err)
	}
}

// groups: names its members from sources: (their pg), or gives them
// with their server, or both.
func TestGroupsFromSources(t *testing.T) {
	t.Parallel()
	c, _ := configContext(t, sourcesDoc)
	groups, err := loadGroupsConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(groups["all"], groups["mixed"])
	if want := "[{main host=main} {billing host=top}] [{main host=main} {other host=other}]"; got != want {
		t.Errorf("groups %s, want %s", got, want)
	}
	c, _ = configContext(t, sourcesDoc+"  typo:\n    members: [mian]\n")
	if _, err := loadGroupsConfig(c); err == nil || !strings.Contains(err.Error(), `"mian" is not an entry of sources: (did you mean main?)`) {
		t.Errorf("unknown member: %v", err)
	}
	c, _ = configContext(t, sourcesDoc+"  typo:\n    member: [main]\n")
	if _, err := loadGroupsConfig(c); err == nil || !strings.Contains(err.Error(), `unknown key "member" in groups.typo: (did you mean members?)`) {
		t.Errorf("typo of members: %v", err)
	}
}

// A group mark with several sources: and no --source takes its settings
// from the group's first member named from them, and refuses members in
// different stores: one group mark writes into one store.
func TestSetupGroupFromSources(t *testing.T) {
	t.Parallel()
	c, _ := configContext(t, sourcesDoc)
	if _, err := setupGroup(c, "all"); err == nil || !strings.Contains(err.Error(), "member billing is in store file:///var/lib/billing, not in file:///var/lib/logship (source main's)") {
		t.Errorf("members in two stores: %v", err)
	}
	c, _ = configContext(t, sourcesDoc)
	rt, err := setupGroup(c, "mixed")
	if err != nil || rt.cfg.Source != "main" || rt.cfg.PG != "host=main" {
		t.Errorf("group of one named member: %+v, %v", rt, err)
	}
	c, _ = configContext(t, sourcesDoc, "--source", "billing")
	if _, err := setupGroup(c, "all"); err == nil || !strings.Contains(err.Error(), "member main is in store") {
		t.Errorf("--source billing: %v", err)
	}
	c, _ = configContext(t, sourcesDoc, "--store", "file:///elsewhere")
	if rt, err := setupGroup(c, "all"); err != nil || rt.cfg.Store != "file:///elsewhere" || rt.cfg.Source != "main" {
		t.Errorf("--store: %+v, %v", rt, err)
	}
}

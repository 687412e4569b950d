package main

import (
	"flag"
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
	for _, f := range globalFlags() {
		if err := f.Apply(fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(append([]string{"--config", path}, args...)); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(cli.NewApp(), fs, nil), path
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
			`4: unknown key "conn" in groups: (known keys: source, pg)`},
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

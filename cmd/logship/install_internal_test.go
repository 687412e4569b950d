package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The example config `make install` puts in /etc/logship loads, jobs and
// all, with the keys it shows.
func TestExampleConfigLoads(t *testing.T) {
	const path = "../../packaging/logship.yaml.example"
	f, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flat := f.top
	if flat["store"] == "" || flat["pg"] == "" {
		t.Fatalf("example config lacks store or pg: %v", flat)
	}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.String("config", path, "")
	j, err := loadJobsConfig(cli.NewContext(cli.NewApp(), fs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if j.KeepBackups != 7 || j.metricsListen() != "127.0.0.1:9847" {
		t.Fatalf("example jobs read as %+v", j)
	}
}

// make install generates the man page and the completions with the
// binary: each comes out whole.
func TestManAndCompletion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logship", "man"}, ".TH logship 1"},
		{[]string{"logship", "completion", "bash"}, "complete -o bashdefault"},
		{[]string{"logship", "completion", "zsh"}, "#compdef logship"},
	} {
		var out, errb bytes.Buffer
		if err := newApp(&out, &errb).Run(tc.args); err != nil {
			t.Fatalf("%v: %v %s", tc.args, err, errb.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Fatalf("%v prints no %q:\n%.300s", tc.args, tc.want, out.String())
		}
	}
	var out bytes.Buffer
	if err := newApp(&out, &out).Run([]string{"logship", "completion", "fish"}); exitCode(err) != exitUsage {
		t.Fatalf("completion fish: %v, want a usage error", err)
	}
}

// A build without -ldflags still says something a bug report can use.
func TestFullVersion(t *testing.T) {
	if v := fullVersion(); !strings.HasPrefix(v, "0.0.0-dev") && version == "dev" {
		t.Fatalf("fullVersion() = %q", v)
	}
}

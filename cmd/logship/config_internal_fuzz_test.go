package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/schedule"
)

// FuzzConfigFile reads arbitrary YAML as the config file, through the
// three readers of its sections. Whatever they accept must be usable as
// given: only known keys, schedules that parse, retention that is not
// negative, group members with both a source and a server.
//
// The config readers are due to move out of package main; this target
// moves with them.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"store: file:///var/lib/logship\nsource: main\npg: \"host=db1 user=logship\"\n",
		"jobs:\n  backup: \"0 1 * * *\"\n  mark: off\n  keep-backups: 7\n  recovery-window-days: 1.5\n  orphan-grace: 24h\n  stop-grace: 0s\n",
		"jobs:\n  purge: \"0 2 * * *\"\n", "jobs:\n  verify: \"CRON_TZ=UTC\"\n", "jobs:\n  recovery-window-days: .nan\n",
		"jobs:\n  bakup: \"0 1 * * *\"\n", "jobs: []\n", "jobs:\n",
		"groups:\n  billing:\n    - source: orders\n      pg: \"host=db1\"\n    - source: payments\n      pg: \"host=db2\"\n",
		"groups:\n  g:\n    - source: x\n", "groups: 3\n", "s3-path-style: yes\nstore: [a]\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "{", "",
		"sources:\n  main: {pg: \"host=a\", store: \"file:///x\"}\n  b: {pg: x}\ngroups:\n  g: {members: [main, b]}\n  h: [main, {source: c, pg: y}]\n",
		"sources:\n  main: {source: x}\n", "sources: [a]\n", "groups:\n  g: {members: [nope]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		path := filepath.Join(t.TempDir(), "logship.yaml")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := loadConfigFile(path)
		if err == nil {
			for k := range f.top {
				if !knownSetting(k) {
					t.Fatalf("accepted unknown key %q", k)
				}
			}
		}
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		fs.String("config", path, "")
		c := cli.NewContext(cli.NewApp(), fs, nil)
		if j, err := loadJobsConfig(c); err == nil {
			for _, spec := range []string{j.backupSchedule(), j.markSchedule(), j.purgeSchedule(), j.verifySchedule()} {
				if _, err := schedule.ParseSchedule(spec); spec != "" && err != nil {
					t.Fatalf("accepted schedule %q: %v", spec, err)
				}
			}
			if p := j.policy(); p.KeepBackups < 0 || p.RecoveryWindow < 0 || p.OrphanGrace < 0 || j.stopGrace < 0 {
				t.Fatalf("accepted policy %+v, stop grace %s", p, j.stopGrace)
			}
		}
		if groups, err := loadGroupsConfig(c); err == nil {
			for name, ms := range groups {
				for _, m := range ms {
					if m.Source == "" || m.ConnString == "" {
						t.Fatalf("group %q accepted member %+v", name, m)
					}
				}
			}
		}
	})
}

func knownSetting(name string) bool {
	for _, s := range settings {
		if s.name == name {
			return true
		}
	}
	return false
}

// FuzzTargetTime checks --time: an accepted time names one instant, which
// RFC 3339 prints and reads back with its offset.
func FuzzTargetTime(f *testing.F) {
	for _, s := range []string{
		"2026-11-27T04:33:00Z", "2026-11-27T04:33:00.123456789+02:00", "2026-11-27 04:33:00+00",
		"2026-11-27 04:33:00.5-07", "2026-11-27 04:33:00+05:30", "2026-11-27 04:33:00", "2026-11-27T04:33:00",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2026-02-30T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tt, err := parseTargetTime(s)
		if err != nil {
			return
		}
		text := tt.Format(time.RFC3339Nano)
		back, err := parseTargetTime(text)
		if err != nil || !back.Equal(tt) {
			t.Fatalf("%q parsed to %s, printed %q, read back as %s (%v)", s, tt, text, back, err)
		}
		if _, off := back.Zone(); func() int { _, o := tt.Zone(); return o }() != off {
			t.Fatalf("%q: offset changed from %s to %s", s, tt, back)
		}
	})
}

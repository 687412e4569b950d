package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// check on a new set-up (nothing shipped yet) passes with a warning; it
// fails an archive_command that ships to another store or source, names
// the sources the store has, and leaves no folder for a mistyped source;
// a store or source the command leaves to the archiver is a warning.
func TestCheckArchiveTarget(t *testing.T) {
	t.Parallel()
	c, storeDir, flags := archivingCluster(t, defaultPG, "tgt")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())

	first := checkJSON(t, pgFlags, 0)
	if ac := first["archive_command"]; !ac.OK || ac.Warning || !strings.Contains(ac.Detail, `source "tgt"`) {
		t.Errorf("archive_command on a new set-up: %+v", ac)
	}
	if id := first["system identifier"]; !id.OK || id.Warning && !strings.Contains(id.Detail, "nothing was shipped") {
		t.Errorf("system identifier on a new set-up: %+v", id)
	}
	waitArchived(t, c, switchWAL(t, c))

	typo := append(append([]string{}, pgFlags...), "--source", "tgx")
	r := checkJSON(t, typo, 1)
	if ac := r["archive_command"]; ac.OK || !strings.Contains(ac.Detail, `source "tgt", not "tgx"`) {
		t.Errorf("archive_command with a mistyped --source: %+v", ac)
	}
	if id := r["system identifier"]; !id.OK || !id.Warning || !strings.Contains(id.Detail, "tgt") {
		t.Errorf("system identifier with a mistyped --source: %+v", id)
	}
	if !r["store writable"].OK {
		t.Errorf("store writable: %+v", r["store writable"])
	}
	if _, err := os.Stat(filepath.Join(storeDir, "tgx")); err == nil {
		t.Error("check left a folder for the mistyped source")
	}
	if left, _ := filepath.Glob(filepath.Join(storeDir, ".check-probe-*")); len(left) > 0 {
		t.Errorf("probe left behind: %v", left)
	}

	other := pgtest.TempDir(t, "logship-other-")
	r = checkJSON(t, append(append([]string{}, pgFlags...), "--store", "file://"+other), 1)
	if ac := r["archive_command"]; ac.OK || !strings.Contains(ac.Detail, "store file://"+storeDir+", not file://"+other) {
		t.Errorf("archive_command with another --store: %+v", ac)
	}

	// The source left to the archiver's environment: not checked.
	setArchiveCommand(t, c, fmt.Sprintf("LOGSHIP_STORE=%s %s wal-push %%p", storeDir, logshipBin))
	r = checkJSON(t, pgFlags, 0)
	if ac := r["archive_command"]; !ac.OK || !ac.Warning || !strings.Contains(ac.Detail, "source comes from the server's environment/config (not checked)") {
		t.Errorf("archive_command without --source: %+v", ac)
	}
	text := mustLogship(t, nil, append(pgFlags, "check")...)
	if !strings.Contains(text, "WARN    archive_command") {
		t.Errorf("check text:\n%s", text)
	}
}

func setArchiveCommand(t *testing.T, c *pgtest.Cluster, cmd string) {
	t.Helper()
	c.Exec(t, "ALTER SYSTEM SET archive_command = '"+strings.ReplaceAll(cmd, "'", "''")+"'")
	c.Exec(t, "SELECT pg_reload_conf()")
	c.WaitFor(t, 30*time.Second, "archive_command reload", func() bool {
		return c.QueryString(t, "SHOW archive_command") == cmd
	})
}

// With PostgreSQL down, check says so once instead of failing every check
// of the source.
func TestCheckPostgresDown(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	_ = dir
	r := logship(t, nil, append(flags, "--pg", "host=/nonexistent port=5499 user=postgres connect_timeout=2", "check")...)
	if r.code != 1 {
		t.Fatalf("check with PostgreSQL down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "FAILED"); n != 1 || !strings.Contains(r.stdout, "cannot connect to PostgreSQL at /nonexistent port 5499: is it running?") {
		t.Errorf("check with PostgreSQL down: %d FAILED lines\n%s", n, r.stdout)
	}
	for _, name := range []string{"wal_level", "archive_command", "replication", "system identifier"} {
		if strings.Contains(r.stdout, name) {
			t.Errorf("check with PostgreSQL down reports %s:\n%s", name, r.stdout)
		}
	}
}

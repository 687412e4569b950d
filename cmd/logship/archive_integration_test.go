package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// archivingCluster starts a real cluster whose archive_command is logship
// wal-push into a fresh file store, and returns the store's flags.
func archivingCluster(t *testing.T, v pgtest.Version, source string, conf ...string) (*pgtest.Cluster, string, []string) {
	t.Helper()
	pgtest.Require(t)
	storeDir := pgtest.TempDir(t, "logship-store-")
	flags := []string{"--store", "file://" + storeDir, "--source", source}
	return archivingClusterOn(t, v, flags, nil, conf...), storeDir, flags
}

// archivingClusterOn starts a real cluster archiving with logship into the
// store named by flags; env reaches the archiver (e.g. AWS credentials).
func archivingClusterOn(t *testing.T, v pgtest.Version, flags, env []string, conf ...string) *pgtest.Cluster {
	t.Helper()
	pgtest.Require(t)
	archive := fmt.Sprintf("archive_command = '%s %s wal-push %%p'", logshipBin, strings.Join(flags, " "))
	return pgtest.Start(t, pgtest.Options{BinDir: v.BinDir, Env: env, Conf: append([]string{
		"archive_mode = on", archive, "wal_keep_size = '2GB'",
	}, conf...)})
}

// switchWAL makes sure there is WAL to switch, switches, and returns the
// name of the segment that was closed.
func switchWAL(t *testing.T, c *pgtest.Cluster) string {
	t.Helper()
	c.Exec(t, "CREATE TABLE IF NOT EXISTS switch_probe (at timestamptz)")
	c.Exec(t, "INSERT INTO switch_probe VALUES (now())")
	return c.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
}

// waitArchived polls pg_stat_archiver until the segment name is archived.
func waitArchived(t *testing.T, c *pgtest.Cluster, name string) {
	t.Helper()
	c.WaitFor(t, 60*time.Second, "segment "+name+" archived", func() bool {
		last := c.QueryString(t, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return last >= name
	})
}

// End to end: PostgreSQL archives through logship; every segment comes back
// byte-identical through wal-fetch, and the catalog lists them all.
func TestArchiveWithRealPostgres(t *testing.T) { onEachPG(t, testArchiveWithRealPostgres) }

func testArchiveWithRealPostgres(t *testing.T, v pgtest.Version) {
	c, _, flags := archivingCluster(t, v, "e2e")
	c.Pgbench(t, "-i", "-s", "2", "-q")
	c.Pgbench(t, "-t", "300", "-c", "2")
	var last string
	for range 10 {
		c.Pgbench(t, "-t", "50", "-c", "1")
		last = switchWAL(t, c)
	}
	waitArchived(t, c, last)
	if failed := c.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("pg_stat_archiver.failed_count = %s\n%s", failed, c.Log())
	}

	var l listing
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil {
		t.Fatal(err)
	}
	archived, _ := strconv.Atoi(c.QueryString(t, "SELECT archived_count FROM pg_stat_archiver"))
	if len(l.WAL) < 10 || len(l.WAL) != archived {
		t.Fatalf("catalog lists %d files, PostgreSQL archived %d (want >= 10 and equal)", len(l.WAL), archived)
	}
	sysid := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()")
	if l.Source.SystemID != sysid {
		t.Fatalf("catalog records system %s, cluster is %s", l.Source.SystemID, sysid)
	}
	dest := t.TempDir()
	compared := 0
	for _, w := range l.WAL {
		orig := filepath.Join(c.DataDir, "pg_wal", w.Name)
		if _, err := os.Stat(orig); err != nil {
			continue // archived files PostgreSQL no longer keeps
		}
		out := filepath.Join(dest, w.Name)
		mustLogship(t, nil, append(flags, "wal-fetch", w.Name, out)...)
		if !sameFile(t, orig, out) {
			t.Fatalf("%s fetched back differs from PostgreSQL's file", w.Name)
		}
		compared++
	}
	if compared < 10 {
		t.Fatalf("compared only %d segments byte for byte, want >= 10", compared)
	}
}

package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// A cluster with two tablespaces restores data-exact with --tablespace-map
// and, once the source's directories are free, to its original paths; a
// same-host restore without a map, or into a running cluster's data
// directory, is refused with exit 2 before anything is written. On 15 and,
// with $LOGSHIP_TEST_PG18_BIN, on 18 (with an incremental backup in the
// chain).
func TestTablespaces(t *testing.T) {
	t.Run("15", func(t *testing.T) {
		c, storeDir, flags := archivingCluster(t, defaultPG, "ts15")
		testTablespaces(t, c, storeDir, flags, nil, false)
	})
	t.Run("18", func(t *testing.T) {
		c, storeDir, flags, _, bin := archivingCluster18(t, "ts18")
		testTablespaces(t, c, storeDir, flags, []string{"--pg-bin", bin}, true)
	})
}

func testTablespaces(t *testing.T, c *pgtest.Cluster, storeDir string, flags, restoreFlags []string, incremental bool) {
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	locs := []string{filepath.Join(pgtest.TempDir(t, "ts-a-"), "loc"), filepath.Join(pgtest.TempDir(t, "ts-b-"), "loc")}
	for i, loc := range locs {
		if err := os.Mkdir(loc, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := pgtest.ChownToPostgres(loc); err != nil {
			t.Fatal(err)
		}
		c.Exec(t, fmt.Sprintf("CREATE TABLESPACE ts%d LOCATION '%s'", i, loc))
		c.Exec(t, fmt.Sprintf("CREATE TABLE t%d (n int) TABLESPACE ts%d", i, i))
		c.Exec(t, fmt.Sprintf("INSERT INTO t%d SELECT g FROM generate_series(1, 20000) g", i))
	}
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Exec(t, "CREATE DATABASE spcdb TABLESPACE ts1")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	c.Exec(t, "UPDATE t0 SET n = -n WHERE n % 10 = 0")
	c.Exec(t, "DELETE FROM t1 WHERE n > 15000")
	if incremental {
		mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--incremental")...)
		c.Exec(t, "INSERT INTO t1 SELECT g FROM generate_series(1, 500) g")
	}
	const stateSQL = "SELECT (SELECT string_agg(n::text, ',') FROM probe) || '/' || (SELECT count(*) || ':' || sum(n) FROM t0) || '/' || (SELECT count(*) || ':' || sum(n) FROM t1)"
	want := c.QueryString(t, stateSQL)
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	waitArchived(t, c, switchWAL(t, c))
	// Deep verify reads every archive against the manifest.
	mustLogship(t, nil, append(append([]string{}, flags...), "verify", "--deep")...)
	base := append(append([]string{}, flags...), "restore", "--mark", "m1", "--no-archive")

	// Same host, no map: the source's tablespace directories are in use.
	before := snapshot(t, filepath.Dir(locs[0]))
	dir := newTargetDir(t)
	res := logship(t, nil, append(base, "--target-dir", dir)...)
	if res.code != 2 || !strings.Contains(res.stderr, "--tablespace-map") {
		t.Errorf("restore onto the source's tablespaces: exit %d\n%s", res.code, res.stderr)
	}
	// Into a running cluster's data directory.
	res = logship(t, nil, append(base, "--target-dir", dir, "--tablespace-map", locs[0]+"="+filepath.Join(c.DataDir, "ts"),
		"--tablespace-map", locs[1]+"="+filepath.Join(pgtest.TempDir(t, "ts-new-"), "x"))...)
	if res.code != 2 || !strings.Contains(res.stderr, "running") {
		t.Errorf("restore into a running cluster's directory: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused restore created %s", dir)
	}
	if after := snapshot(t, filepath.Dir(locs[0])); !maps(before, after) {
		t.Error("a refused restore changed the source's tablespace")
	}

	// Mapped elsewhere.
	news := []string{filepath.Join(pgtest.TempDir(t, "ts-new-"), "a"), filepath.Join(pgtest.TempDir(t, "ts-new-"), "b")}
	args := append([]string{"--mark", "m1", "--tablespace-map", locs[0] + "=" + news[0], "--tablespace-map", locs[1] + "=" + news[1]}, restoreFlags...)
	r, _ := restoreAndStart(t, flags, append(args, "--no-archive")...)
	if got := r.query(t, stateSQL); got != want {
		t.Errorf("mapped restore: %s, want %s", got, want)
	}
	if got := r.query(t, "SELECT count(*)::text FROM pg_tablespace WHERE pg_tablespace_location(oid) IN ('"+news[0]+"', '"+news[1]+"')"); got != "2" {
		t.Errorf("restored tablespaces at the new paths: %s of 2", got)
	}
	links := tablespaceLinks(t, r.dir)
	if len(links) != 2 || !(links[0] == news[0] || links[1] == news[0]) {
		t.Errorf("pg_tblspc links %v, want %v", links, news)
	}
	stopServer(t, r.dir)

	// The source gone, its paths free: back to the original paths.
	c.Stop(t)
	for _, loc := range locs {
		if err := os.RemoveAll(loc); err != nil {
			t.Fatal(err)
		}
	}
	r, _ = restoreAndStart(t, flags, append([]string{"--mark", "m1", "--no-archive"}, restoreFlags...)...)
	if got := r.query(t, stateSQL); got != want {
		t.Errorf("restore to the original paths: %s, want %s", got, want)
	}
	if got := r.query(t, "SELECT count(*)::text FROM pg_database WHERE datname = 'spcdb'"); got != "1" {
		t.Errorf("database in a tablespace: %s", got)
	}
	stopServer(t, r.dir)
}

func tablespaceLinks(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "pg_tblspc"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, "pg_tblspc", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, target)
	}
	return out
}

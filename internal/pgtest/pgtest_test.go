package pgtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})

	c.Exec(t, "CREATE TABLE kv (k text PRIMARY KEY, v int)")
	c.Exec(t, "INSERT INTO kv VALUES ($1, $2), ($3, $4)", "a", 1, "b", 2)
	if got := c.QueryString(t, "SELECT sum(v) FROM kv"); got != "3" {
		t.Fatalf("sum = %q, want 3", got)
	}

	conn := c.Conn(t)
	var v int
	if err := conn.QueryRow(context.Background(), "SELECT v FROM kv WHERE k = $1", "b").Scan(&v); err != nil || v != 2 {
		t.Fatalf("select via Conn: v=%d err=%v", v, err)
	}

	c.Restart(t)
	if got := c.QueryString(t, "SELECT v FROM kv WHERE k = 'a'"); got != "1" {
		t.Fatalf("after restart v = %q, want 1", got)
	}
	if got := c.QueryString(t, "SHOW wal_level"); got != "replica" {
		t.Fatalf("wal_level = %q, want replica", got)
	}

	c.Stop(t)
	c.Stop(t) // idempotent
	if c.Running() {
		t.Fatal("Running after Stop")
	}
	if !strings.Contains(c.Log(), "database system is shut down") {
		t.Fatalf("log lacks shutdown message:\n%s", c.Log())
	}
}

func TestArchiveCommandGetsEnv(t *testing.T) {
	t.Parallel()
	dir := pgtest.TempDir(t, "archive-")
	out := filepath.Join(dir, "archived.txt")
	c := pgtest.Start(t, pgtest.Options{
		Env: []string{"LOGSHIP_TEST_MARKER=marker-42"},
		Conf: []string{
			"archive_mode = on",
			fmt.Sprintf(`archive_command = 'echo "$LOGSHIP_TEST_MARKER %%f" >> %s'`, out),
		},
	})
	c.Exec(t, "CREATE TABLE t AS SELECT 1 AS x")
	seg := c.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	c.Exec(t, "SELECT pg_switch_wal()")

	want := "marker-42 " + seg
	c.WaitFor(t, 30*time.Second, "archive_command to record "+seg, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), want)
	})
}

func TestStartExistingStandby(t *testing.T) {
	t.Parallel()
	primary := pgtest.Start(t, pgtest.Options{})
	primary.Exec(t, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")

	data := filepath.Join(pgtest.TempDir(t, "standby-"), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := primary.Command(ctx, "pg_basebackup", "-D", data, "-X", "stream", "-c", "fast", "-R").CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}

	standby := pgtest.StartExisting(t, data, pgtest.Options{Conf: []string{"hot_standby = on"}})
	if got := standby.QueryString(t, "SELECT pg_is_in_recovery()"); got != "t" {
		t.Fatalf("pg_is_in_recovery = %q, want t", got)
	}
	if standby.Port == primary.Port || standby.SocketDir == primary.SocketDir {
		t.Fatal("standby shares the primary's port or socket dir")
	}
	primary.Exec(t, "INSERT INTO t VALUES (2)")
	standby.WaitFor(t, 30*time.Second, "row 2 to reach the standby", func() bool {
		c := standby.Conn(t)
		var n int
		err := c.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n)
		c.Close(context.Background())
		return err == nil && n == 2
	})
}

func TestStartExistingExited(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})
	c.Stop(t)
	// An unknown setting makes the server refuse to start; StartExisting must
	// hand that back to the test instead of failing it.
	restarted := pgtest.StartExisting(t, c.DataDir, pgtest.Options{Conf: []string{"no_such_setting = 1"}})
	if restarted.Running() {
		t.Fatal("server with a bad setting runs")
	}
	if !strings.Contains(restarted.Log(), "no_such_setting") {
		t.Fatalf("log doesn't name the bad setting:\n%s", restarted.Log())
	}
}

func TestPgbenchAndChecksums(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{DataChecksums: true})
	if got := c.QueryString(t, "SHOW data_checksums"); got != "on" {
		t.Fatalf("data_checksums = %q, want on", got)
	}
	c.Pgbench(t, "-i", "-s", "1", "-q")
	c.Pgbench(t, "-t", "20", "-c", "2")
	if got := c.QueryString(t, "SELECT count(*) FROM pgbench_history"); got != "40" {
		t.Fatalf("pgbench_history rows = %q, want 40", got)
	}
}

func TestTempDirWritableByPostgres(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	dir := pgtest.TempDir(t, "tmp-")
	c := pgtest.Start(t, pgtest.Options{})
	// COPY TO a file is written by the server process, as the postgres user.
	path := filepath.Join(dir, "out.txt")
	c.Exec(t, fmt.Sprintf("COPY (SELECT 'hello') TO '%s'", path))
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) != "hello" {
		t.Fatalf("read %s: %q, %v", path, b, err)
	}
}

func TestBinDirEnv(t *testing.T) {
	real := pgtest.Require(t)
	t.Run("bogus", func(t *testing.T) {
		t.Setenv("LOGSHIP_PG_BIN", t.TempDir())
		if _, err := pgtest.BinDir(); err == nil || !strings.Contains(err.Error(), "LOGSHIP_PG_BIN") {
			t.Fatalf("BinDir with an empty LOGSHIP_PG_BIN: err = %v", err)
		}
	})
	t.Run("set", func(t *testing.T) {
		t.Setenv("LOGSHIP_PG_BIN", real)
		got, err := pgtest.BinDir()
		if err != nil || got != real {
			t.Fatalf("BinDir = %q, %v; want %q", got, err, real)
		}
	})
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	n := 0
	pgtest.WaitFor(t, 5*time.Second, "three polls", func() bool {
		n++
		return n == 3
	})
}

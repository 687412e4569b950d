package pg_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// TestAgainstPostgreSQL18 checks what logship reads of a PostgreSQL 18
// server's files, from $LOGSHIP_TEST_PG18_BIN (default /tmp/pg18/18/bin);
// skipped when it is missing, unless LOGSHIP_REQUIRE_PG=1.
func TestAgainstPostgreSQL18(t *testing.T) {
	bin := os.Getenv("LOGSHIP_TEST_PG18_BIN")
	if bin == "" {
		bin = "/tmp/pg18/18/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL 18 required (LOGSHIP_REQUIRE_PG=1): %v", err)
		}
		t.Skipf("no PostgreSQL 18 (set LOGSHIP_TEST_PG18_BIN): %v", err)
	}
	t.Setenv("LOGSHIP_PG_BIN", bin)
	c := pgtest.Start(t, pgtest.Options{})

	// initdb enables data checksums by default since 18 (--no-data-checksums
	// turns them off), so every base backup verifies page checksums.
	if v := c.QueryString(t, "SHOW data_checksums"); v != "on" {
		t.Errorf("data_checksums = %s on a default 18 cluster", v)
	}

	c.Exec(t, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS x")
	name := c.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	c.Exec(t, "SELECT pg_switch_wal()")
	seg, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := pg.ParseSegmentHeader(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pg.ParseWALFileName(name, uint64(h.SegmentSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckName(f); err != nil {
		t.Fatal(err)
	}
	if sysID := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()"); strconv.FormatUint(h.SystemID, 10) != sysID || h.Magic != 0xD118 {
		t.Errorf("SystemID %d (server %s), magic %#x (want 0xD118)", h.SystemID, sysID, h.Magic)
	}

	// The pg_controldata lines restore reads after a "shutdown at recovery
	// target" keep their 15 names.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := c.Command(ctx, "pg_controldata", "-D", c.DataDir)
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pg_controldata: %v\n%s", err, out)
	}
	for _, key := range []string{"Minimum recovery ending location:", "Min recovery ending loc's timeline:", "Data page checksum version:           1"} {
		if !strings.Contains(string(out), key) {
			t.Errorf("pg_controldata has no %q:\n%s", key, out)
		}
	}
}

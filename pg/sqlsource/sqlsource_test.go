package sqlsource_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg/sqlsource"
)

func TestAgainstPostgreSQL(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{Conf: []string{"max_prepared_transactions = 2"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, err := sqlsource.Connect(ctx, c.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())

	id, err := src.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()"); strconv.FormatUint(id.SystemID, 10) != want || id.User != "postgres" || id.Version == "" {
		t.Errorf("Identity = %+v, system identifier %s", id, want)
	}

	c.Exec(t, "CREATE TABLE t (x int)")
	c.Exec(t, "BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'g1'")
	n, gids, err := src.PreparedXacts(ctx)
	if err != nil || n != 1 || gids != "'g1'" {
		t.Errorf("PreparedXacts = %d, %q, %v", n, gids, err)
	}
	if err := src.PrepareRestorePoint(ctx); err != nil {
		t.Fatal(err)
	}
	rp, err := src.CreateRestorePoint(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if rp.LSN == 0 || rp.Timeline != 1 || len(rp.WALFile) != 24 || rp.Prepared != 1 || time.Since(rp.Time) > time.Minute {
		t.Errorf("CreateRestorePoint = %+v", rp)
	}
	c.Exec(t, "COMMIT PREPARED 'g1'")
	if n, _, err := src.PreparedXacts(ctx); err != nil || n != 0 {
		t.Errorf("PreparedXacts after commit = %d, %v", n, err)
	}
	// The switch moves the write position to the next segment's start.
	before := c.QueryString(t, "SELECT pg_current_wal_lsn()")
	if err := src.SwitchWAL(ctx); err != nil {
		t.Fatal(err)
	}
	moved := c.QueryString(t, "SELECT pg_current_wal_lsn() - $1::pg_lsn >= 16777216 - ($1::pg_lsn - '0/0'::pg_lsn) % 16777216", before)
	if moved != "t" {
		t.Errorf("the write position did not reach the next segment after the switch (was %s)", before)
	}

	set, err := src.ArchiveSettings(ctx)
	if err != nil || set.WALLevel != "replica" || set.ArchiveMode != "off" {
		t.Errorf("ArchiveSettings = %+v, %v", set, err)
	}
	st, err := src.ArchiverStats(ctx)
	if err != nil || st.Archived != 0 || st.LastArchived != nil || st.LastFailed != nil {
		t.Errorf("ArchiverStats = %+v, %v", st, err)
	}
}

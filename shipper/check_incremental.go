package shipper

import (
	"context"

	"github.com/logship/logship/pg/sqlsource"
)

// summarizeWALNote is what the wal_level check adds about incremental
// backups: on PostgreSQL 17+ whether summarize_wal is on, and the fix when
// it is not. It never fails the check (incremental backups are optional),
// and says nothing before 17, which has no such setting. The note rides on
// an existing check so that the list of checks stays the same.
func summarizeWALNote(ctx context.Context, conn *sqlsource.Source) string {
	var v *string
	if err := conn.Conn.QueryRow(ctx, "SELECT current_setting('summarize_wal', true)").Scan(&v); err != nil || v == nil {
		return ""
	}
	if *v == "on" {
		return "; summarize_wal = on (incremental backups possible)"
	}
	return "; summarize_wal = " + *v + ": logship backup --incremental is refused; to allow it: ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf();"
}

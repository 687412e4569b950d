// Package sqlsource holds every SQL statement logship sends to the source
// PostgreSQL server it ships from: identity, settings and archiver
// statistics for checks, restore points, WAL switches, and prepared
// transactions for group marks. Callers name what they want; the SQL is
// written here once. It imports only pgx, the standard library and pg.
package sqlsource

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/pg"
)

// Source is a connection to the source server.
type Source struct {
	Conn *pgx.Conn
}

// Connect opens a connection to the source.
func Connect(ctx context.Context, connString string) (*Source, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return nil, err
	}
	return &Source{Conn: conn}, nil
}

// Close closes the connection.
func (s *Source) Close(ctx context.Context) error { return s.Conn.Close(ctx) }

// Identity is who the source is and who we are on it.
type Identity struct {
	SystemID uint64 // pg_control_system().system_identifier
	User     string // current_user
	Version  string // server_version, as the server reported it on connecting
}

// Identity reads the source's system identifier and the connection's user.
func (s *Source) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	var sysid string
	err := s.Conn.QueryRow(ctx, "SELECT current_user::text, system_identifier::text FROM pg_control_system()").Scan(&id.User, &sysid)
	if err != nil {
		return id, err
	}
	if id.SystemID, err = strconv.ParseUint(sysid, 10, 64); err != nil {
		return id, fmt.Errorf("system identifier %q: %w", sysid, err)
	}
	id.Version = s.Conn.PgConn().ParameterStatus("server_version")
	return id, nil
}

// RestorePoint is a restore point just created.
type RestorePoint struct {
	LSN      pg.LSN
	WALFile  string        // the segment holding LSN
	Timeline pg.TimelineID // from WALFile
	Time     time.Time
	// Prepared counts the prepared transactions right after the point.
	Prepared int64
}

// restorePointSQL creates the restore point and, in the same statement and
// after it (the subquery refers to lsn, so it runs per row, once the point
// exists), counts the prepared transactions.
const restorePointSQL = `SELECT lsn::text, pg_walfile_name(lsn), clock_timestamp(),
	(SELECT count(*) FROM pg_prepared_xacts WHERE lsn IS NOT NULL)
	FROM pg_create_restore_point($1) AS lsn`

const restorePointStmt = "logship_restore_point"

// PrepareRestorePoint prepares the statement CreateRestorePoint runs, so
// that creating the point later costs one round trip (as a group mark
// needs, to create its points together).
func (s *Source) PrepareRestorePoint(ctx context.Context) error {
	_, err := s.Conn.Prepare(ctx, restorePointStmt, restorePointSQL)
	return err
}

// CreateRestorePoint creates a restore point called name
// (pg_create_restore_point).
func (s *Source) CreateRestorePoint(ctx context.Context, name string) (RestorePoint, error) {
	var rp RestorePoint
	// Idempotent: after PrepareRestorePoint this does not reach the server.
	if err := s.PrepareRestorePoint(ctx); err != nil {
		return rp, err
	}
	var lsnText string
	if err := s.Conn.QueryRow(ctx, restorePointStmt, name).Scan(&lsnText, &rp.WALFile, &rp.Time, &rp.Prepared); err != nil {
		return rp, err
	}
	lsn, err := pg.ParseLSN(lsnText)
	if err != nil {
		return rp, err
	}
	rp.LSN = lsn
	// The file name starts with the timeline in 8 hex digits.
	tli, _ := strconv.ParseUint(rp.WALFile[:min(8, len(rp.WALFile))], 16, 32)
	rp.Timeline = pg.TimelineID(tli)
	return rp, nil
}

// SwitchWAL closes the current WAL segment (pg_switch_wal), so that it is
// archived now rather than when it fills.
func (s *Source) SwitchWAL(ctx context.Context) error {
	_, err := s.Conn.Exec(ctx, "SELECT pg_switch_wal()")
	return err
}

// preparedSQL lists a server's prepared transactions. The view reads the
// server's shared state, not a snapshot, so it is current at each call.
const preparedSQL = "SELECT count(*), coalesce(string_agg(quote_literal(gid), ', ' ORDER BY prepared), '') FROM pg_prepared_xacts"

// PreparedXacts counts the prepared transactions and lists their quoted
// gids, oldest first.
func (s *Source) PreparedXacts(ctx context.Context) (n int64, gids string, err error) {
	err = s.Conn.QueryRow(ctx, preparedSQL).Scan(&n, &gids)
	return n, gids, err
}

// ArchiveSettings are the settings that shipping WAL depends on.
type ArchiveSettings struct {
	WALLevel       string
	ArchiveMode    string
	ArchiveCommand string
	ArchiveLibrary string // "" also before PostgreSQL 15, which lacks it
}

// ArchiveSettings reads wal_level, archive_mode, archive_command and
// archive_library.
func (s *Source) ArchiveSettings(ctx context.Context) (ArchiveSettings, error) {
	var a ArchiveSettings
	err := s.Conn.QueryRow(ctx, `SELECT current_setting('wal_level'), current_setting('archive_mode'),
		current_setting('archive_command'), coalesce(current_setting('archive_library', true), '')`).Scan(
		&a.WALLevel, &a.ArchiveMode, &a.ArchiveCommand, &a.ArchiveLibrary)
	return a, err
}

// ArchiverStats is pg_stat_archiver.
type ArchiverStats struct {
	Archived, Failed int64
	LastArchived     *time.Time // nil before the first
	LastFailed       *time.Time // nil before the first failure
	LastFailedWAL    *string
}

// ArchiverStats reads pg_stat_archiver.
func (s *Source) ArchiverStats(ctx context.Context) (ArchiverStats, error) {
	var a ArchiverStats
	err := s.Conn.QueryRow(ctx, `SELECT archived_count, failed_count, last_archived_time, last_failed_time, last_failed_wal
		FROM pg_stat_archiver`).Scan(&a.Archived, &a.Failed, &a.LastArchived, &a.LastFailed, &a.LastFailedWAL)
	return a, err
}

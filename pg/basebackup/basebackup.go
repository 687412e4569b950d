// Package basebackup takes a base backup of a PostgreSQL 15+ server over the
// streaming replication protocol (the BASE_BACKUP command), streaming the tar
// archives (one for the main data directory, one per tablespace) to the caller
// and returning the backup manifest; on PostgreSQL 17+ it can take an
// incremental backup on top of an earlier one (UPLOAD_MANIFEST, then
// BASE_BACKUP with INCREMENTAL, on the same connection).
//
// The server speaks the PostgreSQL 15 COPY protocol for BASE_BACKUP (unchanged
// up to 18): two result sets (start position, tablespace list), then one
// CopyOutResponse whose CopyData messages start with a type byte: 'n' a new
// archive (name and tablespace path as C strings), 'd' archive or manifest
// data, 'p' progress (int64 bytes done, counted over the whole backup), 'm' the
// manifest follows; then CopyDone and a result set with the end position. The
// server sends the tablespaces' archives first and the main data directory's
// last (basebackup.c appends it to the list).
// github.com/jackc/pglogrepl's StartBaseBackup/NextTableSpace only get as far as the
// CopyOutResponse and leave these messages to the caller, and its tablespace parser
// truncates sizes to int8 and does not expect errors, so this package reads the
// protocol itself with pgconn.
package basebackup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logship/logship/pg"
)

// Options tune a base backup.
type Options struct {
	// Label is recorded in backup_label and the .backup history file.
	Label string
	// FastCheckpoint asks for an immediate checkpoint instead of a spread one, so the
	// backup starts at once at the cost of an I/O burst on the server.
	FastCheckpoint bool
	// MaxRateKBps throttles the server's sending, in kB/s; 0 means unthrottled.
	// PostgreSQL accepts 32 to 1048576.
	MaxRateKBps int
	// IncrementalFrom, if not nil, is the backup_manifest of the backup to build
	// on (exactly as Result.Manifest returned it): the backup is then
	// incremental, holding INCREMENTAL.<name> files for relation files of
	// which only some blocks changed. It needs PostgreSQL 17 or later with
	// summarize_wal = on, a version 2 manifest (17+) of the same cluster, and
	// the WAL summaries from the parent's start on (wal_summary_keep_time).
	IncrementalFrom []byte
}

// Result describes a finished backup. The backup is restorable only once WAL from
// the segment holding StartLSN through the one holding EndLSN is archived: the
// backup is taken with WAIT false, and waiting for the archive is the caller's job.
type Result struct {
	StartLSN, EndLSN pg.LSN
	// Timeline is the timeline the backup started on (START TIMELINE in backup_label).
	Timeline      pg.TimelineID
	SystemID      uint64 // IDENTIFY_SYSTEM
	ServerVersion int    // server_version_num, e.g. 150018
	SegmentSize   uint64 // wal_segment_size in bytes
	Manifest      []byte // backup_manifest exactly as the server sent it
	TarBytes      int64  // bytes of all archives together
	// Archives are the archives received, in the server's order: tablespaces
	// first, the main data directory last.
	Archives []Archive
	// IncrementalFrom is the start LSN of the parent backup (its manifest's
	// first WAL range) for an incremental backup, 0 for a full one. The
	// backup_label says the same as INCREMENTAL FROM LSN.
	IncrementalFrom pg.LSN
}

// Archive is one tar archive of a backup.
type Archive struct {
	// Name is the server's name for it: "base.tar" for the main data
	// directory, "<oid>.tar" for a tablespace.
	Name string
	// TablespaceOID is the tablespace's oid, 0 for the main data directory.
	TablespaceOID uint32
	// Location is the tablespace's directory on the server, "" for the main
	// data directory.
	Location string
	// Bytes is how many bytes of it were received.
	Bytes int64
}

// ManifestPrefix is what to put before a path inside the archive to get the
// path backup_manifest lists it under: "" for the main data directory,
// "pg_tblspc/<oid>/" for a tablespace (whose archive holds
// PG_18_202506291/5/16391, listed as pg_tblspc/16390/PG_18_202506291/5/16391).
func (a Archive) ManifestPrefix() string {
	if a.TablespaceOID == 0 {
		return ""
	}
	return "pg_tblspc/" + strconv.FormatUint(uint64(a.TablespaceOID), 10) + "/"
}

// OpenArchive is called by RunArchives when an archive starts; its tar bytes go
// to the returned writer, which RunArchives closes when the archive ends (also
// when the backup fails: an archive is complete only if RunArchives returns
// nil). The Archive's Bytes is 0 at that point.
type OpenArchive func(Archive) (io.WriteCloser, error)

// ErrParentUnusable marks an incremental backup that cannot be taken on top of
// the given parent, though a full backup could be: the parent's manifest is
// version 1 or of another cluster, or the server refuses it because it lacks
// the WAL summaries from the parent's start on (kept wal_summary_keep_time,
// 10 days by default) or the parent's timelines are not in its history
// (SQLSTATE 55000 during an incremental backup). A caller may take a full
// backup instead.
var ErrParentUnusable = errors.New("parent backup unusable for an incremental backup")

// ErrIncrementalUnsupported marks an incremental backup the server cannot
// take at all: it is older than PostgreSQL 17, or summarize_wal is off.
var ErrIncrementalUnsupported = errors.New("incremental backup not supported by the server")

// maxManifestBytes bounds the manifest held in memory. A manifest line is about 150
// bytes per file, so this allows millions of files.
const maxManifestBytes = 1 << 30

// minServerVersion is the first release with the COPY protocol parsed here and the
// parenthesized BASE_BACKUP options; minIncrementalVersion the first with
// incremental backups (UPLOAD_MANIFEST, INCREMENTAL, manifest version 2).
const (
	minServerVersion      = 150000
	minIncrementalVersion = 170000
)

// RunArchives takes a base backup of the server at connString (a libpq
// connection string or URL; PG* environment variables apply), tablespaces
// included, writing each archive as it arrives, so memory use does not grow
// with the database: open is called for each archive, the tablespaces'
// first and the main data directory's last. The main archive holds
// backup_label and no WAL (pg_wal is empty); the backup_manifest is
// returned in Result. progress, if not nil, is called with the bytes sent
// so far and the server's estimate of the total.
// The backup is taken with TABLESPACE_MAP, so the main archive holds a
// tablespace_map file (one line "<oid> <location>" per tablespace; empty
// without tablespaces) and an empty pg_tblspc directory instead of symbolic
// links to the server's paths: a restore writes the links, or a
// tablespace_map with the new locations, where it put each tablespace.
func RunArchives(ctx context.Context, connString string, opts Options, open OpenArchive, progress func(done, total int64)) (Result, error) {
	var res Result
	if opts.MaxRateKBps != 0 && (opts.MaxRateKBps < 32 || opts.MaxRateKBps > 1048576) {
		return res, fmt.Errorf("base backup: max rate %d kB/s out of range 32..1048576", opts.MaxRateKBps)
	}
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return res, fmt.Errorf("base backup: parse connection string: %w", err)
	}
	// "database" rather than "true": it allows the SQL query that names tablespaces.
	cfg.RuntimeParams["replication"] = "database"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "logship backup"
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("base backup: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()

	if err := prepare(ctx, conn, opts, &res); err != nil {
		return res, fmt.Errorf("base backup: %w", err)
	}
	s := &stream{conn: conn, res: &res, open: open, progress: progress}
	// ReceiveMessage with a cancellable ctx starts a watcher per message; closing the
	// socket once on cancellation is cheaper over hundreds of thousands of messages.
	stop := context.AfterFunc(ctx, func() { conn.Conn().Close() })
	defer stop()
	err = s.run(command(opts))
	if cerr := s.closeArchive(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return res, fmt.Errorf("base backup: %w", parentError(opts, err))
	}
	return res, nil
}

// parentError marks the server's refusal of the parent backup's manifest:
// the errors of PrepareForIncrementalBackup (basebackup_incremental.c) and
// of the manifest upload all have SQLSTATE 55000.
func parentError(opts Options, err error) error {
	var pgErr *pgconn.PgError
	if opts.IncrementalFrom != nil && errors.As(err, &pgErr) && pgErr.Code == "55000" {
		return fmt.Errorf("%w: %w", ErrParentUnusable, err)
	}
	return err
}

// prepare checks the server and, for an incremental backup, uploads the
// parent's manifest. The checks come before BASE_BACKUP so that a refused
// backup does not cost the server a checkpoint.
func prepare(ctx context.Context, conn *pgconn.PgConn, opts Options, res *Result) error {
	if err := identify(ctx, conn, res); err != nil {
		return err
	}
	if res.ServerVersion < minServerVersion {
		return fmt.Errorf("server version %d not supported (need PostgreSQL 15 or later)", res.ServerVersion)
	}
	if opts.IncrementalFrom == nil {
		return nil
	}
	from, err := checkIncremental(ctx, conn, opts.IncrementalFrom, res)
	if err != nil {
		return err
	}
	// The manifest stays with this walsender until it exits or gets another
	// one, which is why BASE_BACKUP must follow on the same connection.
	if _, err := conn.CopyFrom(ctx, bytes.NewReader(opts.IncrementalFrom), "UPLOAD_MANIFEST"); err != nil {
		return fmt.Errorf("upload the parent backup's manifest: %w", parentError(opts, err))
	}
	res.IncrementalFrom = from
	return nil
}

// checkIncremental tells why an incremental backup cannot be taken, with the
// server's facts; the server would refuse it too, but later and less clearly.
// It returns the parent's start LSN.
func checkIncremental(ctx context.Context, conn *pgconn.PgConn, parent []byte, res *Result) (pg.LSN, error) {
	if res.ServerVersion < minIncrementalVersion {
		return 0, fmt.Errorf("%w: incremental backup needs PostgreSQL 17 or later, the server is %d", ErrIncrementalUnsupported, res.ServerVersion)
	}
	row, err := queryRow(ctx, conn, "SHOW summarize_wal")
	if err != nil {
		return 0, err
	}
	if row[0] != "on" {
		return 0, fmt.Errorf("%w: incremental backup needs summarize_wal = on on the server (ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf())", ErrIncrementalUnsupported)
	}
	m, err := pg.ParseManifest(parent)
	if err != nil {
		return 0, fmt.Errorf("parent backup: %w", err)
	}
	switch {
	case m.Version < 2 || !m.HasSystemID:
		return 0, fmt.Errorf("%w: its manifest is version %d; an incremental backup needs a parent taken from PostgreSQL 17 or later (version 2)", ErrParentUnusable, m.Version)
	case m.SystemID != res.SystemID:
		return 0, fmt.Errorf("%w: it is of the cluster with system identifier %d, the server's is %d", ErrParentUnusable, m.SystemID, res.SystemID)
	case len(m.WALRanges) == 0:
		return 0, fmt.Errorf("%w: its manifest lists no WAL range", ErrParentUnusable)
	}
	return m.StartLSN(), nil
}

// command builds the BASE_BACKUP command.
//
// MANIFEST_CHECKSUMS CRC32C (the server's default, spelled out): the manifest is
// there to catch a file damaged or lost between the server and the restored data
// directory, which a CRC detects, and CRC-32C is hardware-accelerated on both ends;
// the stored objects carry SHA-256 already, so a SHA manifest would only add server
// CPU. WAIT false: the server would otherwise wait for archive_command to archive
// the last segment, holding the connection; logship waits on its own store, where
// "archived" is what counts. No WAL option: WAL reaches the store by archiving.
func command(opts Options) string {
	parts := []string{
		"LABEL " + quoteLiteral(opts.Label),
		"PROGRESS",
		"WAIT false",
		"MANIFEST 'yes'",
		"MANIFEST_CHECKSUMS 'CRC32C'",
	}
	if opts.FastCheckpoint {
		parts = append(parts, "CHECKPOINT 'fast'")
	} else {
		parts = append(parts, "CHECKPOINT 'spread'")
	}
	if opts.MaxRateKBps > 0 {
		parts = append(parts, "MAX_RATE "+strconv.Itoa(opts.MaxRateKBps))
	}
	parts = append(parts, "TABLESPACE_MAP")
	if opts.IncrementalFrom != nil {
		parts = append(parts, "INCREMENTAL")
	}
	return "BASE_BACKUP (" + strings.Join(parts, ", ") + ")"
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func identify(ctx context.Context, conn *pgconn.PgConn, res *Result) error {
	row, err := queryRow(ctx, conn, "IDENTIFY_SYSTEM")
	if err != nil {
		return err
	}
	if len(row) < 1 {
		return errors.New("identify system: no system identifier")
	}
	if res.SystemID, err = strconv.ParseUint(row[0], 10, 64); err != nil {
		return fmt.Errorf("identify system: system identifier %q: %w", row[0], err)
	}

	row, err = queryRow(ctx, conn, "SHOW server_version_num")
	if err != nil {
		return err
	}
	if res.ServerVersion, err = strconv.Atoi(row[0]); err != nil {
		return fmt.Errorf("server_version_num %q: %w", row[0], err)
	}

	row, err = queryRow(ctx, conn, "SHOW wal_segment_size")
	if err != nil {
		return err
	}
	if res.SegmentSize, err = parseMemory(row[0]); err != nil {
		return fmt.Errorf("wal_segment_size: %w", err)
	}
	return nil
}

// parseMemory reads a memory setting as SHOW prints it ("16MB", "1GB").
func parseMemory(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseUint(num, 10, 64)
			if err != nil || n == 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("bad size %q", s)
}

// queryRow runs a simple query and returns its first row as text.
func queryRow(ctx context.Context, conn *pgconn.PgConn, sql string) ([]string, error) {
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sql, err)
	}
	if len(results) == 0 || len(results[0].Rows) == 0 || len(results[0].Rows[0]) == 0 {
		return nil, fmt.Errorf("%s: no rows", sql)
	}
	var row []string
	for _, v := range results[0].Rows[0] {
		row = append(row, string(v))
	}
	return row, nil
}

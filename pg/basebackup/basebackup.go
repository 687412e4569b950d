// Package basebackup takes a full base backup of a PostgreSQL 15+ server over the
// streaming replication protocol (the BASE_BACKUP command), streaming the data
// directory's tar archive to the caller and returning the backup manifest.
//
// The server speaks the PostgreSQL 15 COPY protocol for BASE_BACKUP: two result sets
// (start position, tablespace list), then one CopyOutResponse whose CopyData messages
// start with a type byte: 'n' a new archive (name and tablespace path as C strings),
// 'd' archive or manifest data, 'p' progress (int64 bytes done), 'm' the manifest
// follows; then CopyDone and a result set with the end position.
// github.com/jackc/pglogrepl's StartBaseBackup/NextTableSpace only get as far as the
// CopyOutResponse and leave these messages to the caller, and its tablespace parser
// truncates sizes to int8 and does not expect errors, so this package reads the
// protocol itself with pgconn.
package basebackup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

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
	TarBytes      int64  // bytes written to the tar sink
}

// maxManifestBytes bounds the manifest held in memory. A manifest line is about 150
// bytes per file, so this allows millions of files.
const maxManifestBytes = 1 << 30

// minServerVersion is the first release with the COPY protocol parsed here and the
// parenthesized BASE_BACKUP options.
const minServerVersion = 150000

// Run takes a base backup of the server at connString (a libpq connection string or
// URL; PG* environment variables apply) and writes the main data directory's tar
// archive to tarSink as it arrives, so memory use does not grow with the database.
// The archive holds backup_label; it holds no WAL (pg_wal is empty) and no
// backup_manifest, which is returned in Result instead.
//
// A server with tablespaces other than pg_default and pg_global is refused before
// anything is written to tarSink. progress, if not nil, is called from Run's
// goroutine with the bytes sent so far and the server's estimate of the total.
func Run(ctx context.Context, connString string, opts Options, tarSink io.Writer, progress func(done, total int64)) (Result, error) {
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

	if err := identify(ctx, conn, &res); err != nil {
		return res, fmt.Errorf("base backup: %w", err)
	}
	if res.ServerVersion < minServerVersion {
		return res, fmt.Errorf("base backup: server version %d not supported (need PostgreSQL 15 or later)", res.ServerVersion)
	}
	// Checked before BASE_BACKUP so that a refused backup does not cost the server a
	// checkpoint; the list BASE_BACKUP itself sends is checked again below.
	if err := checkTablespaces(ctx, conn); err != nil {
		return res, fmt.Errorf("base backup: %w", err)
	}

	s := &stream{conn: conn, res: &res, sink: tarSink, progress: progress}
	// ReceiveMessage with a cancellable ctx starts a watcher per message; closing the
	// socket once on cancellation is cheaper over hundreds of thousands of messages.
	stop := context.AfterFunc(ctx, func() { conn.Conn().Close() })
	defer stop()
	if err := s.run(command(opts)); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return res, fmt.Errorf("base backup: %w", err)
	}
	return res, nil
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

func checkTablespaces(ctx context.Context, conn *pgconn.PgConn) error {
	results, err := conn.Exec(ctx,
		"SELECT spcname || ' (' || pg_tablespace_location(oid) || ')' FROM pg_tablespace "+
			"WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY spcname").ReadAll()
	if err != nil {
		return fmt.Errorf("list tablespaces: %w", err)
	}
	var names []string
	for _, r := range results {
		for _, row := range r.Rows {
			names = append(names, string(row[0]))
		}
	}
	if len(names) > 0 {
		return tablespaceError(names)
	}
	return nil
}

func tablespaceError(names []string) error {
	return fmt.Errorf("tablespaces other than pg_default are not supported yet: %s", strings.Join(names, ", "))
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

// stream reads one BASE_BACKUP exchange.
type stream struct {
	conn     *pgconn.PgConn
	res      *Result
	sink     io.Writer
	progress func(done, total int64)

	sets       [][][][]byte // completed result sets: rows of column values
	rows       [][][]byte   // rows of the result set being read
	total      int64        // server's size estimate, bytes
	archives   int
	inManifest bool
	manifest   []byte
}

func (s *stream) run(cmd string) error {
	s.conn.Frontend().Send(&pgproto3.Query{String: cmd})
	if err := s.conn.Frontend().Flush(); err != nil {
		return fmt.Errorf("send BASE_BACKUP: %w", err)
	}
	copying, copied := false, false
	for {
		// context.Background: cancellation closes the socket (see Run).
		msg, err := s.conn.ReceiveMessage(context.Background())
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.RowDescription:
			s.rows = nil
		case *pgproto3.DataRow:
			// Values alias the connection's read buffer.
			row := make([][]byte, len(m.Values))
			for i, v := range m.Values {
				if v != nil {
					row[i] = append([]byte{}, v...)
				}
			}
			s.rows = append(s.rows, row)
		case *pgproto3.CommandComplete:
			s.sets = append(s.sets, s.rows)
			s.rows = nil
			if err := s.resultSet(len(s.sets)); err != nil {
				return err
			}
		case *pgproto3.CopyOutResponse:
			if len(s.sets) != 2 {
				return fmt.Errorf("copy started after %d result sets, want 2", len(s.sets))
			}
			copying = true
		case *pgproto3.CopyData:
			if !copying {
				return errors.New("copy data outside copy")
			}
			if err := s.copyData(m.Data); err != nil {
				return err
			}
		case *pgproto3.CopyDone:
			copying, copied = false, true
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(m)
		case *pgproto3.NoticeResponse:
			// Warnings such as a page checksum failure are followed by an ERROR
			// at the end of the backup, which fails it; nothing to do here.
		case *pgproto3.ReadyForQuery:
			if !copied || len(s.sets) < 3 {
				return errors.New("server ended the backup early")
			}
			return s.finish()
		default:
			// ParameterStatus and the like are handled by pgconn.
		}
	}
}

// resultSet interprets the n-th completed result set: 1 start position, 2 tablespace
// list, 3 end position.
func (s *stream) resultSet(n int) error {
	rows := s.sets[n-1]
	switch n {
	case 1, 3:
		if len(rows) != 1 || len(rows[0]) < 2 {
			return fmt.Errorf("backup position: got %d rows", len(rows))
		}
		lsn, err := pg.ParseLSN(string(rows[0][0]))
		if err != nil {
			return fmt.Errorf("backup position: %w", err)
		}
		tli, err := strconv.ParseUint(string(rows[0][1]), 10, 32)
		if err != nil {
			return fmt.Errorf("backup timeline %q: %w", rows[0][1], err)
		}
		if n == 1 {
			s.res.StartLSN, s.res.Timeline = lsn, pg.TimelineID(tli)
		} else {
			s.res.EndLSN = lsn
		}
	case 2:
		// Rows: spcoid, spclocation, size in kB (with PROGRESS); the main data
		// directory is the row with a NULL oid.
		var others []string
		for _, r := range rows {
			if len(r) < 3 {
				return errors.New("tablespace list: short row")
			}
			if r[0] != nil {
				others = append(others, fmt.Sprintf("oid %s (%s)", r[0], r[1]))
			}
			if r[2] != nil {
				kb, err := strconv.ParseInt(string(r[2]), 10, 64)
				if err != nil {
					return fmt.Errorf("tablespace size %q: %w", r[2], err)
				}
				s.total += kb * 1024
			}
		}
		if len(others) > 0 {
			return tablespaceError(others)
		}
	}
	return nil
}

func (s *stream) copyData(data []byte) error {
	if len(data) == 0 {
		return errors.New("empty copy data message")
	}
	body := data[1:]
	switch data[0] {
	case 'n':
		s.archives++
		if s.archives > 1 {
			return fmt.Errorf("server sent a second archive %q; only the main data directory is supported", cString(body))
		}
	case 'd':
		if s.inManifest {
			if len(s.manifest)+len(body) > maxManifestBytes {
				return fmt.Errorf("backup manifest larger than %d bytes", maxManifestBytes)
			}
			s.manifest = append(s.manifest, body...)
			return nil
		}
		if s.archives == 0 {
			return errors.New("archive data before any archive started")
		}
		n, err := s.sink.Write(body)
		s.res.TarBytes += int64(n)
		if err != nil {
			return fmt.Errorf("write tar: %w", err)
		}
	case 'p':
		if len(body) != 8 {
			return fmt.Errorf("progress message of %d bytes", len(body))
		}
		if s.progress != nil {
			s.progress(int64(binary.BigEndian.Uint64(body)), s.total)
		}
	case 'm':
		s.inManifest = true
	default:
		return fmt.Errorf("unknown copy data type %q", data[0])
	}
	return nil
}

func (s *stream) finish() error {
	if s.archives != 1 {
		return fmt.Errorf("server sent %d archives, want 1", s.archives)
	}
	if !s.inManifest || len(s.manifest) == 0 {
		return errors.New("server sent no backup manifest")
	}
	if s.res.EndLSN < s.res.StartLSN {
		return fmt.Errorf("end position %s before start %s", s.res.EndLSN, s.res.StartLSN)
	}
	s.res.Manifest = s.manifest
	if s.progress != nil {
		s.progress(s.res.TarBytes, max(s.total, s.res.TarBytes))
	}
	return nil
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

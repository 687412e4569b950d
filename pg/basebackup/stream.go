package basebackup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/logship/logship/pg"
)

// stream reads one BASE_BACKUP exchange.
type stream struct {
	conn     *pgconn.PgConn
	res      *Result
	open     OpenArchive
	progress func(done, total int64)

	sets       [][][][]byte      // completed result sets: rows of column values
	rows       [][][]byte        // rows of the result set being read
	total      int64             // server's size estimate, bytes
	spcOIDs    map[string]uint32 // tablespace location → oid, from the header
	sink       io.WriteCloser    // the archive being received, nil between archives
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
		s.spcOIDs = map[string]uint32{}
		for _, r := range rows {
			if len(r) < 3 {
				return errors.New("tablespace list: short row")
			}
			if r[0] != nil {
				oid, err := strconv.ParseUint(string(r[0]), 10, 32)
				if err != nil || oid == 0 || len(r[1]) == 0 {
					return fmt.Errorf("tablespace list: oid %q, location %q", r[0], r[1])
				}
				s.spcOIDs[string(r[1])] = uint32(oid)
			}
			if r[2] != nil {
				kb, err := strconv.ParseInt(string(r[2]), 10, 64)
				if err != nil {
					return fmt.Errorf("tablespace size %q: %w", r[2], err)
				}
				s.total += kb * 1024
			}
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
		return s.newArchive(body)
	case 'd':
		if s.inManifest {
			if len(s.manifest)+len(body) > maxManifestBytes {
				return fmt.Errorf("backup manifest larger than %d bytes", maxManifestBytes)
			}
			s.manifest = append(s.manifest, body...)
			return nil
		}
		if s.sink == nil {
			return errors.New("archive data outside an archive")
		}
		n, err := s.sink.Write(body)
		s.res.TarBytes += int64(n)
		s.res.Archives[len(s.res.Archives)-1].Bytes += int64(n)
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
		if err := s.closeArchive(); err != nil {
			return err
		}
		s.inManifest = true
	default:
		return fmt.Errorf("unknown copy data type %q", data[0])
	}
	return nil
}

// newArchive starts the archive that an 'n' message announces: its name and
// location, "" for the main data directory.
func (s *stream) newArchive(body []byte) error {
	if err := s.closeArchive(); err != nil {
		return err
	}
	if s.inManifest {
		return errors.New("archive after the manifest")
	}
	name, rest, ok := strings.Cut(string(body), "\x00")
	location, _, ok2 := strings.Cut(rest, "\x00")
	if !ok || !ok2 || name == "" {
		return fmt.Errorf("bad new-archive message %q", body)
	}
	a := Archive{Name: name, Location: location}
	if location != "" {
		oid, known := s.spcOIDs[location]
		if !known {
			return fmt.Errorf("archive %s of tablespace %s, which the tablespace list did not name", name, location)
		}
		a.TablespaceOID = oid
	}
	for _, prev := range s.res.Archives {
		if prev.TablespaceOID == a.TablespaceOID {
			return fmt.Errorf("archive %s sent twice", name)
		}
	}
	sink, err := s.open(a)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	s.sink = sink
	s.res.Archives = append(s.res.Archives, a)
	return nil
}

// closeArchive closes the archive being received, if any.
func (s *stream) closeArchive() error {
	if s.sink == nil {
		return nil
	}
	err := s.sink.Close()
	s.sink = nil
	if err != nil {
		return fmt.Errorf("close archive %s: %w", s.res.Archives[len(s.res.Archives)-1].Name, err)
	}
	return nil
}

func (s *stream) finish() error {
	if want := len(s.spcOIDs) + 1; len(s.res.Archives) != want {
		return fmt.Errorf("server sent %d archives, want %d", len(s.res.Archives), want)
	}
	// newArchive refused duplicates, so one of them is the main one.
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

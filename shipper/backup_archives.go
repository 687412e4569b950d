package shipper

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg/basebackup"
)

// archiveSet stores the archives of one backup as they arrive, one after
// the other: the tablespaces' (each in parts under backups/<id>/tblspc-<oid>/)
// and the main data directory's, last.
type archiveSet struct {
	ctx  context.Context
	cat  *catalog.Catalog
	id   string
	opts BackupOptions
	main *partWriter
	ts   []tablespaceWriter
}

type tablespaceWriter struct {
	archive basebackup.Archive
	pw      *partWriter
}

// open is basebackup.RunArchives' OpenArchive.
func (s *archiveSet) open(a basebackup.Archive) (io.WriteCloser, error) {
	pw := newPartWriter(s.ctx, s.cat, s.id, s.opts)
	if a.TablespaceOID == 0 {
		if s.main != nil {
			return nil, errors.New("the server sent the main archive twice")
		}
		s.main = pw
	} else {
		pw.dir = fmt.Sprintf("tblspc-%d", a.TablespaceOID)
		s.ts = append(s.ts, tablespaceWriter{archive: a, pw: pw})
	}
	return flushOnClose{pw}, nil
}

// flushOnClose hands an archive's last part to the uploads when the
// archive ends, so that only one archive's buffer is held at a time.
type flushOnClose struct{ *partWriter }

func (f flushOnClose) Close() error {
	if f.failed() == nil {
		f.flush()
	}
	return nil
}

// finish waits for every upload and returns the main archive's parts and
// the tablespaces' records.
func (s *archiveSet) finish(ok bool) ([]catalog.BackupPart, []catalog.BackupTablespace, error) {
	var firstErr error
	var tablespaces []catalog.BackupTablespace
	for _, t := range s.ts {
		parts, err := t.pw.finish(ok)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		ts := catalog.BackupTablespace{OID: t.archive.TablespaceOID, Location: t.archive.Location, Parts: parts}
		for _, p := range parts {
			ts.RawSize += p.RawSize
			ts.StoredSize += p.StoredSize
		}
		tablespaces = append(tablespaces, ts)
	}
	if s.main == nil {
		if firstErr == nil && ok {
			firstErr = errors.New("the server sent no archive of the main data directory")
		}
		return nil, nil, firstErr
	}
	parts, err := s.main.finish(ok)
	if firstErr == nil {
		firstErr = err
	}
	return parts, tablespaces, firstErr
}

// setArchives puts the archives into the record; its sizes count them all.
func setArchives(b *catalog.Backup, parts []catalog.BackupPart, tablespaces []catalog.BackupTablespace) {
	b.Parts, b.Tablespaces = parts, tablespaces
	for _, p := range b.AllParts() {
		b.RawSize += p.RawSize
		b.StoredSize += p.StoredSize
	}
}

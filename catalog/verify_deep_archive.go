package catalog

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/logship/logship/pg"
)

// backupArchive is one archive of a backup: its parts, and the prefix its
// paths have in backup_manifest.
type backupArchive struct {
	parts  []BackupPart
	prefix string
}

func (a backupArchive) what() string {
	if a.prefix == "" {
		return ""
	}
	return " (" + strings.TrimSuffix(a.prefix, "/") + ")"
}

// archives lists the backup's archives: its tablespaces', then the main one.
func (b Backup) archives() []backupArchive {
	var out []backupArchive
	for _, ts := range b.Tablespaces {
		out = append(out, backupArchive{parts: ts.Parts, prefix: "pg_tblspc/" + strconv.FormatUint(uint64(ts.OID), 10) + "/"})
	}
	return append(out, backupArchive{parts: b.Parts})
}

// deepArchive reads one archive of b, checking each file against the
// manifest into diff.
func (v *verifier) deepArchive(ctx context.Context, b Backup, arc backupArchive, man *pg.Manifest, diff *manifestDiff,
	bad func(code, obj, msg, fix string) (bool, error), buf []byte) (bool, error) {
	pr := &partsReader{ctx: ctx, v: v, parts: arc.parts}
	defer pr.close()
	streamErr := func(err error) (bool, error) {
		var pe *partError
		if errors.As(err, &pe) {
			if pe.code == "" {
				return false, pe.err
			}
			return bad(pe.code, pe.key, fmt.Sprintf("backup %s: %s: %v", b.ID, pe.key, pe.err), retake)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return bad(CodeCorrupt, arc.parts[0].Key, fmt.Sprintf("backup %s: its parts%s do not form a valid tar stream: %v", b.ID, arc.what(), err), retake)
	}
	if err := diff.compareTar(tar.NewReader(pr), arc.prefix, man, buf); err != nil {
		return streamErr(err)
	}
	// The tar end marker may come before the end of the last part: read
	// on, so that every part is decoded to its end and so checked.
	if _, err := io.CopyBuffer(io.Discard, pr, buf); err != nil {
		return streamErr(err)
	}
	if pr.next != len(arc.parts) {
		return bad(CodeCorrupt, arc.parts[pr.next-1].Key, fmt.Sprintf("backup %s: its tar stream%s ends before part %d of %d", b.ID, arc.what(), pr.next+1, len(arc.parts)), retake)
	}
	return true, nil
}

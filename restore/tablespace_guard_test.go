package restore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store/file"
)

// segmentCreating is a 16 MiB WAL segment 000000010000000000000003 whose
// first record creates tablespace 16390 at path.
func segmentCreating(t *testing.T, path string) []byte {
	t.Helper()
	const segSize = 16 << 20
	seg := make([]byte, segSize)
	le := binary.LittleEndian
	le.PutUint16(seg[0:], 0xD110)
	le.PutUint16(seg[2:], 0x0002)
	le.PutUint32(seg[4:], 1)
	le.PutUint64(seg[8:], 3*segSize)
	le.PutUint64(seg[24:], 42)
	le.PutUint32(seg[32:], segSize)
	le.PutUint32(seg[36:], 8192)
	main := append(le.AppendUint32(nil, 16390), append([]byte(path), 0)...)
	rec := append(make([]byte, 24), 255, byte(len(main)))
	rec = append(rec, main...)
	le.PutUint32(rec, uint32(len(rec)))
	rec[17] = 5 // RM_TBLSPC_ID, XLOG_TBLSPC_CREATE
	tab := crc32.MakeTable(crc32.Castagnoli)
	le.PutUint32(rec[20:], crc32.Update(crc32.Checksum(rec[24:], tab), tab, rec[:20]))
	copy(seg[40:], rec)
	return seg
}

// F4: a fetched segment that would make the restored server adopt a folder
// holding files outside its data directory is refused, naming the folder;
// an absent or empty folder, one inside the data directory, and this
// server's own tablespace are fine.
func TestF4_GuardRefusesTablespaceInUse(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	os.MkdirAll(filepath.Join(data, "pg_wal", prefetchDir), 0o700)
	os.MkdirAll(filepath.Join(data, "pg_tblspc"), 0o700)
	inUse := filepath.Join(root, "source-ts")
	os.MkdirAll(filepath.Join(inUse, "PG_15_202209061"), 0o700)
	empty := filepath.Join(root, "empty-ts")
	os.Mkdir(empty, 0o700)
	inside := filepath.Join(data, "ts-inside")
	os.MkdirAll(filepath.Join(inside, "PG_15_202209061"), 0o700)
	linked := filepath.Join(root, "linked-ts")
	os.MkdirAll(filepath.Join(linked, "PG_15_202209061"), 0o700)

	tests := []struct {
		name, path, dest string
		refused          bool
	}{
		{"in use", inUse, "pg_wal/RECOVERYXLOG", true},
		{"in use, prefetched", inUse, "pg_wal/" + prefetchDir + "/000000010000000000000003", true},
		{"absent", filepath.Join(root, "absent"), "pg_wal/RECOVERYXLOG", false},
		{"empty", empty, "pg_wal/RECOVERYXLOG", false},
		{"inside the target", inside, "pg_wal/RECOVERYXLOG", false},
		{"in place", "", "pg_wal/RECOVERYXLOG", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := filepath.Join(data, "pg_wal", "seg.tmp")
			if err := os.WriteFile(tmp, segmentCreating(t, tt.path), 0o600); err != nil {
				t.Fatal(err)
			}
			err := guardTablespaces(context.Background(), nil, "000000010000000000000003", tmp, filepath.Join(data, tt.dest))
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTablespaceInUse) || !strings.Contains(err.Error(), tt.path) || errors.Is(err, ErrAbsent) {
				t.Fatalf("got %v, want ErrTablespaceInUse naming %s", err, tt.path)
			}
		})
	}
	t.Run("already this server's tablespace", func(t *testing.T) {
		os.Symlink(linked, filepath.Join(data, "pg_tblspc", "16390"))
		tmp := filepath.Join(data, "pg_wal", "seg.tmp")
		os.WriteFile(tmp, segmentCreating(t, linked), 0o600)
		if err := guardTablespaces(context.Background(), nil, "000000010000000000000003", tmp, filepath.Join(data, "pg_wal/RECOVERYXLOG")); err != nil {
			t.Fatalf("refused: %v", err)
		}
	})
}

// walSegs lays records out from the start of segment 3 (16 MiB segments,
// 8 kB pages) as PostgreSQL does, across pages and segments; at places
// filler records so that the next record starts exactly there.
type walSegs struct {
	buf []byte
	pos int
}

func (w *walSegs) write(rec []byte) {
	const blk, seg = 8192, 16 << 20
	le := binary.LittleEndian
	for done := 0; done < len(rec); {
		if w.pos%blk == 0 {
			if w.pos >= len(w.buf) {
				w.buf = append(w.buf, make([]byte, seg)...)
			}
			b := w.buf[w.pos:]
			le.PutUint16(b, 0xD110)
			var info uint16
			if done > 0 {
				info = 0x0001
				le.PutUint32(b[16:], uint32(len(rec)-done))
			}
			le.PutUint32(b[4:], 1)
			le.PutUint64(b[8:], 3*seg+uint64(w.pos))
			h := 24
			if w.pos%seg == 0 {
				info |= 0x0002
				le.PutUint64(b[24:], 42)
				le.PutUint32(b[32:], seg)
				le.PutUint32(b[36:], blk)
				h = 40
			}
			le.PutUint16(b[2:], info)
			w.pos += h
		}
		n := copy(w.buf[w.pos:w.pos+min(len(rec)-done, blk-w.pos%blk)], rec[done:])
		w.pos, done = w.pos+n, done+n
	}
	w.pos = (w.pos + 7) &^ 7
}

func (w *walSegs) fillTo(at int) {
	for at-w.pos > 200 {
		w.write(walRec(1, make([]byte, min(at-w.pos-150, 4000))))
	}
	w.write(walRec(1, make([]byte, at-w.pos-26)))
}

func walRec(rmid byte, main []byte) []byte {
	le := binary.LittleEndian
	rec := append(make([]byte, 24), 255, byte(len(main)))
	rec = append(rec, main...)
	le.PutUint32(rec, uint32(len(rec)))
	rec[17] = rmid
	tab := crc32.MakeTable(crc32.Castagnoli)
	le.PutUint32(rec[20:], crc32.Update(crc32.Checksum(rec[24:], tab), tab, rec[:20]))
	return rec
}

// A CREATE TABLESPACE that begins at the end of a segment and ends in the
// next is checked with the next segment read from the store; while that one
// is not archived, a standby is told "absent" (it asks again later), and any
// other recovery gets the segment (it cannot replay the record without the
// next one) with a note that the record is checked when the next one is
// fetched, if it ever is.
func TestF4_GuardReadsTheNextSegment(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	os.MkdirAll(filepath.Join(data, "pg_wal"), 0o700)
	inUse := filepath.Join(root, "source-ts")
	os.MkdirAll(filepath.Join(inUse, "PG_15_202209061"), 0o700)
	var w walSegs
	w.fillTo(16<<20 - 16)
	main := append(binary.LittleEndian.AppendUint32(nil, 16390), append([]byte(inUse), 0)...)
	w.write(walRec(5, main))
	w.write(walRec(1, nil))
	tmp := filepath.Join(data, "pg_wal", "seg.tmp")
	os.WriteFile(tmp, w.buf[:16<<20], 0o600)

	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "guard")
	dest := filepath.Join(data, "pg_wal", "RECOVERYXLOG")
	const name = "000000010000000000000003"

	put := func(name string, b []byte) {
		t.Helper()
		obj, err := object.Encode(bytes.NewReader(b), object.KindWAL, name, nil, object.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.PutWAL(ctx, name, obj); err != nil {
			t.Fatal(err)
		}
	}
	put(name, w.buf[:16<<20])

	os.WriteFile(filepath.Join(data, "standby.signal"), nil, 0o600)
	if err := guardTablespaces(ctx, cat, name, tmp, dest); !errors.Is(err, ErrAbsent) {
		t.Fatalf("standby, next segment not archived: got %v, want ErrAbsent", err)
	}
	os.Remove(filepath.Join(data, "standby.signal"))
	if err := guardTablespaces(ctx, cat, name, tmp, dest); err != nil {
		t.Fatalf("next segment not archived: got %v, want the segment handed over (the record cannot be replayed without the next)", err)
	}
	// Archived after all before the server asks for it: the record is
	// checked before the segment that completes it is handed over.
	const nextName = "000000010000000000000004"
	put(nextName, w.buf[16<<20:32<<20])
	nextTmp := filepath.Join(data, "pg_wal", "next.tmp")
	os.WriteFile(nextTmp, w.buf[16<<20:32<<20], 0o600)
	if err := guardTablespaces(ctx, cat, nextName, nextTmp, dest); !errors.Is(err, ErrTablespaceInUse) || !strings.Contains(err.Error(), inUse) {
		t.Fatalf("fetching the next segment: got %v, want ErrTablespaceInUse naming %s", err, inUse)
	}
	if err := guardTablespaces(ctx, cat, name, tmp, dest); !errors.Is(err, ErrTablespaceInUse) || !strings.Contains(err.Error(), inUse) {
		t.Fatalf("got %v, want ErrTablespaceInUse naming %s", err, inUse)
	}
}

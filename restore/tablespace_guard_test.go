package restore

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

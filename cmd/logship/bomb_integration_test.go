package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store/file"
)

// manifestOf is a valid backup_manifest listing files (path: size), with
// CRC32C checksums that need not match: these backups fail before.
func manifestOf(files map[string]int64) []byte {
	var b strings.Builder
	b.WriteString("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n")
	sep := ""
	for p, size := range files {
		fmt.Fprintf(&b, "%s{ \"Path\": %q, \"Size\": %d, \"Last-Modified\": \"2026-11-27 04:00:00 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"00000000\" }\n", sep, p, size)
		sep = ","
	}
	b.WriteString("],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n")
	fmt.Fprintf(&b, "\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(b.String())))
	return []byte(b.String())
}

// craftedBackup records, without PostgreSQL, a backup whose one part (zstd)
// holds tarBytes and whose manifest is manifest, a WAL chain for it
// (records only) and a mark m1; the part's record and object agree, as a
// writer to the store can make them.
func craftedBackup(t *testing.T, tarBytes, manifest []byte) []string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := file.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "crafted")
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 42, SegmentSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	for seg := 1; seg <= 3; seg++ {
		r := catalog.WALRecord{Name: fmt.Sprintf("0000000100000000000000%02X", seg), RawSize: 16 << 20, SHA256: strings.Repeat("0", 64), StoredSize: 1}
		if err := cat.AddWAL(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	put := func(key string, kind object.Kind, name string, body []byte) *object.Encoded {
		obj, err := object.Encode(bytes.NewReader(body), kind, name, nil, object.EncodeOptions{Compression: object.Zstd})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, key, obj.Reader(), obj.Size()); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	b := catalog.Backup{ID: "20261127T040000.000Z", Source: "crafted", SystemID: 42, Timeline: 1,
		StartLSN: 0x2000028, EndLSN: 0x2000100,
		StartWAL: "000000010000000000000002", EndWAL: "000000010000000000000002",
		StartTime: time.Now().Add(-time.Hour), EndTime: time.Now().Add(-time.Hour)}
	// The keys are the catalog's layout (docs/FORMAT.md), spelled out:
	// a test may build keys, logship's own code outside catalog may not.
	prefix := "crafted/backups/" + b.ID + "/"
	part := put(prefix+"part-000001", object.KindBackupPart, "part-000001", tarBytes)
	b.Parts = []catalog.BackupPart{{Key: prefix + "part-000001", RawSize: part.Header.RawSize, SHA256: part.Header.ChecksumHex(), StoredSize: part.Size()}}
	b.RawSize, b.StoredSize = part.Header.RawSize, part.Size()
	man := put(prefix+"backup_manifest", object.KindMeta, "backup_manifest", manifest)
	b.ManifestKey, b.ManifestSHA256 = prefix+"backup_manifest", man.Header.ChecksumHex()
	if err := cat.AddBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddMark(ctx, catalog.Mark{Name: "m1", LSN: 0x3000500, Timeline: 1, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	t.Logf("part: %d bytes stored, %d raw", part.Size(), part.Header.RawSize)
	return []string{"--store", "file://" + dir, "--source", "crafted"}
}

// sparseTarOf is a tar of PG_VERSION and name, a GNU sparse file (PAX
// format 0.1) of realSize bytes that stores five. Go's tar writer will not
// write GNU.sparse records: they are written under a name of the same
// length and renamed in the bytes.
func sparseTarOf(t *testing.T, name string, realSize int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "PG_VERSION", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3})
	tw.Write([]byte("15\n"))
	n := strconv.FormatInt(realSize, 10)
	hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: 5, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"XYZ.sparse.major": "0", "XYZ.sparse.minor": "1", "XYZ.sparse.name": name,
			"XYZ.sparse.numblocks": "1", "XYZ.sparse.size": n, "XYZ.sparse.map": strconv.FormatInt(realSize-5, 10) + ",5"}}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("xxxxx"))
	tw.Close()
	return bytes.ReplaceAll(buf.Bytes(), []byte("XYZ.sparse."), []byte("GNU.sparse."))
}

// bytesUnder is the size of the files under dir.
func bytesUnder(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// F15: a few stored bytes never expand into a full disk. A zstd part whose
// tar holds a 64 MiB file the manifest gives 5 bytes, and a sparse entry of
// a few bytes claiming 256 MiB, are refused before they are written.
func TestF15_RestoreBoundsWhatAPartExpandsTo(t *testing.T) {
	t.Parallel()
	const bomb = 64 << 20
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "PG_VERSION", Typeflag: tar.TypeReg, Size: 3, Mode: 0o600})
	tw.Write([]byte("15\n"))
	tw.WriteHeader(&tar.Header{Name: "base/1/16384", Typeflag: tar.TypeReg, Size: bomb, Mode: 0o600})
	tw.Write(make([]byte, bomb))
	tw.Close()
	zeros := buf.Bytes()

	tests := []struct {
		name string
		tar  []byte
		man  map[string]int64
		says string
	}{
		{"zstd part beyond the manifest", zeros, map[string]int64{"PG_VERSION": 3, "base/1/16384": 5}, "the backup manifest says 5"},
		{"sparse entry", sparseTarOf(t, "base/1/16384", 256<<20), map[string]int64{"PG_VERSION": 3, "base/1/16384": 256 << 20}, "sparse file refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := craftedBackup(t, tt.tar, manifestOf(tt.man))
			dir := filepath.Join(t.TempDir(), "data")
			r := logship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "m1")...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.says) {
				t.Errorf("exit %d, want 1 saying %q:\n%s", r.code, tt.says, r.stderr)
			}
			if n := bytesUnder(dir); n > 1<<20 {
				t.Errorf("the restore wrote %d bytes", n)
			}
		})
	}
}

package restore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
)

// sparseTar is a tar whose one entry, name, is a GNU sparse file (PAX
// format 0.1) of realSize bytes, all holes but its last five bytes. Go's
// tar writer will not write GNU.sparse records, so they are written under
// a name of the same length and renamed in the bytes.
func sparseTar(t testing.TB, name string, realSize int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: 5, Format: tar.FormatPAX,
		PAXRecords: map[string]string{
			"XYZ.sparse.major": "0", "XYZ.sparse.minor": "1", "XYZ.sparse.name": name, "XYZ.sparse.numblocks": "1",
			"XYZ.sparse.size": strconvI(realSize), "XYZ.sparse.map": strconvI(realSize-5) + ",5",
		}}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("xxxxx"))
	tw.Close()
	return bytes.ReplaceAll(buf.Bytes(), []byte("XYZ.sparse."), []byte("GNU.sparse."))
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

// diskUse is the bytes of the files under dir.
func diskUse(t *testing.T, dir string) int64 {
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

// F15: a part cannot expand beyond what the backup's record and manifest
// say: a sparse entry is refused, and a file larger than the manifest says,
// one it does not list, or one beyond the parts' bytes is refused before
// a byte of it is written.
func TestF15_ExtractionBounded(t *testing.T) {
	man, err := pg.ParseManifest(buildManifest(1, []manifestEntry{{path: "PG_VERSION", size: 3}, {path: "base/1/1", size: 5}}))
	if err != nil {
		t.Fatal(err)
	}
	big := tarEntry{name: "base/1/1", typ: tar.TypeReg, body: strings.Repeat("\x00", 4<<20)}
	tests := []struct {
		name   string
		tar    []byte
		limits restore.ExtractLimits
		says   string
	}{
		{"sparse", sparseTar(t, "base/1/1", 2400<<20), restore.ExtractLimits{}, "sparse file refused"},
		{"larger than the manifest says", buildTar(t, big), restore.ExtractLimits{Manifest: man}, "manifest says 5"},
		{"not in the manifest", buildTar(t, tarEntry{name: "base/1/2", typ: tar.TypeReg, body: "12345"}), restore.ExtractLimits{Manifest: man}, "not in the backup manifest"},
		{"ignored, beyond the manifest's total", buildTar(t, tarEntry{name: "pg_wal/x", typ: tar.TypeReg, body: strings.Repeat("\x00", 17<<20)}), restore.ExtractLimits{Manifest: man}, "beyond the 8 bytes the backup manifest lists"},
		{"beyond the parts", buildTar(t, big), restore.ExtractLimits{StreamBytes: 1 << 20}, "beyond the 1048576 bytes of the backup's parts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := restore.ExtractTarLimited(context.Background(), bytes.NewReader(tt.tar), dir, tt.limits)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v, want an error saying %q", err, tt.says)
			}
			if n := diskUse(t, dir); n != 0 {
				t.Errorf("%d bytes written", n)
			}
		})
	}
	t.Run("within the bounds", func(t *testing.T) {
		tr := buildTar(t, tarEntry{name: "PG_VERSION", typ: tar.TypeReg, body: "15\n"}, tarEntry{name: "base/1/1", typ: tar.TypeReg, body: "12345"})
		files, err := restore.ExtractTarLimited(context.Background(), bytes.NewReader(tr), t.TempDir(), restore.ExtractLimits{Manifest: man, StreamBytes: int64(len(tr))})
		if err != nil || len(files) != 2 {
			t.Fatalf("got %v, %v", files, err)
		}
	})
}

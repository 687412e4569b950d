package restore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/logship/logship/restore"
)

type manifestEntry struct {
	path    string
	encoded bool
	size    int64
	algo    string
	crc     uint32
}

// buildManifest writes a manifest the way PostgreSQL 15 lays it out (one file per
// line, checksum line last) so that the checksum rule is exercised as on real ones.
func buildManifest(version int, entries []manifestEntry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{ \"PostgreSQL-Backup-Manifest-Version\": %d,\n\"Files\": [\n", version)
	for i, e := range entries {
		sep := ","
		if i == len(entries)-1 {
			sep = ""
		}
		name := fmt.Sprintf(`"Path": %q`, e.path)
		if e.encoded {
			name = fmt.Sprintf(`"Encoded-Path": %q`, hex.EncodeToString([]byte(e.path)))
		}
		algo := e.algo
		if algo == "" {
			algo = "CRC32C"
		}
		var le [4]byte
		binary.LittleEndian.PutUint32(le[:], e.crc)
		fmt.Fprintf(&b, "{ %s, \"Size\": %d, \"Last-Modified\": \"2025-01-01 00:00:00 GMT\", \"Checksum-Algorithm\": %q, \"Checksum\": \"%x\" }%s\n",
			name, e.size, algo, le, sep)
	}
	b.WriteString("],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n")
	sum := sha256.Sum256([]byte(b.String()))
	fmt.Fprintf(&b, "\"Manifest-Checksum\": \"%x\"}\n", sum)
	return []byte(b.String())
}

func TestVerifyManifest(t *testing.T) {
	base := []manifestEntry{
		{path: "backup_label", size: 225, crc: 0x11223344},
		{path: "PG_VERSION", size: 3, crc: 0xdeadbeef},
		{path: "base/1/1259", size: 8192, crc: 0x01020304},
		{path: "postgresql.auto.conf", size: 88, crc: 7},
	}
	files := func() []restore.ExtractedFile {
		var fs []restore.ExtractedFile
		for _, e := range base {
			fs = append(fs, restore.ExtractedFile{Path: e.path, Size: e.size, CRC32C: e.crc})
		}
		return fs
	}
	tests := []struct {
		name     string
		manifest []byte
		files    []restore.ExtractedFile
		wantErr  string // "" = must pass
	}{
		{name: "match", manifest: buildManifest(1, base), files: files()},
		{name: "ignored extras", manifest: buildManifest(1, base), files: append(files(),
			restore.ExtractedFile{Path: "pg_wal/000000010000000000000002", Size: 16 << 20},
			restore.ExtractedFile{Path: "recovery.signal"},
			restore.ExtractedFile{Path: "standby.signal"},
			restore.ExtractedFile{Path: "backup_manifest", Size: 1000},
		)},
		{name: "ignored missing", manifest: buildManifest(1, base), files: files()[:3]},
		{name: "encoded path", manifest: buildManifest(1, []manifestEntry{{path: "base/\xff", encoded: true, size: 1, crc: 9}}),
			files: []restore.ExtractedFile{{Path: "base/\xff", Size: 1, CRC32C: 9}}},
		{name: "checksum none", manifest: buildManifest(1, []manifestEntry{{path: "a", size: 1, algo: "NONE"}}),
			files: []restore.ExtractedFile{{Path: "a", Size: 1, CRC32C: 42}}},
		{name: "missing file", manifest: buildManifest(1, base), files: files()[1:], wantErr: "backup_label missing"},
		{name: "extra file", manifest: buildManifest(1, base), files: append(files(), restore.ExtractedFile{Path: "base/1/9999"}),
			wantErr: "base/1/9999 not in manifest"},
		{name: "size differs", manifest: buildManifest(1, base), files: func() []restore.ExtractedFile {
			fs := files()
			fs[2].Size++
			return fs
		}(), wantErr: "base/1/1259 has 8193 bytes, manifest says 8192"},
		{name: "crc differs", manifest: buildManifest(1, base), files: func() []restore.ExtractedFile {
			fs := files()
			fs[1].CRC32C ^= 1
			return fs
		}(), wantErr: "PG_VERSION has CRC-32C"},
		{name: "renamed file", manifest: buildManifest(1, base), files: func() []restore.ExtractedFile {
			fs := files()
			fs[2].Path = "base/1/1258"
			return fs
		}(), wantErr: "2 problems"},
		{name: "duplicate extracted", manifest: buildManifest(1, base), files: append(files(), files()[0]), wantErr: "extracted twice"},
		{name: "many problems", manifest: buildManifest(1, base), files: func() []restore.ExtractedFile {
			var fs []restore.ExtractedFile
			for i := range 20 {
				fs = append(fs, restore.ExtractedFile{Path: fmt.Sprintf("x%d", i)})
			}
			return fs
		}(), wantErr: "and 18 more"},
		{name: "version 2 without System-Identifier", manifest: buildManifest(2, base), files: files(), wantErr: "without System-Identifier"},
		{name: "sha256 algorithm", manifest: buildManifest(1, []manifestEntry{{path: "a", size: 1, algo: "SHA256"}}),
			files: []restore.ExtractedFile{{Path: "a", Size: 1}}, wantErr: "not supported"},
		{name: "tampered manifest", manifest: func() []byte {
			m := buildManifest(1, base)
			return []byte(strings.Replace(string(m), `"Size": 8192`, `"Size": 8193`, 1))
		}(), files: files(), wantErr: "does not match its content"},
		{name: "no final newline", manifest: func() []byte {
			m := buildManifest(1, base)
			return m[:len(m)-1]
		}(), files: files(), wantErr: "newline"},
		{name: "not json", manifest: []byte("hello\nworld\n"), wantErr: "backup manifest"},
		{name: "empty", manifest: nil, wantErr: "backup manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := restore.VerifyManifest(tt.manifest, tt.files)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("passed, want error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

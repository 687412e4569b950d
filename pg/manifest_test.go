package pg_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

// manifestText lays out a manifest as PostgreSQL 15 does (one file a line, the
// checksum line last) around the given file lines, with a correct checksum.
func manifestText(version int, files ...string) []byte {
	body := fmt.Sprintf("{ \"PostgreSQL-Backup-Manifest-Version\": %d,\n\"Files\": [\n%s\n],\n", version, strings.Join(files, ",\n")) +
		"\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n"
	return []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
}

func manifestLine(name, algo, sum string, size int) string {
	return fmt.Sprintf(`{ %s, "Size": %d, "Last-Modified": "2026-11-27 05:31:34 GMT", "Checksum-Algorithm": %q, "Checksum": %q }`, name, size, algo, sum)
}

func TestParseManifest(t *testing.T) {
	// What a PostgreSQL 15 x86-64 server wrote for PG_VERSION ("15\n").
	pgVersion := manifestLine(`"Path": "PG_VERSION"`, "CRC32C", "8a744722", 3)
	tests := []struct {
		name     string
		manifest []byte
		want     []pg.ManifestFile // on success
		wantErr  string
	}{
		{name: "files in order", manifest: manifestText(1, pgVersion,
			manifestLine(`"Path": "base/1/1259"`, "crc32c", "01020304", 8192),
			manifestLine(`"Path": "backup_label"`, "NONE", "", 225)),
			want: []pg.ManifestFile{
				{Path: "PG_VERSION", Size: 3, Algorithm: "CRC32C", Checksum: "8a744722"},
				{Path: "base/1/1259", Size: 8192, Algorithm: "CRC32C", Checksum: "01020304"},
				{Path: "backup_label", Size: 225, Algorithm: "NONE"},
			}},
		{name: "encoded path", manifest: manifestText(1,
			manifestLine(fmt.Sprintf(`"Encoded-Path": %q`, hex.EncodeToString([]byte("base/\xff"))), "CRC32C", "09000000", 1)),
			want: []pg.ManifestFile{{Path: "base/\xff", Size: 1, Algorithm: "CRC32C", Checksum: "09000000"}}},
		{name: "path cleaned", manifest: manifestText(1, manifestLine(`"Path": "./base//1"`, "NONE", "", 1)),
			want: []pg.ManifestFile{{Path: "base/1", Size: 1, Algorithm: "NONE"}}},
		{name: "no files", manifest: manifestText(1), want: []pg.ManifestFile{}},
		{name: "bad encoded path", manifest: manifestText(1, manifestLine(`"Encoded-Path": "zz"`, "NONE", "", 1)),
			wantErr: "file 0: bad Encoded-Path"},
		{name: "no size", manifest: manifestText(1, `{ "Path": "a", "Checksum-Algorithm": "NONE" }`), wantErr: "file 0: missing path or size"},
		{name: "no path", manifest: manifestText(1, `{ "Size": 1 }`), wantErr: "file 0: missing path or size"},
		{name: "listed twice", manifest: manifestText(1, pgVersion, manifestLine(`"Path": "./PG_VERSION"`, "NONE", "", 3)),
			wantErr: "PG_VERSION listed twice"},
		{name: "sha256 algorithm", manifest: manifestText(1, manifestLine(`"Path": "a"`, "SHA256", "00", 1)),
			wantErr: "a: checksum algorithm SHA256 not supported (want CRC32C)"},
		{name: "version 2 without system identifier", manifest: manifestText(2, pgVersion), wantErr: "version 2 without System-Identifier"},
		{name: "version 3", manifest: manifestText(3, pgVersion), wantErr: "PostgreSQL-Backup-Manifest-Version is not 1 or 2"},
		{name: "no version", manifest: []byte("{\n\"Files\": []}\n"), wantErr: "Version is not 1"},
		{name: "bad checksum", manifest: []byte(strings.Replace(string(manifestText(1, pgVersion)), `"Size": 3`, `"Size": 4`, 1)),
			wantErr: "does not match its content"},
		{name: "checksum line not last", manifest: append(manifestText(1, pgVersion), '\n'), wantErr: "does not match its content"},
		{name: "no final newline", manifest: func() []byte { m := manifestText(1, pgVersion); return m[:len(m)-1] }(),
			wantErr: "last line not newline-terminated"},
		{name: "one line", manifest: []byte("{}\n"), wantErr: "fewer than 2 lines"},
		{name: "not json", manifest: []byte("hello\nworld\n"), wantErr: "backup manifest: "},
		{name: "empty", manifest: nil, wantErr: "backup manifest: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pg.ParseManifest(tt.manifest)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Files, tt.want) {
				t.Fatalf("files %+v, want %+v", m.Files, tt.want)
			}
			for _, f := range tt.want {
				if got, ok := m.File(f.Path); !ok || got != f {
					t.Fatalf("File(%q) = %+v, %v", f.Path, got, ok)
				}
			}
			if _, ok := m.File("nope"); ok {
				t.Fatal("File found a path the manifest does not list")
			}
		})
	}
}

func TestManifestFileMatchesCRC32C(t *testing.T) {
	// PostgreSQL 15 on x86-64 listed PG_VERSION ("15\n") as "8a744722".
	crc := crc32.Checksum([]byte("15\n"), crc32.MakeTable(crc32.Castagnoli))
	tests := []struct {
		name string
		file pg.ManifestFile
		want bool
	}{
		{name: "little-endian as x86-64 writes it", file: pg.ManifestFile{Algorithm: "CRC32C", Checksum: "8a744722"}, want: true},
		{name: "upper case hex", file: pg.ManifestFile{Algorithm: "CRC32C", Checksum: "8A744722"}, want: true},
		{name: "big-endian server", file: pg.ManifestFile{Algorithm: "CRC32C", Checksum: "2247748a"}, want: true},
		{name: "other value", file: pg.ManifestFile{Algorithm: "CRC32C", Checksum: "8a744723"}},
		{name: "empty checksum", file: pg.ManifestFile{Algorithm: "CRC32C"}},
		{name: "no checksum listed", file: pg.ManifestFile{Algorithm: "NONE"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.file.MatchesCRC32C(crc); got != tt.want {
				t.Fatalf("MatchesCRC32C(%08x) with %q = %v, want %v", crc, tt.file.Checksum, got, tt.want)
			}
		})
	}
	if got := pg.ManifestCRC32CText(crc); got != "8a744722" {
		t.Fatalf("ManifestCRC32CText(%08x) = %q, want 8a744722", crc, got)
	}
}

func TestManifestIgnored(t *testing.T) {
	for p, want := range map[string]bool{
		"backup_manifest": true, "postgresql.auto.conf": true, "recovery.signal": true, "standby.signal": true,
		"pg_wal": true, "pg_wal/000000010000000000000002": true, "pg_wal/archive_status/x.done": true,
		"PG_VERSION": false, "backup_label": false, "pg_walx": false, "base/1/pg_wal": false, "global/pg_control": false,
	} {
		if got := pg.ManifestIgnored(p); got != want {
			t.Errorf("ManifestIgnored(%q) = %v, want %v", p, got, want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(manifestText(1, manifestLine(`"Path": "PG_VERSION"`, "CRC32C", "8a744722", 3)))
	f.Add(manifestText(1, manifestLine(`"Encoded-Path": "6100"`, "NONE", "", 1)))
	f.Add(manifestV2("7714380282696631553", manifestLine(`"Path": "base/5/INCREMENTAL.16384"`, "CRC32C", "dac55f1e", 12)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := pg.ParseManifest(raw)
		if err != nil {
			return
		}
		// Whatever parses lists each file once, findable by its path.
		for _, mf := range m.Files {
			if got, ok := m.File(mf.Path); !ok || got != mf {
				t.Fatalf("File(%q) = %+v, %v; listed as %+v", mf.Path, got, ok, mf)
			}
		}
	})
}

package shipper

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// manifest lays out a backup_manifest as PostgreSQL writes it: head, one
// file, WAL range, and its own checksum.
func manifest(head, algo string) []byte {
	body := head + "\n\"Files\": [\n" +
		fmt.Sprintf(`{ "Path": "PG_VERSION", "Size": 3, "Last-Modified": "2026-11-27 05:31:34 GMT", "Checksum-Algorithm": %q, "Checksum": "8a744722" }`, algo) +
		"\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n"
	return []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
}

// What restore could not use is refused at backup time, before anything
// is recorded.
func TestCheckManifest(t *testing.T) {
	const sys = 7446813406563741205
	v1 := `{ "PostgreSQL-Backup-Manifest-Version": 1,`
	v2 := fmt.Sprintf("{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": %d,", uint64(sys))
	tests := []struct {
		name string
		raw  []byte
		says string // "" = usable
	}{
		{"version 1 (up to 16)", manifest(v1, "CRC32C"), ""},
		{"version 2 (17 and 18)", manifest(v2, "CRC32C"), ""},
		{"no checksums", manifest(v2, "NONE"), ""},
		{"unknown version", manifest(`{ "PostgreSQL-Backup-Manifest-Version": 3,`, "CRC32C"), "not 1 or 2"},
		{"other cluster", manifest("{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": 12345,", "CRC32C"), "system identifier 12345"},
		{"version 2 without its cluster", manifest(v1[:len(v1)-2]+`2,`, "CRC32C"), "without System-Identifier"},
		{"checksum restore cannot check", manifest(v2, "SHA256"), "SHA256 not supported"},
		{"damaged", []byte(strings.Replace(string(manifest(v2, "CRC32C")), "PG_VERSION", "PG_VERSIO_", 1)), "does not match its content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkManifest(tt.raw, sys)
			if tt.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrManifestUnusable) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v, want ErrManifestUnusable saying %q", err, tt.says)
			}
		})
	}
}

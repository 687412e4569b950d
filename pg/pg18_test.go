package pg_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

// readTestdata returns a file of testdata, gunzipped if its name ends in .gz.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestV2 lays out a version 2 manifest as PostgreSQL 17 and 18 do, with
// the system identifier written exactly as given.
func manifestV2(sysID string, files ...string) []byte {
	body := fmt.Sprintf("{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": %s,\n\"Files\": [\n%s\n],\n", sysID, strings.Join(files, ",\n")) +
		"\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/C00028\", \"End-LSN\": \"0/C00120\" }\n],\n"
	return []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
}

func TestParseManifestPostgreSQL18(t *testing.T) {
	// pg_basebackup --incremental of an 18.6 cluster made with initdb
	// --wal-segsize=1 (data checksums on, the default since 18), after a
	// full backup at 0/900028.
	m, err := pg.ParseManifest(readTestdata(t, "pg18-incremental.backup_manifest.gz"))
	if err != nil {
		t.Fatal(err)
	}
	// The identifier is above 2^53: a float64 would have made it
	// 7714380282696631552.
	if m.Version != 2 || !m.HasSystemID || m.SystemID != 7714380282696631553 {
		t.Errorf("version %d, system id %d (present %v); want 2, 7714380282696631553", m.Version, m.SystemID, m.HasSystemID)
	}
	want := []pg.ManifestWALRange{{Timeline: 1, Start: 0xC00028, End: 0xC00120}}
	if fmt.Sprint(m.WALRanges) != fmt.Sprint(want) || m.StartLSN() != 0xC00028 {
		t.Errorf("WAL ranges %v, start %s; want %v", m.WALRanges, m.StartLSN(), want)
	}
	// Incremental files are listed under their own names, with their own
	// size: 12 bytes is a header of no block with truncation length 1 block.
	f, ok := m.File("global/INCREMENTAL.1261")
	if !ok || f.Size != 12 || f.Algorithm != "CRC32C" {
		t.Errorf("global/INCREMENTAL.1261: %+v, %v", f, ok)
	}
	if f, ok := m.File("PG_VERSION"); !ok || f.Size != 3 || !f.MatchesCRC32C(0xe27b4e99) {
		t.Errorf("PG_VERSION: %+v, %v", f, ok)
	}
	if len(m.Files) < 900 {
		t.Errorf("%d files", len(m.Files))
	}
}

func TestParseManifestPostgreSQL15(t *testing.T) {
	m, err := pg.ParseManifest(readTestdata(t, "pg15-full.backup_manifest.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.HasSystemID || m.SystemID != 0 || len(m.WALRanges) != 1 || m.WALRanges[0].Timeline != 1 {
		t.Errorf("version %d, system id %d (present %v), WAL ranges %v", m.Version, m.SystemID, m.HasSystemID, m.WALRanges)
	}
	if f, ok := m.File("PG_VERSION"); !ok || f.Size != 3 || f.Checksum != "8a744722" {
		t.Errorf("PG_VERSION: %+v, %v", f, ok)
	}
}

func TestParseManifestSystemIdentifier(t *testing.T) {
	line := manifestLine(`"Path": "PG_VERSION"`, "CRC32C", "994e7be2", 3)
	for _, tt := range []struct {
		text    string
		want    uint64
		wantErr string
	}{
		// 2^53+1 and the largest uint64 both round when read as float64.
		{text: "9007199254740993", want: 9007199254740993},
		{text: "18446744073709551615", want: 18446744073709551615},
		{text: "7714380282696631553", want: 7714380282696631553},
		{text: "18446744073709551616", wantErr: "not a 64-bit unsigned integer"},
		{text: "-1", wantErr: "not a 64-bit unsigned integer"},
		{text: "1.5", wantErr: "not a 64-bit unsigned integer"},
		{text: "1e3", wantErr: "not a 64-bit unsigned integer"},
		{text: "true", wantErr: "backup manifest: "},
	} {
		m, err := pg.ParseManifest(manifestV2(tt.text, line))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one with %q", tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.text, err)
			continue
		}
		if !m.HasSystemID || m.SystemID != tt.want {
			t.Errorf("%s: system id %d (present %v)", tt.text, m.SystemID, m.HasSystemID)
		}
	}

	// Version 1 has no System-Identifier; parse_manifest.c refuses one.
	body := "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"System-Identifier\": 1,\n\"Files\": [],\n"
	raw := []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
	if _, err := pg.ParseManifest(raw); err == nil || !strings.Contains(err.Error(), "version 1 with a System-Identifier") {
		t.Errorf("version 1 with an identifier: %v", err)
	}
}

func TestParseManifestWALRanges(t *testing.T) {
	mk := func(ranges string) []byte {
		body := "{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": 1,\n\"Files\": [],\n\"WAL-Ranges\": [\n" + ranges + "\n],\n"
		return []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
	}
	m, err := pg.ParseManifest(mk(`{ "Timeline": 2, "Start-LSN": "0/3000028", "End-LSN": "0/3000100" },` + "\n" +
		`{ "Timeline": 3, "Start-LSN": "0/3000100", "End-LSN": "1/0" }`))
	if err != nil {
		t.Fatal(err)
	}
	want := []pg.ManifestWALRange{{Timeline: 2, Start: 0x3000028, End: 0x3000100}, {Timeline: 3, Start: 0x3000100, End: 1 << 32}}
	if fmt.Sprint(m.WALRanges) != fmt.Sprint(want) || m.StartLSN() != 0x3000028 {
		t.Errorf("WAL ranges %v, want %v", m.WALRanges, want)
	}
	for ranges, wantErr := range map[string]string{
		`{ "Start-LSN": "0/1", "End-LSN": "0/2" }`:                "missing or zero timeline",
		`{ "Timeline": 1, "Start-LSN": "x", "End-LSN": "0/2" }`:   "Start-LSN",
		`{ "Timeline": 1, "Start-LSN": "0/1", "End-LSN": "" }`:    "End-LSN",
		`{ "Timeline": 1, "Start-LSN": "0/3", "End-LSN": "0/2" }`: "before its start",
	} {
		if _, err := pg.ParseManifest(mk(ranges)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want one with %q", ranges, err, wantErr)
		}
	}
}

func TestSegmentHeaderPostgreSQL18(t *testing.T) {
	// The first 512 bytes of a WAL segment of the 18.6 cluster above.
	const name = "00000001000000000000000D"
	b := readTestdata(t, "pg18-"+name+".head")
	h, err := pg.ParseSegmentHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	// 0xD118 is XLOG_PAGE_MAGIC of 18 (15: 0xD110, 16: 0xD113, 17: 0xD116);
	// the layout of the long page header is the same in all four.
	if h.Magic != 0xD118 || h.Timeline != 1 || h.SystemID != 7714380282696631553 || h.SegmentSize != 1<<20 || h.BlockSize != 8192 {
		t.Errorf("header %+v", h)
	}
	f, err := pg.ParseWALFileName(name, uint64(h.SegmentSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckName(f); err != nil {
		t.Fatal(err)
	}
}

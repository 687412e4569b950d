package pg_test

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/logship/logship/pg"
)

// The samples under testdata/pg/ were written by real servers (see
// testdata/pg/make.sh): what PostgreSQL writes, not what we think it writes.

func readSample(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata", "pg"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A backup_manifest (version 1) that pg_basebackup of PostgreSQL 15 wrote
// for a fresh cluster parses, its own checksum included, and its CRC-32C
// file checksums are read the way the server wrote them.
func TestSampleManifestPG15(t *testing.T) {
	raw := readSample(t, "15", "backup_manifest")
	m, err := pg.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 964 {
		t.Errorf("%d files, want 964", len(m.Files))
	}
	v, ok := m.File("PG_VERSION")
	if !ok || v.Size != 3 || v.Algorithm != "CRC32C" || v.Checksum != "8a744722" {
		t.Errorf("PG_VERSION: %+v, %v", v, ok)
	}
	if !v.MatchesCRC32C(crc32.Checksum([]byte("15\n"), crc32.MakeTable(crc32.Castagnoli))) {
		t.Error(`PG_VERSION: "15\n" does not match its manifest checksum`)
	}
	if c, ok := m.File("global/pg_control"); !ok || c.Size != 8192 {
		t.Errorf("global/pg_control: %+v, %v", c, ok)
	}
	if _, ok := m.File("base/5/PG_VERSION"); !ok {
		t.Error("base/5/PG_VERSION is not listed")
	}

	// One changed byte in a file's size breaks the manifest's own checksum.
	bad := bytes.Replace(raw, []byte(`"Path": "PG_VERSION", "Size": 3,`), []byte(`"Path": "PG_VERSION", "Size": 4,`), 1)
	if bytes.Equal(bad, raw) {
		t.Fatal("sample changed: PG_VERSION line not found")
	}
	if _, err := pg.ParseManifest(bad); err == nil {
		t.Error("a manifest with a changed size parsed")
	}
}

// Timeline history files as PostgreSQL 15 and 18 write them at the end of a
// recovery without a target: one line per switch, a blank line between.
func TestSampleHistory(t *testing.T) {
	const reason = "no recovery target specified"
	for _, tc := range []struct {
		version, file string
		want          []pg.HistoryEntry
	}{
		{"15", "00000002.history", []pg.HistoryEntry{{Timeline: 1, SwitchPoint: 0x8000A0, Reason: reason}}},
		{"15", "00000003.history", []pg.HistoryEntry{
			{Timeline: 1, SwitchPoint: 0x8000A0, Reason: reason}, {Timeline: 2, SwitchPoint: 0x800190, Reason: reason}}},
		{"18", "00000002.history", []pg.HistoryEntry{{Timeline: 1, SwitchPoint: 0x9000A0, Reason: reason}}},
		{"18", "00000003.history", []pg.HistoryEntry{
			{Timeline: 1, SwitchPoint: 0x9000A0, Reason: reason}, {Timeline: 2, SwitchPoint: 0x900190, Reason: reason}}},
	} {
		t.Run(tc.version+"/"+tc.file, func(t *testing.T) {
			got, err := pg.ParseHistory(bytes.NewReader(readSample(t, tc.version, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			f, err := pg.ParseWALFileName(tc.file, 1<<20)
			if err != nil || f.Kind != pg.History {
				t.Errorf("name %s: %+v, %v", tc.file, f, err)
			}
		})
	}
}

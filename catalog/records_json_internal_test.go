package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/logship/logship/pg"
)

// The golden files were written by the version before records held typed
// LSNs and timelines: a store it wrote must read back the same, and what
// is written now must be byte for byte what it wrote.
var (
	goldenTime   = time.Date(2026, 11, 27, 4, 33, 0, 123000000, time.UTC)
	goldenBackup = Backup{ID: "20261127T043300.123Z", Label: "logship 20261127T043300.123Z", Source: "main", SystemID: 7441234567890123456,
		ServerVersion: 150010, Timeline: 2, StartLSN: 0x16B374D848, EndLSN: 0x16B5000100,
		StartWAL: "0000000200000016000000B3", EndWAL: "0000000200000016000000B5", StartTime: goldenTime, EndTime: goldenTime.Add(90 * time.Second),
		RawSize: 123456789, StoredSize: 23456789, Compression: "zstd",
		Parts:       []BackupPart{{Key: "main/backups/20261127T043300.123Z/part-000000", RawSize: 123456789, SHA256: "ab", StoredSize: 23456789}},
		ManifestKey: "main/backups/20261127T043300.123Z/backup_manifest", ManifestSHA256: "cd"}
	goldenMark = Mark{Name: "before_upgrade", LSN: 0x3000090, Timeline: 3, Time: goldenTime, Source: "main"}
)

func TestRecordJSONGolden(t *testing.T) {
	checkGolden(t, "testdata/backup-v0.json", goldenBackup, true, func(b []byte) (any, error) {
		var v Backup
		err := json.Unmarshal(b, &v)
		return v, err
	})
	checkGolden(t, "testdata/markdoc-v0.json", markDoc{Mark: goldenMark, LSNValue: uint64(goldenMark.LSN)}, false, func(b []byte) (any, error) {
		var v markDoc
		err := json.Unmarshal(b, &v)
		return v, err
	})
}

// checkGolden encodes v as putJSON and putDoc do and compares it with the
// file (which ends in a newline when nl, as putJSON writes), then decodes
// the file and compares with v.
func checkGolden(t *testing.T, file string, v any, nl bool, decode func([]byte) (any, error)) {
	t.Helper()
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if nl {
		got = append(got, '\n')
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: encoded\n%s\nwant\n%s", file, got, want)
	}
	back, err := decode(want)
	if err != nil {
		t.Fatalf("%s: decode: %v", file, err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("%s: decoded %+v, want %+v", file, back, v)
	}
}

// A backup record without the numbers (never written by logship, but a
// hand-made one is valid JSON) is read from the text.
func TestBackupJSONTextOnly(t *testing.T) {
	var b Backup
	if err := json.Unmarshal([]byte(`{"start_lsn":"0/2000028","end_lsn":"0/2000100","timeline":1}`), &b); err != nil {
		t.Fatal(err)
	}
	if b.StartLSN != 0x2000028 || b.EndLSN != 0x2000100 || b.Timeline != pg.TimelineID(1) {
		t.Fatalf("decoded %+v", b)
	}
}

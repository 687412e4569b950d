package pg_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// A backup history file as PostgreSQL 15 writes it (do_pg_backup_stop).
const pg15BackupHistory = `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-27 04:33:00 UTC
LABEL: logship 20261127T043300.000Z
START TIMELINE: 1
STOP TIME: 2026-11-27 04:33:01 UTC
STOP TIMELINE: 1
`

const pg15BackupHistoryName = "000000010000000000000002.00000028.backup"

func TestParseBackupHistory(t *testing.T) {
	t.Parallel()
	f, err := pg.ParseBackupHistory([]byte(pg15BackupHistory))
	if err != nil {
		t.Fatal(err)
	}
	if f.StartLSN != 0x2000028 || f.StopLSN != 0x2000100 || f.Checkpoint != 0x2000060 || f.StartTimeline != 1 || f.StopTimeline != 1 ||
		f.Label != "logship 20261127T043300.000Z" || f.From != "primary" || f.Method != "streamed" {
		t.Fatalf("parsed %+v", f)
	}
	if err := f.CheckName(pg15BackupHistoryName); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL 17 adds the start of the backup an incremental one builds
	// on; 18 pads the low half of LSNs.
	pg18 := strings.Replace(pg15BackupHistory, "0/2000028", "0/02000028", 1) + "INCREMENTAL FROM LSN: 0/00900028\nINCREMENTAL FROM TLI: 1\n"
	if f, err := pg.ParseBackupHistory([]byte(pg18)); err != nil || f.FromLSN != 0x900028 || f.FromTimeline != 1 {
		t.Fatalf("PostgreSQL 18 form: %+v, %v", f, err)
	}
	// A label is written as given, newlines included.
	multi := strings.Replace(pg15BackupHistory, "LABEL: logship 20261127T043300.000Z", "LABEL: two\nlines: of label", 1)
	if f, err := pg.ParseBackupHistory([]byte(multi)); err != nil || f.Label != "two\nlines: of label" {
		t.Fatalf("label with a newline: %+v, %v", f, err)
	}
}

// F11: wal-push stored garbage .backup files for good. Each of these is
// refused, naming what is wrong.
func TestF11_BackupHistoryGarbageRefused(t *testing.T) {
	t.Parallel()
	drop := func(line string) string {
		var out []string
		for _, l := range strings.SplitAfter(pg15BackupHistory, "\n") {
			if !strings.HasPrefix(l, line) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "")
	}
	sub := func(old, new string) string { return strings.Replace(pg15BackupHistory, old, new, 1) }
	tests := []struct{ name, content, want string }{
		{"empty", "", "want KEY: value"},
		{"binary", "\x00\x01\x02garbage", "not text"},
		{"prose", "hello world\n", "want KEY: value"},
		{"no start", drop("START WAL LOCATION"), "no START WAL LOCATION"},
		{"no stop", drop("STOP WAL LOCATION"), "no STOP WAL LOCATION"},
		{"no stop timeline", drop("STOP TIMELINE"), "no STOP TIMELINE"},
		{"no label", drop("LABEL"), "no LABEL"},
		{"bad lsn", sub("0/2000100", "0/zz"), "STOP WAL LOCATION"},
		{"no file", sub(" (file 000000010000000000000002)\nSTOP", "\nSTOP"), "(file"},
		{"stop before start", sub("0/2000100", "0/1000000"), "before its start"},
		{"bad time", sub("2026-11-27 04:33:01 UTC", "yesterday"), "want a time"},
		{"timeline 0", sub("START TIMELINE: 1", "START TIMELINE: 0"), "timeline ID"},
		{"twice", pg15BackupHistory + "LABEL: again\n", "twice"},
		{"half incremental", pg15BackupHistory + "INCREMENTAL FROM LSN: 0/900028\n", "go together"},
		{"from", sub("BACKUP FROM: primary", "BACKUP FROM: mars"), "primary or standby"},
		{"huge", strings.Repeat("LABEL: x\n", 10000), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pg.ParseBackupHistory([]byte(tt.content))
			if !errors.Is(err, pg.ErrInvalidBackupHistory) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidBackupHistory saying %q", err, tt.want)
			}
		})
	}
	f, err := pg.ParseBackupHistory([]byte(pg15BackupHistory))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"000000020000000000000002.00000028.backup", // another timeline
		"000000010000000000000003.00000028.backup", // another segment
		"000000010000000000000002.00000030.backup", // another offset
	} {
		if err := f.CheckName(name); !errors.Is(err, pg.ErrInvalidBackupHistory) {
			t.Errorf("CheckName(%s) = %v, want ErrInvalidBackupHistory", name, err)
		}
	}
}

// F11: garbage timeline history files are refused; the real ones of
// PostgreSQL 15 (testdata/pg/15) pass.
func TestF11_HistoryGarbageRefused(t *testing.T) {
	t.Parallel()
	for _, tli := range []pg.TimelineID{2, 3} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "pg", "15", pg.HistoryFileName(tli)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pg.CheckHistoryFile(tli, b); err != nil {
			t.Errorf("real %s: %v", pg.HistoryFileName(tli), err)
		}
	}
	tests := []struct {
		name    string
		tli     pg.TimelineID
		content string
	}{
		{"empty", 2, ""},
		{"comments only", 2, "# nothing\n"},
		{"prose", 2, "hello world\n"},
		{"binary", 2, "1\t0/8000A0\x00\x01\n"},
		{"parent not below", 2, "1\t0/8000A0\tx\n2\t0/900000\ty\n"},
		{"timelines go back", 3, "2\t0/8000A0\tx\n1\t0/900000\ty\n"},
		{"timeline 1", 1, "1\t0/8000A0\tx\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pg.CheckHistoryFile(tt.tli, []byte(tt.content)); !errors.Is(err, pg.ErrInvalidHistory) {
				t.Fatalf("err = %v, want ErrInvalidHistory", err)
			}
		})
	}
}

// F11: the backup history file a real PostgreSQL writes passes, name
// included.
func TestF11_BackupHistoryOfPostgreSQL(t *testing.T) {
	t.Parallel()
	// Without archiving, PostgreSQL removes the file as soon as it wrote it.
	archive := pgtest.TempDir(t, "archive-")
	c := pgtest.Start(t, pgtest.Options{Conf: []string{
		"archive_mode = on",
		fmt.Sprintf("archive_command = 'test ! -f %[1]s/%%f && cp %%p %[1]s/%%f'", archive),
	}})
	conn := c.Conn(t)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, "SELECT pg_backup_start('logship F11 test', true)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT * FROM pg_backup_stop(true)"); err != nil {
		t.Fatal(err)
	}
	var names []string
	c.WaitFor(t, 30*time.Second, "a .backup file in the archive", func() bool {
		names, _ = filepath.Glob(filepath.Join(archive, "*.backup"))
		return len(names) == 1
	})
	b, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := pg.ParseBackupHistory(b)
	if err != nil {
		t.Fatalf("%s:\n%s\n%v", names[0], b, err)
	}
	if err := f.CheckName(filepath.Base(names[0])); err != nil {
		t.Fatal(err)
	}
	if f.Label != "logship F11 test" || f.From != "primary" {
		t.Errorf("parsed %+v from\n%s", f, b)
	}
}

package pg_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// TestAgainstPostgreSQL checks the package's knowledge against what a real
// server says about the same things.
func TestAgainstPostgreSQL(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})
	const segSize = pg.DefaultSegmentSize

	t.Run("segment header", func(t *testing.T) {
		c.Exec(t, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS x")
		name := c.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
		c.Exec(t, "SELECT pg_switch_wal()")
		// Copy it out first: a checkpoint may recycle it under our feet.
		seg, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(seg) != segSize {
			t.Fatalf("%s is %d bytes, want %d", name, len(seg), segSize)
		}
		f, err := pg.ParseWALFileName(name, segSize)
		if err != nil {
			t.Fatal(err)
		}
		h, err := pg.ParseSegmentHeader(seg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.CheckName(f); err != nil {
			t.Fatal(err)
		}
		sysID := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()")
		if strconv.FormatUint(h.SystemID, 10) != sysID {
			t.Errorf("SystemID = %d, server says %s", h.SystemID, sysID)
		}
		if h.SegmentSize != segSize || h.Timeline != 1 {
			t.Errorf("SegmentSize = %d, Timeline = %d; want %d, 1", h.SegmentSize, h.Timeline, segSize)
		}
		if bs := c.QueryString(t, "SHOW wal_block_size"); strconv.Itoa(int(h.BlockSize)) != bs {
			t.Errorf("BlockSize = %d, server says %s", h.BlockSize, bs)
		}
		if v := c.QueryString(t, "SHOW server_version_num"); strings.HasPrefix(v, "15") && h.Magic != 0xD110 {
			t.Errorf("Magic = %#x, want 0xD110 for PostgreSQL 15", h.Magic)
		}
	})

	t.Run("LSN text", func(t *testing.T) {
		for _, in := range []string{"0/0", "0/3012998", "0/03012998", "16/B374D848", "16/b374d848", "FFFFFFFF/FFFFFFFF", "1/0"} {
			l, err := pg.ParseLSN(in)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.QueryString(t, "SELECT $1::pg_lsn::text", in); l.String() != want {
				t.Errorf("%s prints as %s, PostgreSQL prints %s", in, l, want)
			}
		}
	})

	t.Run("segment names", func(t *testing.T) {
		for _, in := range []string{"0/1", "0/3012998", "16/B374D848", "1/FFFFFFFF", "FFFFFFFF/FFFFFFFE", "0/1000000", "16/0"} {
			l, _ := pg.ParseLSN(in)
			seg := pg.SegmentOf(l, segSize)
			if uint64(l)%segSize == 0 {
				// At a boundary the server names the segment before, where
				// the record that ends there was written.
				seg = pg.SegmentOf(l-1, segSize)
			}
			got := c.QueryString(t, "SELECT file_name || ' ' || file_offset FROM pg_walfile_name_offset($1::pg_lsn)", in)
			if want := fmt.Sprintf("%s %d", pg.SegmentName(1, seg, segSize), uint64(l)%segSize); got != want {
				t.Errorf("%s: pg_walfile_name_offset = %q, SegmentName/SegmentOf give %q", in, got, want)
			}
		}
	})
}

// TestArchivedNames promotes a standby and checks every name PostgreSQL
// archives, the history file it writes, and the first segment of the new
// timeline.
func TestArchivedNames(t *testing.T) {
	t.Parallel()
	const segSize = pg.DefaultSegmentSize
	archive := pgtest.TempDir(t, "archive-")
	archiving := []string{
		"archive_mode = on",
		fmt.Sprintf("archive_command = 'test ! -f %[1]s/%%f && cp %%p %[1]s/%%f'", archive),
	}
	primary := pgtest.Start(t, pgtest.Options{Conf: archiving})
	primary.Exec(t, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")

	data := filepath.Join(pgtest.TempDir(t, "standby-"), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := primary.Command(ctx, "pg_basebackup", "-D", data, "-X", "stream", "-c", "fast", "-R").CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	standby := pgtest.StartExisting(t, data, pgtest.Options{})
	primary.Exec(t, "INSERT INTO t VALUES (2)")
	standby.WaitFor(t, 30*time.Second, "row 2 on the standby", func() bool {
		return standby.QueryString(t, "SELECT count(*) FROM t") == "2"
	})
	if got := standby.QueryString(t, "SELECT pg_promote()"); got != "t" {
		t.Fatalf("pg_promote() = %s", got)
	}
	// The new timeline's first segment, read before anything can recycle it.
	newSeg := standby.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
	head := make([]byte, pg.SegmentHeaderSize)
	if f, err := os.Open(filepath.Join(data, "pg_wal", newSeg)); err != nil {
		t.Fatal(err)
	} else {
		_, err = f.ReadAt(head, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	standby.WaitFor(t, 30*time.Second, "00000002.history, a .partial and a .backup in the archive", func() bool {
		m1, _ := filepath.Glob(filepath.Join(archive, "00000002.history"))
		m2, _ := filepath.Glob(filepath.Join(archive, "*.partial"))
		m3, _ := filepath.Glob(filepath.Join(archive, "*.backup"))
		return len(m1) == 1 && len(m2) == 1 && len(m3) == 1
	})
	hist, err := os.ReadFile(filepath.Join(archive, "00000002.history"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := pg.ParseHistory(bytes.NewReader(hist))
	if err != nil {
		t.Fatalf("%v\n%s", err, hist)
	}
	if len(entries) != 1 || entries[0].Timeline != 1 || entries[0].Reason != "no recovery target specified" {
		t.Fatalf("00000002.history = %+v\n%s", entries, hist)
	}
	sp := entries[0].SwitchPoint
	if pg.TimelineOf(entries, 2, sp-1) != 1 || pg.TimelineOf(entries, 2, sp) != 2 {
		t.Errorf("TimelineOf around the switch point %s is wrong", sp)
	}

	kinds := map[pg.WALFileKind]int{}
	files, err := os.ReadDir(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range files {
		f, err := pg.ParseWALFileName(e.Name(), segSize)
		if err != nil {
			t.Errorf("PostgreSQL archived %s: %v", e.Name(), err)
			continue
		}
		kinds[f.Kind]++
		switch f.Kind {
		case pg.Partial:
			if f.Timeline != 1 || f.SegNo != pg.SegmentOf(sp, segSize) {
				t.Errorf("%s: want timeline 1 and the segment of switch point %s", f.Name, sp)
			}
		case pg.BackupHistory:
			checkBackupHistory(t, filepath.Join(archive, f.Name), f)
		}
	}
	if kinds[pg.Segment] == 0 || kinds[pg.BackupHistory] != 1 {
		t.Errorf("archive holds %v, want segments and one .backup file", kinds)
	}

	f, err := pg.ParseWALFileName(newSeg, segSize)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pg.ParseSegmentHeader(head)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckName(f); err != nil {
		t.Fatal(err)
	}
	// The new timeline's segment begins as a copy of the old one, so its
	// first page still says timeline 1 unless the switch fell on a boundary.
	if f.Timeline != 2 || f.SegNo != pg.SegmentOf(sp, segSize) {
		t.Fatalf("new segment %s is not the one holding switch point %s", newSeg, sp)
	}
	if uint64(sp)%segSize != 0 && h.Timeline != 1 {
		t.Errorf("header of %s says timeline %d; expected the copied timeline 1", newSeg, h.Timeline)
	}
	t.Logf("switch point %s, %s header timeline %d", sp, newSeg, h.Timeline)
}

// checkBackupHistory checks that a .backup file's name matches the START WAL
// LOCATION written inside it.
func checkBackupHistory(t *testing.T, path string, f pg.WALFile) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var lsnText, file string
		if _, err := fmt.Sscanf(sc.Text(), "START WAL LOCATION: %s (file %24s)", &lsnText, &file); err != nil {
			continue
		}
		start, err := pg.ParseLSN(lsnText)
		if err != nil {
			t.Fatal(err)
		}
		if want := pg.BackupHistoryFileName(f.Timeline, start, pg.DefaultSegmentSize); f.Name != want {
			t.Errorf("backup started at %s is archived as %s, BackupHistoryFileName says %s", start, f.Name, want)
		}
		if pg.SegmentStart(f.SegNo, pg.DefaultSegmentSize)+pg.LSN(f.BackupOffset) != start {
			t.Errorf("%s: SegNo/BackupOffset don't add up to %s", f.Name, start)
		}
		return
	}
	t.Errorf("%s has no START WAL LOCATION:\n%s", path, b)
}

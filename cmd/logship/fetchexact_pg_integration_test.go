package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store/file"
)

// F3, end to end on PostgreSQL: an untargeted restore promoted with 23,973
// of 87,978 rows and no error. Now a restore to the end of the archive
// either replays everything the catalog holds or fails: a recorded segment
// whose object is gone stops recovery through wal-fetch's exit 200, and a
// segment PostgreSQL cannot replay past (it ends recovery there and
// promotes) fails the restore's own check of where replay ended.
func TestF3_UntargetedRestoreNeverPromotesShort(t *testing.T) {
	t.Parallel()
	c, storeDir, flags, _ := backedUpSource(t, defaultPG, "short")
	c.Exec(t, "CREATE TABLE rows (n int, pad text)")
	var last string
	for i := 0; i < 4; i++ {
		c.Exec(t, fmt.Sprintf("INSERT INTO rows SELECT g, repeat('x', 100) FROM generate_series(%d, %d) g", i*2000+1, (i+1)*2000))
		last = switchWAL(t, c)
	}
	waitArchived(t, c, last)
	want := c.QueryString(t, "SELECT count(*) FROM rows")

	var l struct {
		Backups []backupRecord `json:"backups"`
	}
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil || len(l.Backups) != 1 {
		t.Fatalf("catalog list: %v %+v", err, l)
	}
	// The second segment after the backup's end holds the second batch.
	var tli, hi, lo uint32
	fmt.Sscanf(l.Backups[0].EndWAL, "%08X%08X%08X", &tli, &hi, &lo)
	victim := fmt.Sprintf("%08X%08X%08X", tli, hi, lo+2)
	object := filepath.Join(storeDir, "short", "wal", victim)

	// A stray key (F8) must not get in the way either.
	if err := os.WriteFile(filepath.Join(storeDir, "short", "catalog", "wal", ".DS_Store"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("whole archive", func(t *testing.T) {
		r, out := restoreAndStart(t, flags, "--no-archive")
		if out.Reached.State != "promoted" || out.Restore.Plan.LastWAL < last {
			t.Fatalf("reached %+v, plan to %s; want promoted, planned to %s", *out.Reached, out.Restore.Plan.LastWAL, last)
		}
		if got := r.query(t, "SELECT count(*) FROM rows"); got != want {
			t.Fatalf("restored %s rows, want %s", got, want)
		}
	})

	startUntargeted := func(t *testing.T) result {
		dir := newTargetDir(t)
		t.Cleanup(func() { stopServer(t, dir) })
		return logship(t, nil, append(flags, "restore", "--target-dir", dir, "--start", "--no-archive",
			"--port", strconv.Itoa(freeTCPPort(t)), "--start-timeout", "50s")...)
	}

	t.Run("recorded segment whose object is gone", func(t *testing.T) {
		aside := object + ".aside"
		if err := os.Rename(object, aside); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(aside, object)
		r := startUntargeted(t)
		if r.code != 1 || !strings.Contains(r.stderr, "exit code 200") || !strings.Contains(r.stderr, victim) {
			t.Fatalf("exit %d, want 1 with the server stopped by wal-fetch's exit 200 on %s:\n%s%s", r.code, victim, r.stdout, r.stderr)
		}
	})

	t.Run("replay ends early", func(t *testing.T) {
		// The segment as recorded, but zeroed after its first page, as a
		// torn file would be archived: wal-fetch serves it (it matches its
		// record), PostgreSQL ends recovery at the second page and promotes.
		st, err := file.Open(storeDir)
		if err != nil {
			t.Fatal(err)
		}
		o, err := catalog.New(st, "short").OpenWAL(context.Background(), victim)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(o)
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		clear(b[8192:])
		torn := filepath.Join(t.TempDir(), victim)
		if err := os.WriteFile(torn, b, 0o600); err != nil {
			t.Fatal(err)
		}
		records, _ := filepath.Glob(filepath.Join(storeDir, "short", "catalog", "wal", victim+"~*"))
		for _, p := range append(records, object) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		mustLogship(t, nil, append(flags, "wal-push", torn)...)

		r := startUntargeted(t)
		if r.code != 1 || !strings.Contains(r.stderr, "replay ended before the end of the archive") || !strings.Contains(r.stderr, last) {
			t.Fatalf("exit %d, want 1 saying replay ended before %s:\n%s%s", r.code, last, r.stdout, r.stderr)
		}
	})
}

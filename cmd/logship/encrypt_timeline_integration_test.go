package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// TestEncryptedTimelineWithoutIdentity: an encrypted source whose restored,
// promoted server ships timeline 2 (its 00000002.history encrypted);
// catalog list, status and (shallow) verify still follow the timelines
// without an identity, from the switch points wal-push recorded in clear.
func TestEncryptedTimelineWithoutIdentity(t *testing.T) {
	t.Parallel()
	idFile, rcp, _ := newIdentity(t)
	storeDir := pgtest.TempDir(t, "logship-store-")
	base := []string{"--store", "file://" + storeDir, "--source", "enctl"}
	ship := append(append([]string{}, base...), "--encrypt-to", rcp)
	read := append(append([]string{}, base...), "--identity-file", idFile)
	c := archivingClusterOn(t, defaultPG, ship, nil)
	pgFlags := append(append([]string{}, ship...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)

	// Archiving stays on: the promoted server ships timeline 2, encrypted
	// (it keeps the source's archive_command).
	a, out := restoreAndStart(t, read, "--mark", "m1")
	if out.Reached.Timeline != 2 {
		t.Fatalf("restore to m1 reached %+v, want timeline 2", *out.Reached)
	}
	hist := filepath.Join(storeDir, "enctl", "wal", "00000002.history")
	pgtest.WaitFor(t, 60*time.Second, "00000002.history archived", func() bool {
		_, err := os.Stat(hist)
		return err == nil
	})
	mustSQL(t, a, "INSERT INTO probe VALUES (2)")
	aFlags := append(append([]string{}, ship...), "--pg", a.connString())
	mustLogship(t, nil, append(aFlags, "mark", "m2")...)
	if r := logship(t, nil, append(base, "wal-fetch", "00000002.history", filepath.Join(t.TempDir(), "h"))...); r.code <= 125 {
		t.Fatalf("control: 00000002.history opens without an identity (exit %d)", r.code)
	}

	var l listing
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(base, "catalog", "list", "--json")...)), &l); err != nil {
		t.Fatal(err)
	}
	tlis := map[int]bool{}
	for _, tl := range l.Timelines {
		tlis[tl.Timeline] = true
	}
	if !tlis[1] || !tlis[2] {
		t.Errorf("catalog list without an identity: timelines %+v, want 1 and 2", l.Timelines)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"verify"}} {
		if r := logship(t, nil, append(append([]string{}, base...), args...)...); r.code != 0 {
			t.Errorf("%v without an identity: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

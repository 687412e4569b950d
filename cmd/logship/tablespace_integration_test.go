package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// folderSums maps every file under dir to the SHA-256 of its content.
func folderSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, f := range storeFiles(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums[f] = hex.EncodeToString(h[:])
	}
	return sums
}

// F4: a tablespace created after the base backup is in the WAL a restore
// replays, with the source's folder as its path. Restored on the source's
// host, the restored server would adopt that folder and write into the
// source's live files. wal-fetch refuses the segment, recovery stops and
// restore fails naming the folder, and the folder is byte-identical.
func TestF4_RestoreNeverWritesIntoSourceTablespace(t *testing.T) {
	t.Parallel()
	c, _, flags, pgFlags := backedUpSource(t, defaultPG, "tablespace")
	tsDir := pgtest.TempDir(t, "logship-ts-")
	// WAL before the record, so that the scan crosses many pages first.
	c.Pgbench(t, "-n", "-t", "300", "-c", "2")
	c.Exec(t, "CREATE TABLESPACE ts LOCATION '"+tsDir+"'")
	c.Exec(t, "CREATE TABLE in_ts (n int) TABLESPACE ts")
	c.Exec(t, "INSERT INTO in_ts SELECT generate_series(1, 10000)")
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	// More changes after the mark, flushed: the source's files are newer
	// than anything the restore replays, and then stay still.
	c.Exec(t, "UPDATE in_ts SET n = -n")
	c.Exec(t, "CHECKPOINT")
	c.Stop(t)
	before := folderSums(t, tsDir)
	if len(before) == 0 {
		t.Fatal("no files in the tablespace folder")
	}

	r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	t.Cleanup(func() { stopServer(t, r.dir) })
	res := logship(t, nil, append(append([]string{}, flags...), "restore", "--target-dir", r.dir, "--mark", "m1",
		"--start", "--port", strconv.Itoa(r.port), "--start-timeout", "50s")...)
	if res.code == 0 {
		// What the restored server then does lands in the source's folder.
		mustSQL(t, r, "INSERT INTO in_ts VALUES (1)")
		mustSQL(t, r, "CHECKPOINT")
		t.Errorf("restore replayed CREATE TABLESPACE at %s, the source's folder", tsDir)
	} else if !strings.Contains(res.stderr, tsDir) || !strings.Contains(res.stderr, "tablespace") {
		t.Errorf("restore: exit %d, want a message naming %s:\n%s", res.code, tsDir, res.stderr)
	} else {
		t.Logf("restore refused (exit %d): %s", res.code, res.stderr)
	}
	if !maps(before, folderSums(t, tsDir)) {
		t.Errorf("the source's tablespace folder %s changed", tsDir)
	}
}

package main_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// restore --start fetches the WAL recovery needs while it extracts the
// backup, and the server recovers to the mark with it (that wal-fetch
// hands those files over is restore's TestSeedPrefetchBounded).
func TestRestorePrefetchesWAL(t *testing.T) { onEachPG(t, testRestorePrefetchesWAL) }

func testRestorePrefetchesWAL(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "prefetch")
	for i := 1; i <= 3; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		switchWAL(t, c)
	}
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	waitArchived(t, c, switchWAL(t, c))

	for _, prefetch := range []string{"64", "0"} {
		t.Run("--prefetch-wal "+prefetch, func(t *testing.T) {
			r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
			t.Cleanup(func() { stopServer(t, r.dir) })
			res := logship(t, nil, append(append([]string{}, flags...), "restore", "--target-dir", r.dir, "--start",
				"--port", strconv.Itoa(r.port), "--start-timeout", "50s", "--json", "--mark", "m1", "--no-archive",
				"--prefetch-wal", prefetch)...)
			var out restoreOut
			if res.code != 0 || json.Unmarshal([]byte(res.stdout), &out) != nil || out.Reached == nil {
				t.Fatalf("restore: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			logged := strings.Contains(res.stderr, "prefetched WAL for recovery")
			if logged != (prefetch != "0") {
				t.Errorf("--prefetch-wal %s: prefetch logged %v:\n%s", prefetch, logged, res.stderr)
			}
			if got := r.query(t, "SELECT string_agg(n::text, ',' ORDER BY n) FROM probe"); got != "1,2,3" {
				t.Errorf("restored probe rows %q, want 1,2,3", got)
			}
		})
	}
}

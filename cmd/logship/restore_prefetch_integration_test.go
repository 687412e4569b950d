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

	for _, tc := range []struct{ prefetch, prefetcher string }{{"64", ""}, {"0", ""}, {"0", "--prefetcher"}} {
		prefetch := tc.prefetch
		t.Run("--prefetch-wal "+prefetch+" "+tc.prefetcher, func(t *testing.T) {
			r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
			t.Cleanup(func() { stopServer(t, r.dir) })
			args := append(append([]string{}, flags...), "restore", "--target-dir", r.dir, "--start",
				"--port", strconv.Itoa(r.port), "--start-timeout", "50s", "--json", "--mark", "m1", "--no-archive",
				"--prefetch-wal", prefetch)
			if tc.prefetcher != "" {
				args = append(args, tc.prefetcher)
			}
			res := logship(t, nil, args...)
			var out restoreOut
			if res.code != 0 || json.Unmarshal([]byte(res.stdout), &out) != nil || out.Reached == nil {
				t.Fatalf("restore: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			// The restore_command written says whether it starts a
			// background prefetcher on a miss.
			if got := strings.Contains(out.Restore.RestoreCommand, "wal-fetch '--prefetcher' %f %p"); got != (tc.prefetcher != "") {
				t.Errorf("restore_command %q: --prefetcher %v, want %v", out.Restore.RestoreCommand, got, tc.prefetcher != "")
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

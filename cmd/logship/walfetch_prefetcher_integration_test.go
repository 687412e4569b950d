package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// prefetcherHeld reports whether a prefetcher holds pg_wal's lock.
func prefetcherHeld(pgwal string) bool {
	f, err := os.Open(filepath.Join(pgwal, "logship-prefetch.lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
}

// pollFor polls cond every few milliseconds for up to 30 s.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wal-fetch --prefetcher: the first call, which goes to the store, starts
// a background prefetcher that fills pg_wal/logship-prefetch/ ahead of
// recovery; later calls are answered from it without the store, and the
// prefetcher leaves once the archive holds nothing more.
func TestFetchPrefetcher(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	src := t.TempDir()
	var names []string
	for i := 1; i <= 6; i++ {
		n := fmt.Sprintf("0000000100000000000000%02X", i)
		names = append(names, n)
		mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, src, n, 42, byte(i)))...)
	}
	pgwal := filepath.Join(t.TempDir(), "pg_wal")
	os.MkdirAll(pgwal, 0o755)
	t.Cleanup(func() {
		pollFor(t, "the prefetcher to leave", func() bool { return !prefetcherHeld(pgwal) })
	})
	dest := filepath.Join(pgwal, "RECOVERYXLOG")
	env := []string{"LOGSHIP_FETCH_PREFETCHER_IDLE_EXIT=2s"}
	fetch := func(n string) {
		t.Helper()
		r := logship(t, env, append(flags, "--fetch-ahead", "3", "wal-fetch", "--prefetcher", n, dest)...)
		if r.code != 0 || !sameFile(t, filepath.Join(src, n), dest) {
			t.Fatalf("fetch %s: exit %d %s", n, r.code, r.stderr)
		}
		os.Remove(dest) // PostgreSQL consumes it
	}
	fetch(names[0])
	spool := filepath.Join(pgwal, "logship-prefetch")
	pollFor(t, "the prefetcher to fill the folder", func() bool {
		for _, n := range names[1:4] {
			if _, err := os.Stat(filepath.Join(spool, n)); err != nil {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(filepath.Join(spool, names[0])); err == nil {
		t.Fatalf("the prefetcher fetched %s, which the first call fetched", names[0])
	}
	// Served from the folder: remove them from the store to prove it.
	for _, n := range names[1:4] {
		os.Remove(filepath.Join(dir, "t", "wal", n))
		fetch(n)
	}
	fetch(names[4])
	fetch(names[5])
	pollFor(t, "the prefetcher to leave at the archive's end", func() bool { return !prefetcherHeld(pgwal) })

	// A standby at the archive's end: "not in the archive" until it comes.
	n := "000000010000000000000007"
	if r := logship(t, env, append(flags, "--fetch-ahead", "3", "wal-fetch", "--prefetcher", n, dest)...); r.code != 1 {
		t.Fatalf("fetch of %s, not archived: exit %d %s, want 1", n, r.code, r.stderr)
	}
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, src, n, 42, 7))...)
	fetch(n)
}

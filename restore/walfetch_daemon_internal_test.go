package restore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store/file"
)

// pgWALDest is DEST in a fresh pg_wal, as PostgreSQL gives it.
func pgWALDest(t *testing.T) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "pg_wal", "RECOVERYXLOG")
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		t.Fatal(err)
	}
	return dest
}

// runPrefetcher runs RunPrefetcher in the background and returns a
// prefetcherRun. The test waits for it before its folders go.
func runPrefetcher(t *testing.T, cat *catalog.Catalog, dest string, opts PrefetcherOptions) *prefetcherRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &prefetcherRun{done: make(chan struct{})}
	go func() {
		r.err = RunPrefetcher(ctx, cat, dest, opts)
		close(r.done)
	}()
	done := r.done
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the prefetcher did not stop")
		}
	})
	return r
}

// prefetcherRun is a prefetcher running in the test: err is its result
// once done is closed.
type prefetcherRun struct {
	done chan struct{}
	err  error
}

// wait fails the test unless the prefetcher leaves, without error, within 30 s.
func (r *prefetcherRun) wait(t *testing.T, why string) {
	t.Helper()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("%s: %v", why, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the prefetcher did not leave %s", why)
	}
}

// until polls cond every few milliseconds for up to 30 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listed(dest, name string) bool {
	_, ok := readState(spoolDir(dest), "s").Files[name]
	_, err := os.Stat(filepath.Join(spoolDir(dest), name))
	return ok && err == nil
}

// takeChecked hands name over as wal-fetch does and checks its content.
func takeChecked(t *testing.T, dest, name string, want []byte) {
	t.Helper()
	if !TakePrefetched(name, dest, "s") {
		t.Fatalf("%s not handed over from the folder", name)
	}
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, want) {
		t.Fatalf("%s handed over with the wrong content", name)
	}
	os.Remove(dest)
}

// The prefetcher keeps the next segments in the folder as recovery moves
// on, so that every later request is answered from it without the store,
// and leaves once the folder holds everything recorded.
func TestPrefetcherFillsSpool(t *testing.T) {
	cat, root, content := aheadStore(t, 10)
	dest := pgWALDest(t)
	NoteNext(dest, segName(1))
	run := runPrefetcher(t, cat, dest, PrefetcherOptions{Ahead: 4, Stamp: "s", IdleExit: time.Minute, Taken: segName(1)})
	// Segment 1 is the starting wal-fetch's own: the prefetcher starts after it.
	until(t, "next moved past the starter's segment", func() bool { return readNext(dest) == segName(2) })
	for i := 2; i <= 10; i++ {
		until(t, segName(i)+" prefetched", func() bool { return listed(dest, segName(i)) })
		// Served from the folder: the store is not asked.
		os.Remove(filepath.Join(root, "ahead", "wal", segName(i)))
		takeChecked(t, dest, segName(i), content(i))
		NoteTaken(dest, segName(i), aheadSegSize)
	}
	if _, err := os.Stat(filepath.Join(spoolDir(dest), segName(1))); err == nil {
		t.Fatal("the prefetcher fetched the segment its starter fetches")
	}
	run.wait(t, "with everything recorded in the folder")
}

// A file damaged in the folder is refused, removed, and fetched again.
func TestPrefetcherRefetchesDamaged(t *testing.T) {
	cat, _, content := aheadStore(t, 20)
	dest := pgWALDest(t)
	NoteNext(dest, segName(2))
	runPrefetcher(t, cat, dest, PrefetcherOptions{Ahead: 3, Stamp: "s", IdleExit: time.Minute})
	until(t, "the folder filled", func() bool { return listed(dest, segName(2)) })
	p := filepath.Join(spoolDir(dest), segName(2))
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if TakePrefetched(segName(2), dest, "s") {
		t.Fatal("a damaged file was handed over")
	}
	if !WaitPrefetched(context.Background(), segName(2), dest, "s", 30*time.Second) {
		t.Fatal("the damaged file was not fetched again")
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, content(2)) {
		t.Fatal("the refetched file has the wrong content")
	}
}

// The prefetcher leaves when recovery asks for nothing new, when the
// server left recovery, and when pg_wal goes; only one runs per pg_wal.
func TestPrefetcherExits(t *testing.T) {
	cat, _, _ := aheadStore(t, 40)
	dest := pgWALDest(t)
	NoteNext(dest, segName(1))
	run := runPrefetcher(t, cat, dest, PrefetcherOptions{Ahead: 2, Stamp: "s", IdleExit: time.Second})
	until(t, "the prefetcher started", func() bool { return PrefetcherRunning(dest) })
	if err := RunPrefetcher(context.Background(), cat, dest, PrefetcherOptions{Ahead: 2, Stamp: "s"}); err != ErrPrefetcherBusy {
		t.Fatalf("a second prefetcher for the same pg_wal: %v, want ErrPrefetcherBusy", err)
	}
	run.wait(t, "when idle")
	if PrefetcherRunning(dest) {
		t.Fatal("the lock outlived the prefetcher")
	}

	// A data directory out of recovery (no recovery.signal).
	dest = pgWALDest(t)
	os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(dest)), "PG_VERSION"), []byte("15\n"), 0o600)
	NoteNext(dest, segName(1))
	runPrefetcher(t, cat, dest, PrefetcherOptions{Ahead: 2, Stamp: "s", IdleExit: time.Hour}).wait(t, "out of recovery")

	// pg_wal removed under it.
	dest = pgWALDest(t)
	NoteNext(dest, segName(1))
	run = runPrefetcher(t, cat, dest, PrefetcherOptions{Ahead: 2, Stamp: "s", IdleExit: time.Hour})
	until(t, "the folder filled", func() bool { return listed(dest, segName(1)) && listed(dest, segName(2)) })
	os.RemoveAll(filepath.Dir(dest))
	run.wait(t, "when pg_wal went")
}

// prefetcherHelperEnv makes the test binary a prefetcher (TestPrefetcherKilled).
const prefetcherHelperEnv = "LOGSHIP_TEST_PREFETCHER_HELPER"

func TestPrefetcherHelperProcess(t *testing.T) {
	spec := os.Getenv(prefetcherHelperEnv)
	if spec == "" {
		t.Skip("run by TestPrefetcherKilled")
	}
	st, err := file.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	err = RunPrefetcher(context.Background(), catalog.New(st, "ahead"), os.Getenv(prefetcherHelperEnv+"_DEST"), PrefetcherOptions{Ahead: 8, Stamp: "s", IdleExit: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
}

// A prefetcher killed at any moment (SIGKILL, mid-write or mid-state)
// leaves nothing that is handed over unverified, and the next one
// finishes its work.
func TestPrefetcherKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	_, root, content := aheadStore(t, 30)
	dest := pgWALDest(t)
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPrefetcherHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), prefetcherHelperEnv+"="+root, prefetcherHelperEnv+"_DEST="+dest)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	check := func() {
		t.Helper()
		for i := 1; i <= 30; i++ {
			out := filepath.Join(filepath.Dir(dest), "CHECK")
			if TakePrefetched(segName(i), out, "s") {
				if b, _ := os.ReadFile(out); !bytes.Equal(b, content(i)) {
					t.Fatalf("%s handed over unverified after a kill", segName(i))
				}
				os.Remove(out)
			}
		}
	}
	midWrite := 0
	for round := range 15 {
		// A different start each time: there is always work under way.
		NoteNext(dest, segName(1+round%20))
		cmd := start()
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if left, _ := filepath.Glob(filepath.Join(spoolDir(dest), "*.logship-tmp")); len(left) > 0 {
			midWrite++
		}
		check()
	}
	t.Logf("%d of 15 kills left a file half-written", midWrite)
	NoteNext(dest, segName(3))
	cmd := start()
	until(t, "a prefetcher after the kills filled the folder", func() bool {
		for i := 3; i <= 10; i++ {
			if !listed(dest, segName(i)) {
				return false
			}
		}
		return true
	})
	cmd.Process.Kill()
	cmd.Wait()
	for i := 3; i <= 10; i++ {
		takeChecked(t, dest, segName(i), content(i))
	}
}

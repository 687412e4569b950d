package restore

import (
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// The prefetcher is a background process (`wal-fetch --prefetch-daemon`)
// that a wal-fetch started on a miss: it keeps its store client warm and
// keeps the next segments in the prefetch folder, so that recovery's
// next requests are answered from it while PostgreSQL replays. It writes
// the folder exactly as the window prefetch does: every file is fetched
// verified (size and SHA-256 against its record), listed in the state
// with its CRC-32C, and only then renamed under its own name, so that a
// file under a segment's name is always listed. TakePrefetched stays the
// only way a file reaches PostgreSQL, with its checks unchanged.
//
// wal-fetch tells the prefetcher where recovery is through
// <pg_wal>/logship-prefetch.next: the first segment PostgreSQL may still
// ask for. One prefetcher per pg_wal: it holds an flock on
// <pg_wal>/logship-prefetch.lock for its whole life.

const (
	nextSuffix = ".next"
	lockSuffix = ".lock"
	// stagedSuffix names a verified file waiting for the state to list it
	// before it is renamed under its own name.
	stagedSuffix = ".staged.logship-tmp"
)

// storeRetry is the pause after a listing failed.
const storeRetry = time.Second

// PrefetcherOptions tune RunPrefetcher.
type PrefetcherOptions struct {
	// Ahead is how many segments it keeps in the folder from the next one.
	Ahead int
	// Stamp names the store and source (AheadOptions.Stamp).
	Stamp string
	// IdleExit ends it when recovery made no progress for that long.
	IdleExit time.Duration
	// Poll is how often it looks at the next file (default 10 ms).
	Poll time.Duration
	// Taken is the segment the wal-fetch that started it fetches itself:
	// the prefetcher starts after it.
	Taken string
}

// ErrPrefetcherBusy means another prefetcher serves this pg_wal.
var ErrPrefetcherBusy = errors.New("another prefetcher serves this pg_wal")

func nextPath(dest string) string { return spoolDir(dest) + nextSuffix }
func lockPath(dest string) string { return spoolDir(dest) + lockSuffix }

// NoteNext records name as the first segment PostgreSQL may still ask
// for. Anything but a segment name is ignored. Best effort: a prefetcher
// that misses it only prefetches less well.
func NoteNext(dest, name string) {
	if len(name) != 24 {
		return
	}
	if _, err := pg.ParseWALFileName(name, 1<<20); err != nil {
		return
	}
	tmp := nextPath(dest) + ".logship-tmp"
	if os.WriteFile(tmp, []byte(name), 0o600) == nil && os.Rename(tmp, nextPath(dest)) != nil {
		os.Remove(tmp)
	}
}

// NoteTaken records that PostgreSQL got name: it will ask for the
// segment after it next.
func NoteTaken(dest, name string, segSize uint64) {
	if wf, err := pg.ParseWALFileName(name, segSize); err == nil && wf.Kind == pg.Segment {
		NoteNext(dest, pg.SegmentName(wf.Timeline, wf.SegNo+1, segSize))
	}
}

// SpoolSegmentSize is the segment size the folder's state records, 0 if none.
func SpoolSegmentSize(dest, stamp string) uint64 {
	return readState(spoolDir(dest), stamp).SegmentSize
}

// SpoolSkipped reports whether the last prefetcher skipped name (not
// recorded, or its fetch failed).
func SpoolSkipped(dest, stamp, name string) bool {
	return slices.Contains(readState(spoolDir(dest), stamp).Skipped, name)
}

func readNext(dest string) string {
	b, err := os.ReadFile(nextPath(dest))
	if err != nil || len(b) != 24 {
		return ""
	}
	return string(b)
}

// lockPrefetcher takes the prefetcher lock without waiting.
func lockPrefetcher(dest string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(dest), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrPrefetcherBusy
		}
		return nil, err
	}
	return f, nil
}

// PrefetcherRunning reports whether a prefetcher holds dest's pg_wal.
func PrefetcherRunning(dest string) bool {
	f, err := lockPrefetcher(dest)
	if err != nil {
		return errors.Is(err, ErrPrefetcherBusy)
	}
	f.Close()
	return false
}

// RunPrefetcher keeps the folder of dest's pg_wal filled until recovery
// is idle for opts.IdleExit, the archive holds nothing more to prefetch,
// the server left recovery, pg_wal went away or ctx ends. It returns
// ErrPrefetcherBusy at once when another one runs.
func RunPrefetcher(ctx context.Context, cat *catalog.Catalog, dest string, opts PrefetcherOptions) error {
	lock, err := lockPrefetcher(dest)
	// PrefetcherRunning takes the lock for an instant to probe it; only a
	// lock held longer is another prefetcher.
	for try := 0; errors.Is(err, ErrPrefetcherBusy) && try < 20; try++ {
		time.Sleep(5 * time.Millisecond)
		lock, err = lockPrefetcher(dest)
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Millisecond
	}
	segSize := SpoolSegmentSize(dest, opts.Stamp)
	if !pg.ValidSegmentSize(segSize) {
		src, err := cat.Source(ctx)
		if err != nil {
			return err
		}
		segSize = src.SegmentSize
	}
	if opts.Taken != "" && readNext(dest) == opts.Taken {
		NoteTaken(dest, opts.Taken, segSize)
	}
	p := &prefetcher{cat: cat, dest: dest, dir: spoolDir(dest), opts: opts, segSize: segSize, failed: map[string]bool{}}
	last, since := "", time.Now()
	for ctx.Err() == nil && p.recovering() {
		next := readNext(dest)
		if next != last {
			last, since = next, time.Now()
		} else if opts.IdleExit > 0 && time.Since(since) > opts.IdleExit {
			return nil
		}
		if next != "" && p.round(ctx, next) {
			return nil // all that is recorded is here
		}
		wait := opts.Poll
		if p.listFailed {
			wait = max(wait, storeRetry) // a store that fails is not hammered
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return ctx.Err()
}

type prefetcher struct {
	cat     *catalog.Catalog
	dest    string
	dir     string
	opts    PrefetcherOptions
	segSize uint64
	// failed are names it could not fetch: PostgreSQL's own request
	// fetches them and reports why; the prefetcher does not retry them.
	failed map[string]bool
	// listFailed is set when the last listing failed.
	listFailed bool
	mu         sync.Mutex
	st         spoolState
}

// recovering is false once pg_wal is gone or, for a data directory, once
// the server left recovery (its recovery.signal and standby.signal gone).
func (p *prefetcher) recovering() bool {
	walDir := filepath.Dir(p.dest)
	if fi, err := os.Stat(walDir); err != nil || !fi.IsDir() {
		return false
	}
	data := restoredDataDir(p.dest)
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		return true // not a data directory: nothing to tell
	}
	for _, f := range []string{"recovery.signal", "standby.signal", "recovery.conf"} {
		if _, err := os.Stat(filepath.Join(data, f)); err == nil {
			return true
		}
	}
	return false
}

// round fills the folder with the Ahead segments from next; it reports
// whether the archive holds nothing more to prefetch for now (the
// prefetcher then leaves: the next miss starts another).
func (p *prefetcher) round(ctx context.Context, next string) bool {
	wf, err := pg.ParseWALFileName(next, p.segSize)
	if err != nil || wf.Kind != pg.Segment || p.opts.Ahead <= 0 {
		return false
	}
	if os.MkdirAll(p.dir, 0o700) != nil {
		return false
	}
	p.st = readState(p.dir, p.opts.Stamp)
	files := p.clean(wf)
	var todo []string
	for i := range p.opts.Ahead {
		n := pg.SegmentName(wf.Timeline, wf.SegNo+uint64(i), p.segSize)
		if _, ok := files[n]; !ok && !p.failed[n] {
			todo = append(todo, n)
		}
	}
	p.st = spoolState{Stamp: p.opts.Stamp, Window: p.opts.Ahead, Last: pg.SegmentName(wf.Timeline, wf.SegNo+uint64(p.opts.Ahead-1), p.segSize),
		SegmentSize: p.segSize, Files: files}
	if len(todo) == 0 {
		return false
	}
	win, err := p.cat.WALWindow(ctx, todo)
	p.listFailed = err != nil
	if err != nil {
		return false
	}
	var recorded, skipped []string
	for _, n := range todo {
		if win.Recorded(n) {
			recorded = append(recorded, n)
		} else {
			skipped = append(skipped, n)
		}
	}
	for n := range p.failed {
		skipped = append(skipped, n)
	}
	p.st.Skipped = skipped
	_ = writeState(p.dir, p.st)
	p.fetch(ctx, win, recorded)
	return len(recorded) < len(todo) && ctx.Err() == nil && readNext(p.dest) == next
}

// clean removes the leftovers of interrupted fetches, files the state
// does not list, and segments before next on its timeline (PostgreSQL has
// them); files after the window (restore's seed) stay. It returns the
// state's entries of the files kept.
func (p *prefetcher) clean(next pg.WALFile) map[string]spooledFile {
	kept := map[string]spooledFile{}
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return kept
	}
	for _, e := range entries {
		n := e.Name()
		f, listed := p.st.Files[n]
		wf, err := pg.ParseWALFileName(n, p.segSize)
		stale := err != nil || wf.Kind != pg.Segment || wf.Timeline != next.Timeline || wf.SegNo < next.SegNo
		if stale || !listed || !e.Type().IsRegular() || strings.HasSuffix(n, ".logship-tmp") {
			_ = os.Remove(filepath.Join(p.dir, n))
			continue
		}
		kept[n] = f
	}
	return kept
}

// fetch fetches names in order, prefetchWorkers at a time. Each file is
// verified into a staged name, listed in the state, then renamed under
// its own name: a name in the folder is always one the state vouches for.
func (p *prefetcher) fetch(ctx context.Context, win *catalog.WALWindow, names []string) {
	queue := make(chan string)
	var wg sync.WaitGroup
	for range min(prefetchWorkers, len(names)) {
		wg.Go(func() {
			for n := range queue {
				p.fetchOne(ctx, win, n)
			}
		})
	}
	for _, n := range names {
		queue <- n
	}
	close(queue)
	wg.Wait()
}

func (p *prefetcher) fetchOne(ctx context.Context, win *catalog.WALWindow, n string) {
	staged := filepath.Join(p.dir, "."+n+stagedSuffix)
	crc := crc32.New(castagnoli)
	h, err := fetchOpened(ctx, p.cat, n, staged, win.Open, crc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		os.Remove(staged)
		if ctx.Err() == nil {
			p.failed[n] = true
			p.st.Skipped = append(p.st.Skipped, n)
			_ = writeState(p.dir, p.st)
		}
		return
	}
	p.st.Files[n] = spooledFile{Size: h.RawSize, SHA256: h.ChecksumHex(), CRC32C: crc.Sum32()}
	if writeState(p.dir, p.st) != nil || os.Rename(staged, filepath.Join(p.dir, n)) != nil {
		delete(p.st.Files, n)
		os.Remove(staged)
	}
}

// WaitPrefetched waits, while a prefetcher runs, for it to put name in
// the folder, and moves it into dest as TakePrefetched does. It gives up
// (false) when no prefetcher runs, the prefetcher could not fetch name,
// or after wait: the caller then fetches name itself.
func WaitPrefetched(ctx context.Context, name, dest, stamp string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
		st := readState(spoolDir(dest), stamp)
		if _, ok := st.Files[name]; ok && TakePrefetched(name, dest, stamp) {
			return true
		}
		if slices.Contains(st.Skipped, name) {
			return false
		}
		if n%10 == 0 && !PrefetcherRunning(dest) {
			return TakePrefetched(name, dest, stamp)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

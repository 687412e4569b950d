package restore

import (
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// PostgreSQL asks restore_command for one segment at a time and replays it
// before asking for the next. FetchWALAhead fetches the next segments of
// the same timeline along with the one asked for, in parallel, into
// <pg_wal>/logship-prefetch/, each one verified before it is renamed into
// that folder, and lists it with its checksum in the folder's state
// (walfetch_spool.go). When PostgreSQL then asks for one of them,
// TakePrefetched checks it again and moves it into place, without a
// connection to the store.
//
// The window adapts: it starts at AheadOptions.Start segments and doubles,
// up to Max, each time PostgreSQL asks for the segment right after the last
// one prefetched, that is each time it used the whole window. Anything
// else (a request out of order, a new timeline, a failed prefetch) starts
// again from Start.

// prefetchDir is the folder of prefetched segments, beside DEST.
const prefetchDir = "logship-prefetch"

// defaultStartWindow is the first window: small, so that a short recovery
// or a standby catching up does not download segments it never asks for.
const defaultStartWindow = 4

// prefetchWorkers bounds the segments fetched at once besides the one asked
// for: each holds a decoder, and the machine's cores are the limit anyway.
const prefetchWorkers = 4

// AheadOptions tune FetchWALAhead.
type AheadOptions struct {
	// Max is the largest window; 0 prefetches nothing.
	Max int
	// Start is the first window; 0 means min(4, Max).
	Start int
	// Stamp names the store and source: files prefetched from another are
	// not handed over.
	Stamp string
}

// FetchWALAhead is FetchWAL that, when opts.Max > 0, answers from the
// prefetched files and otherwise also prefetches a window of the following
// segments. Only the result for name counts: a segment that cannot be
// prefetched (absent, damaged, store error) is left for PostgreSQL's own
// request, which then gets FetchWAL's answer.
func FetchWALAhead(ctx context.Context, cat *catalog.Catalog, name, dest string, opts AheadOptions) error {
	if opts.Max <= 0 {
		_, err := FetchWAL(ctx, cat, name, dest)
		return err
	}
	if TakePrefetched(name, dest, opts.Stamp) {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := FetchWAL(ctx, cat, name, dest)
		done <- err
	}()
	prefetchWindow(ctx, cat, name, dest, opts)
	return <-done
}

// prefetchWindow fetches the window after name into the folder, keeping
// the files of it already there and verified, and records the new state.
func prefetchWindow(ctx context.Context, cat *catalog.Catalog, name, dest string, opts AheadOptions) {
	dir := spoolDir(dest)
	st := readState(dir, opts.Stamp)
	next, window, segSize := nextWindow(ctx, cat, name, st, opts)
	if next == nil {
		return // a history file, or no segment size: keep what is there
	}
	files := cleanPrefetched(dir, next, st)
	var todo []string
	for _, n := range next {
		if _, ok := files[n]; !ok {
			todo = append(todo, n)
		}
	}
	if len(todo) > 0 && os.MkdirAll(dir, 0o700) == nil {
		if win, err := cat.WALWindow(ctx, todo); err == nil {
			fetchWindow(ctx, cat, win, dir, todo, files, prefetchWorkers)
		}
	}
	saveState(dir, spoolState{Stamp: opts.Stamp, Window: window, Last: next[len(next)-1], SegmentSize: segSize, Files: files})
}

// fetchWindow fetches the recorded names of win into dir, workers at a
// time and in order, adding each verified one to files.
func fetchWindow(ctx context.Context, cat *catalog.Catalog, win *catalog.WALWindow, dir string, names []string, files map[string]spooledFile, workers int) {
	var mu sync.Mutex
	queue := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, len(names)) {
		wg.Go(func() {
			for n := range queue {
				crc := crc32.New(castagnoli)
				h, err := fetchOpened(ctx, cat, n, filepath.Join(dir, n), win.Open, crc)
				if err == nil {
					mu.Lock()
					files[n] = spooledFile{Size: h.RawSize, SHA256: h.ChecksumHex(), CRC32C: crc.Sum32()}
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range names {
		if win.Recorded(n) {
			queue <- n
		}
	}
	close(queue)
	wg.Wait()
}

// nextWindow names the segments to prefetch after name on its timeline,
// the window's size and the segment size; none for a history or backup file, or when the
// segment size is unknown.
func nextWindow(ctx context.Context, cat *catalog.Catalog, name string, st spoolState, opts AheadOptions) ([]string, int, uint64) {
	if len(name) != 24 {
		return nil, 0, 0
	}
	segSize := st.SegmentSize
	if !pg.ValidSegmentSize(segSize) {
		src, err := cat.Source(ctx)
		if err != nil || !pg.ValidSegmentSize(src.SegmentSize) {
			return nil, 0, 0
		}
		segSize = src.SegmentSize
	}
	wf, err := pg.ParseWALFileName(name, segSize)
	if err != nil || wf.Kind != pg.Segment {
		return nil, 0, 0
	}
	window := opts.Start
	if window <= 0 {
		window = defaultStartWindow
	}
	window = min(window, opts.Max)
	if last, err := pg.ParseWALFileName(st.Last, segSize); err == nil && st.Window > 0 &&
		last.Kind == pg.Segment && last.Timeline == wf.Timeline && wf.SegNo == last.SegNo+1 {
		window = min(max(window, 2*st.Window), opts.Max)
	}
	names := make([]string, window)
	for i := range names {
		names[i] = pg.SegmentName(wf.Timeline, wf.SegNo+uint64(i)+1, segSize)
	}
	return names, window, segSize
}

// cleanPrefetched removes what recovery will not ask for any more (every
// file that is not one of keep), what the state does not vouch for, and
// leftovers of interrupted fetches. It returns the state's entries of the
// files it kept.
func cleanPrefetched(dir string, keep []string, st spoolState) map[string]spooledFile {
	kept := map[string]spooledFile{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return kept
	}
	wanted := map[string]bool{}
	for _, n := range keep {
		wanted[n] = true
	}
	for _, e := range entries {
		f, listed := st.Files[e.Name()]
		if !wanted[e.Name()] || !listed || !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".logship-tmp") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		kept[e.Name()] = f
	}
	return kept
}

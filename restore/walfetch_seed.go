package restore

import (
	"context"
	"os"
	"path/filepath"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// Restore fills the restored server's prefetch folder with the first
// segments its recovery will ask for, while the backup is extracted: the
// store's latency and the decoding overlap with the disk writes of the
// extraction, and PostgreSQL's first restore_command calls are answered
// from the folder (TakePrefetched), each file checked again as it is handed
// over.

// DefaultPrefetchWAL is how many segments restore prefetches by default:
// 1 GiB of 16 MiB segments, the bound of the disk it takes.
const DefaultPrefetchWAL = 64

// seedWorkers is fewer than wal-fetch's workers: the extraction fetches
// and decodes parts at the same time, on the same cores and memory.
const seedWorkers = 2

// recoveryDest is the DEST PostgreSQL gives restore_command during
// recovery, whose folder holds the prefetch folder.
func recoveryDest(dataDir string) string { return filepath.Join(dataDir, "pg_wal", "RECOVERYXLOG") }

// startSeed prefetches the plan's first segments into dir in the
// background when opts ask for it. The returned stop waits for it and
// says how many segments it prefetched; stop(true) cancels it first.
// Calling stop again does nothing more.
func startSeed(ctx context.Context, cat *catalog.Catalog, plan Plan, dir string, opts Options) (stop func(abort bool) int) {
	if opts.PrefetchWAL <= 0 || opts.FetchStamp == "" {
		return func(bool) int { return 0 }
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var n int
	go func() {
		defer close(done)
		n = seedPrefetch(ctx, cat, plan, dir, opts.FetchStamp, opts.PrefetchWAL)
	}()
	return func(abort bool) int {
		if abort {
			cancel()
		}
		<-done
		cancel()
		return n
	}
}

// seedPrefetch fetches up to n segments from the plan's first one, on its
// timeline and no further than its last, into dir's prefetch folder, and
// records them for wal-fetch; it returns how many it kept. A plan that
// switches timelines is left to wal-fetch's own prefetching.
func seedPrefetch(ctx context.Context, cat *catalog.Catalog, plan Plan, dir, stamp string, n int) int {
	first, err := pg.ParseWALFileName(plan.FirstWAL, plan.SegmentSize)
	if err != nil || first.Kind != pg.Segment || first.Timeline != plan.Timeline {
		return 0
	}
	if last, err := pg.ParseWALFileName(plan.LastWAL, plan.SegmentSize); err == nil && last.Kind == pg.Segment &&
		last.Timeline == first.Timeline && last.SegNo >= first.SegNo && last.SegNo-first.SegNo < uint64(n) {
		n = int(last.SegNo-first.SegNo) + 1
	}
	names := make([]string, n)
	for i := range names {
		names[i] = pg.SegmentName(first.Timeline, first.SegNo+uint64(i), plan.SegmentSize)
	}
	spool := spoolDir(recoveryDest(dir))
	if os.MkdirAll(spool, 0o700) != nil {
		return 0
	}
	files := map[string]spooledFile{}
	if win, err := cat.WALWindow(ctx, names); err == nil {
		fetchWindow(ctx, cat, win, spool, names, files, seedWorkers)
	}
	if ctx.Err() != nil {
		return 0
	}
	saveState(spool, spoolState{Stamp: stamp, Window: n, Last: names[n-1], SegmentSize: plan.SegmentSize, Files: files})
	return len(files)
}

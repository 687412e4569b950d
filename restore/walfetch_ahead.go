package restore

import (
	"context"
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
// that folder like any fetched file. When PostgreSQL then asks for one of
// them, it is moved into place at once.

// prefetchDir is the folder of prefetched segments, beside DEST.
const prefetchDir = "logship-prefetch"

// FetchWALAhead is FetchWAL that, when ahead > 0, also fetches up to ahead
// of the following segments. Only the result for name counts: a segment
// that cannot be prefetched (absent, damaged, store error) is left for
// PostgreSQL's own request, which then gets FetchWAL's answer.
func FetchWALAhead(ctx context.Context, cat *catalog.Catalog, name, dest string, ahead int) error {
	dir := filepath.Join(filepath.Dir(dest), prefetchDir)
	if err := os.Rename(filepath.Join(dir, name), dest); err == nil {
		return nil
	}
	next := nextSegments(ctx, cat, name, ahead)
	cleanPrefetched(dir, next)
	var wg sync.WaitGroup
	if len(next) > 0 && os.MkdirAll(dir, 0o700) == nil {
		for _, n := range next {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = FetchWAL(ctx, cat, n, filepath.Join(dir, n))
			}()
		}
	}
	_, err := FetchWAL(ctx, cat, name, dest)
	wg.Wait()
	_ = os.Remove(dir) // only if nothing was prefetched: leave no empty folder
	return err
}

// nextSegments names the ahead segments after name on its timeline; none
// for a history or backup file, or when the segment size is unknown.
func nextSegments(ctx context.Context, cat *catalog.Catalog, name string, ahead int) []string {
	if ahead <= 0 || len(name) != 24 {
		return nil
	}
	src, err := cat.Source(ctx)
	if err != nil || !pg.ValidSegmentSize(src.SegmentSize) {
		return nil
	}
	wf, err := pg.ParseWALFileName(name, src.SegmentSize)
	if err != nil || wf.Kind != pg.Segment {
		return nil
	}
	names := make([]string, ahead)
	for i := range names {
		names[i] = pg.SegmentName(wf.Timeline, wf.SegNo+uint64(i)+1, src.SegmentSize)
	}
	return names
}

// cleanPrefetched removes what recovery will not ask for any more: every
// prefetched file that is not one of the next segments, and leftovers of
// interrupted fetches.
func cleanPrefetched(dir string, keep []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	wanted := map[string]bool{}
	for _, n := range keep {
		wanted[n] = true
	}
	for _, e := range entries {
		if !wanted[e.Name()] || strings.HasSuffix(e.Name(), ".logship-tmp") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

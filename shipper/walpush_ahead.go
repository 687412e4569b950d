package shipper

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// PostgreSQL's archiver hands archive_command one file at a time and waits
// for it, but it marks every completed file <pg_wal>/archive_status/<name>.ready
// as soon as it is complete. PushWALAhead uses that: besides the file it is
// asked for, it pushes the next ready files at the same time, and leaves a
// marker in <pg_wal>/logship-pushed/ for each one that is durable. When the
// archiver then asks for one of those, the marker and its catalog record say
// it is done, and wal-push returns at once. The archiver still decides what
// counts as archived: nothing is acknowledged to it before it asks.

// aheadDir is where the markers live, beside archive_status.
const aheadDir = "logship-pushed"

// PushWALAhead archives path like PushWAL and, when parallel > 1, pushes
// up to parallel-1 of the next ready WAL files along with it. Only the
// result for path is returned; a failed push ahead is logged and left to
// the archiver's own later call.
func PushWALAhead(ctx context.Context, cat *catalog.Catalog, path string, parallel int, opts PushOptions) (PushResult, error) {
	walDir, name := filepath.Dir(path), filepath.Base(path)
	markers := filepath.Join(walDir, aheadDir)
	if _, err := os.Stat(filepath.Join(markers, name)); err == nil {
		// Pushed ahead by an earlier call, which wrote the marker only after
		// the object and then its record were durable; the object is still
		// there, so the record is too (purge removes records first).
		if has, _ := cat.HasWAL(ctx, name); has {
			_ = os.Remove(filepath.Join(markers, name))
			return PushResult{AlreadyStored: true}, nil
		}
	}
	opts = callOptions(ctx, cat, walDir, opts)
	next := readyAfter(walDir, name, parallel-1)
	if len(next) == 0 {
		return PushWAL(ctx, cat, path, opts)
	}
	// Several files at once already keep the cores busy: one zstd frame each.
	opts.Encode.Concurrency = 1
	var wg sync.WaitGroup
	for _, n := range next {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := PushWAL(ctx, cat, filepath.Join(walDir, n), opts); err != nil {
				if opts.Logger != nil {
					opts.Logger.Warn("push ahead failed; the archiver will retry it", "name", n, "error", err)
				}
				return
			}
			// The object and its record are durable; the marker only saves
			// work, so losing it in a crash costs a re-push, nothing more.
			if err := os.MkdirAll(markers, 0o700); err == nil {
				_ = os.WriteFile(filepath.Join(markers, n), nil, 0o600)
			}
		}()
	}
	res, err := PushWAL(ctx, cat, path, opts)
	wg.Wait()
	return res, err
}

// callOptions are opts for the pushes of one call: the source cache in
// pg_wal (when walDir is one: it has archive_status) unless opts name
// one, and one look-up of the encrypted marker for all of them. That one
// look-up is as fresh as one each: it is made after the call began, when
// the first push needs it, and the pushes run at the same time.
func callOptions(ctx context.Context, cat *catalog.Catalog, walDir string, opts PushOptions) PushOptions {
	if opts.SourceCache == nil {
		if fi, err := os.Stat(filepath.Join(walDir, "archive_status")); err == nil && fi.IsDir() {
			opts.SourceCache = NewSourceCache(filepath.Join(walDir, sourceCacheDir))
		}
	}
	if opts.marked == nil && opts.Encode.Encrypt == nil && !opts.AllowPlaintext {
		opts.marked = sync.OnceValues(func() (bool, error) { return cat.EncryptedMarked(ctx) })
	}
	return opts
}

// readyAfter lists up to n WAL files that PostgreSQL has marked ready for
// archiving and that come after name in the archiver's order (oldest
// first), skipping those already pushed ahead. It also drops markers of
// files before name, which the archiver has passed.
func readyAfter(walDir, name string, n int) []string {
	if n <= 0 {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(walDir, "archive_status"))
	if err != nil {
		return nil
	}
	pushed := map[string]bool{}
	if ms, err := os.ReadDir(filepath.Join(walDir, aheadDir)); err == nil {
		for _, m := range ms {
			if m.Name() < name {
				_ = os.Remove(filepath.Join(walDir, aheadDir, m.Name()))
				continue
			}
			pushed[m.Name()] = true
		}
	}
	var ready []string
	for _, e := range entries {
		f, ok := strings.CutSuffix(e.Name(), ".ready")
		if !ok || f <= name || pushed[f] {
			continue
		}
		if _, err := pg.ParseWALFileName(f, 1<<20); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(walDir, f)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		ready = append(ready, f)
	}
	sort.Strings(ready)
	return ready[:min(n, len(ready))]
}

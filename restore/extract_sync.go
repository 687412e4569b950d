package restore

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// syncTreeWorkers bounds the fsyncs in flight: enough to keep a disk queue busy (each
// fsync mostly waits on the device), few enough not to exhaust file descriptors.
const syncTreeWorkers = 16

// SyncTree fsyncs every regular file and directory under dir, dir itself and dir's
// parent, so that after it returns a crash cannot leave a restored data directory
// with files missing or half written. Symlinks are not followed.
func SyncTree(ctx context.Context, dir string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	paths := make(chan string)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for range syncTreeWorkers {
		wg.Go(func() {
			for p := range paths {
				if err := syncTreeFile(p); err != nil {
					fail(err)
				}
			}
		})
	}

	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if isSpool(p) {
			// Prefetched WAL is checked again when it is handed over:
			// it needs no fsync, and 1 GiB of it would cost one.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		select {
		case paths <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(paths)
	wg.Wait()

	if firstErr != nil {
		return firstErr
	}
	if walkErr != nil {
		return fmt.Errorf("sync tree %s: %w", dir, walkErr)
	}
	return syncTreeFile(filepath.Dir(filepath.Clean(dir)))
}

func syncTreeFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open for fsync: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

// isSpool reports the prefetch folder of a pg_wal and its state file.
func isSpool(p string) bool {
	base := filepath.Base(p)
	return filepath.Base(filepath.Dir(p)) == "pg_wal" && (base == prefetchDir || base == prefetchDir+stateSuffix)
}

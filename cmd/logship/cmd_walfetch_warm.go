package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/resident/client"
	"github.com/logship/logship/restore"
)

// With --prefetcher, a wal-fetch that has to go to the store starts a
// background prefetcher for its pg_wal (restore/walfetch_daemon.go), which
// keeps its store client warm and the next --fetch-ahead segments in the
// prefetch folder while PostgreSQL replays; the following calls take them
// from there (TakePrefetched, checked as ever), or wait for the prefetcher
// to bring the one asked for instead of opening a store of their own.

// warmWait bounds how long a call waits for a running prefetcher to bring
// the segment asked for before it fetches it itself: far above a segment's
// download, so that only a stalled prefetcher costs it.
const warmWait = 10 * time.Second

// defaultPrefetcherIdle is how long a prefetcher stays without recovery
// asking for anything new.
const defaultPrefetcherIdle = 30 * time.Second

func walFetchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "prefetcher", EnvVars: []string{"LOGSHIP_FETCH_PREFETCHER"},
			Usage: "when the segment was not prefetched, start a background prefetcher that keeps the next --fetch-ahead segments ready while PostgreSQL replays"},
		&cli.DurationFlag{Name: "prefetcher-idle-exit", EnvVars: []string{"LOGSHIP_FETCH_PREFETCHER_IDLE_EXIT"}, Value: defaultPrefetcherIdle,
			Usage: "a prefetcher leaves when recovery asked for nothing new for this long"},
		&cli.BoolFlag{Name: "prefetch-daemon", Hidden: true, Usage: "be the prefetcher (started by wal-fetch --prefetcher)"},
	}
}

// warmFetch answers a request that was not in the prefetch folder: from a
// running prefetcher when it brings the segment in time, else from the
// store, after starting a prefetcher when none runs.
func warmFetch(c *cli.Context, rt *runtime, name, dest string, opts restore.AheadOptions) error {
	ctx := c.Context
	ahead, late := opts, false
	if restore.PrefetcherRunning(dest) {
		restore.NoteNext(dest, name)
		if restore.WaitPrefetched(ctx, name, dest, opts.Stamp, warmWait) {
			restore.NoteTaken(dest, name, restore.SpoolSegmentSize(dest, opts.Stamp))
			return nil
		}
		ahead.Max = 0 // the prefetcher fetches ahead
	} else if len(name) == 24 {
		// A segment the last prefetcher found unrecorded is a standby at
		// the archive's end asking again: start one only once it came.
		late = restore.SpoolSkipped(dest, opts.Stamp, name)
		if !late && startPrefetcher(c, name, dest) {
			ahead.Max = 0
		}
	}
	cat, err := rt.openCatalog(ctx)
	if err != nil {
		return withCode(exitFetchFatal, err)
	}
	err = restore.FetchWALAhead(ctx, cat, name, dest, ahead)
	if err == nil {
		restore.NoteTaken(dest, name, restore.SpoolSegmentSize(dest, opts.Stamp))
		if late {
			startPrefetcher(c, name, dest)
		}
	}
	return fetchExit(c, err)
}

// startPrefetcher notes name as the segment being fetched and starts
// `logship GLOBALS wal-fetch --prefetch-daemon NAME DEST` in a session of
// its own (PostgreSQL's signals to the startup process never reach it),
// its output appended to <pg_wal>/logship-prefetch.log. It does not wait:
// the prefetcher opens its store while this process fetches name.
func startPrefetcher(c *cli.Context, name, dest string) bool {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		return false
	}
	restore.NoteNext(abs, name)
	argv := append(append([]string{"logship"}, globalArgs(c.App, os.Args)...), "wal-fetch", "--prefetch-daemon",
		"--prefetcher-idle-exit", c.Duration("prefetcher-idle-exit").String(), name, abs)
	return client.StartDetached(self, argv, filepath.Join(filepath.Dir(abs), "logship-prefetch.log")) == nil
}

// runPrefetchDaemon is the prefetcher: name is the segment the process
// that started it fetches itself.
func runPrefetchDaemon(c *cli.Context, rt *runtime, dest string, opts restore.AheadOptions) error {
	// It lives long and allocates per segment: the collector runs as usual
	// (wal-fetch turned it off for its single short fetch).
	debug.SetGCPercent(100)
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return err
	}
	err = restore.RunPrefetcher(c.Context, cat, dest, restore.PrefetcherOptions{
		Ahead: opts.Max, Stamp: opts.Stamp, IdleExit: c.Duration("prefetcher-idle-exit"), Taken: c.Args().Get(0),
	})
	if errors.Is(err, restore.ErrPrefetcherBusy) || c.Context.Err() != nil {
		return nil
	}
	return err
}

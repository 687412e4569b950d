package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/restore"
)

// fetchMemoryLimit is where wal-fetch's garbage collector, otherwise off
// (noGC), starts: well under the 256 MiB every command must stay within.
const fetchMemoryLimit = 128 << 20

// fetchStamp names a store, source and S3 endpoint, so that segments
// prefetched from one are never handed over when restore_command points
// at another. restore computes it for the restore_command it writes.
func fetchStamp(store, source, endpoint string) string {
	sum := sha256.Sum256([]byte(store + "\x00" + source + "\x00" + endpoint))
	return hex.EncodeToString(sum[:16])
}

func walFetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "wal-fetch",
		Usage:     "restore one WAL file (PostgreSQL's restore_command)",
		ArgsUsage: "NAME DEST",
		Description: `Fetches the WAL file NAME from the store into DEST, checking its size and SHA-256
before it appears at DEST. With --fetch-ahead N (default 16) it also fetches the next
segments in parallel into pg_wal/logship-prefetch/, verified the same way, so that
PostgreSQL's next requests are answered at once, without connecting to the store:
4 segments at first, twice as many each time PostgreSQL has used them all, up to N.
A prefetched file is handed over only after its SHA-256 is checked again against what
was verified (listed in pg_wal/logship-prefetch.state); any other is fetched again.
With --prefetcher, a call that has to go to the store also starts a background
prefetcher for its pg_wal, which keeps its store connection and the next segments
ready while PostgreSQL replays, and leaves once recovery is idle (docs/RESIDENT.md).

Exit codes: 0 fetched. 1 NAME is not in the archive: the source exists in the
store, the store answered, and NAME is neither recorded nor stored; PostgreSQL reads
this as the end of the archive (it asks for .history files and other timelines'
segments that never existed). 200 anything else, above 125 on purpose, so that
PostgreSQL stops recovery instead of taking a damaged or unreachable archive for its
end: no source record (an empty or unmounted store folder, a misspelt --store or
--source), an unreadable catalog, NAME recorded but its object missing, an object that
does not match its record (another cluster's, an older copy) or is corrupt, an
encrypted object and no --identity-file that opens it, a store or configuration
failure, and bad arguments (a wrong number of arguments, an invalid NAME, an
unknown flag). 130 interrupted (also above 125).

Example (postgresql.conf of the restored server):
   restore_command = 'logship --store file:///var/lib/logship wal-fetch %f %p'`,
		// Exit 2 would read as "end of archive" too.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return withCode(exitFetchFatal, err) },
		Flags:        walFetchFlags(),
		Action: func(c *cli.Context) error {
			noGC()
			// GC stays off until the heap nears the limit: a window of
			// segments allocates more than a single fetch.
			debug.SetMemoryLimit(fetchMemoryLimit)
			if err := needArgs(c, "NAME", "DEST"); err != nil {
				// A malformed restore_command must stop recovery, not end it.
				return withCode(exitFetchFatal, err)
			}
			rt, err := setup(c)
			if err != nil {
				// A broken configuration must stop recovery, not end it.
				return withCode(exitFetchFatal, err)
			}
			name, dest := c.Args().Get(0), c.Args().Get(1)
			opts := restore.AheadOptions{Max: rt.cfg.FetchAhead, Stamp: fetchStamp(rt.cfg.Store, rt.cfg.Source, rt.cfg.S3.Endpoint)}
			if c.Bool("prefetch-daemon") {
				return runPrefetchDaemon(c, rt, dest, opts)
			}
			warm := c.Bool("prefetcher") && opts.Max > 0
			// A prefetched file needs no store: answer before connecting.
			if opts.Max > 0 && restore.TakePrefetched(name, dest, opts.Stamp) {
				if warm {
					restore.NoteTaken(dest, name, restore.SpoolSegmentSize(dest, opts.Stamp))
				}
				return nil
			}
			if warm {
				return warmFetch(c, rt, name, dest, opts)
			}
			cat, err := rt.openCatalog(c.Context)
			if err != nil {
				return withCode(exitFetchFatal, err)
			}
			return fetchExit(c, restore.FetchWALAhead(c.Context, cat, name, dest, opts))
		},
	}
}

// fetchExit maps a fetch's error to wal-fetch's exit codes.
func fetchExit(c *cli.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, restore.ErrAbsent):
		return withCode(exitFailure, err)
	case c.Context.Err() != nil:
		return withCode(exitCancelled, err)
	default:
		return withCode(exitFetchFatal, err)
	}
}

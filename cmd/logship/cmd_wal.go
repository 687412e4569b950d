package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
)

func walPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "wal-push",
		Usage:     "archive one WAL file (PostgreSQL's archive_command)",
		ArgsUsage: "PATH",
		Description: `Compresses and checksums the WAL file at PATH, stores it create-only and records it
in the catalog. Exits 0 only when both are durable. Pushing a file that is already
stored with the same content succeeds (a retry); a different content under the same
name fails and keeps the stored file. With --push-parallel N (default 4), it also stores
up to N-1 of the next files PostgreSQL has marked ready, at the same time, so that the
archiver's later calls for them return at once (markers in pg_wal/logship-pushed/).
What it read of the source record is kept in pg_wal/logship-cache/ for a few minutes,
so that most calls make only the two writes (docs/FORMAT.md, "Requests per WAL segment").

Exit codes: 0 stored, 1 failed (PostgreSQL retries later), 2 bad input (a path that
is not a regular WAL file) or configuration, 130 interrupted.

Example (postgresql.conf):
   archive_mode = on
   archive_command = 'logship --store file:///var/lib/logship wal-push %p'

With --on-failure CMD (or the config key on-failure), a failed push runs CMD through
/bin/sh -c with LOGSHIP_HOOK_JOB=wal-push, LOGSHIP_HOOK_ERROR and LOGSHIP_HOOK_EXIT_CODE
set; see logship schedule --help.`,
		Action: walPush,
	}
}

func walPush(c *cli.Context) error {
	noGC()
	if err := needArgs(c, "PATH"); err != nil {
		return err
	}
	rt, err := setup(c)
	if err != nil {
		return err
	}
	// Only failures: a hook per pushed segment would be noise.
	err = pushWAL(c, rt)
	if err != nil {
		rt.notify(c.Context, "wal-push", err)
	}
	return err
}

func pushWAL(c *cli.Context, rt *runtime) error {
	if err := regularFile(c.Args().First()); err != nil {
		return usageErr(err)
	}
	rt.deferBucketCheck = true
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return err
	}
	_, err = shipper.PushWALAhead(c.Context, cat, c.Args().First(), rt.cfg.PushParallel,
		shipper.PushOptions{Encode: rt.encodeOptions(), Logger: rt.log, AllowPlaintext: rt.cfg.AllowPlaintext})
	if errors.Is(err, pg.ErrInvalidWALFileName) || errors.Is(err, shipper.ErrNotWALFile) {
		return usageErr(err)
	}
	return err
}

// regularFile refuses a path that exists and is not a regular file (after
// symlinks): reading a FIFO or a device would block or never end, and no
// WAL file is one. A missing file is left to the shipper, which knows what
// PostgreSQL may have already moved.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is not a regular file (%s): wal-push reads WAL files only", path, fileKind(fi.Mode()))
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// noGC turns the garbage collector off for wal-push and wal-fetch: each is
// a short process holding at most a few segments, which exits well before
// collecting would free anything worth the time it costs (a few ms a call,
// on PostgreSQL's critical path).
func noGC() { debug.SetGCPercent(-1) }

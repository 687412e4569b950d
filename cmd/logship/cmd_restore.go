package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/server"
	"github.com/logship/logship/restore"
)

// restoreHelp is restore's --help text.
const restoreHelp = `Picks the newest complete base backup that ends before the target, on the target's
timeline, and checks that every WAL segment from the backup to the target is in the
store before writing anything. Then it extracts the backup into --target-dir,
verifying every part's checksum and every file against the backup manifest, and
writes the recovery settings: restore_command runs this logship binary's wal-fetch
with the same store and source (never a secret), the target, and recovery.signal
(or standby.signal with --standby).

An incremental backup is rebuilt in place: the full backup, then each incremental
down to the one used, streamed from the store, each file checked against its own
backup's manifest. Tablespaces go back to their original paths, or where
--tablespace-map OLD=NEW says; a tablespace path that exists and is not empty (on
the source's host: the source's own) or lies in a running server's data directory is
refused before anything is written, even with --force.

Targets (at most one; none means everything in the store):
   --mark NAME|latest   a mark; latest is the one made last
   --time T             the last commit at or before T (RFC 3339, or "2006-01-02 15:04:05-07")
   --lsn L              a WAL position, e.g. 0/3000148
   --immediate          the end of the backup: the earliest consistent state

A mark is recovered to by its recorded LSN (the end of its restore point record,
recovery_target_inclusive off), not by name: a restore point of the same name made
by hand earlier cannot stop the restore short.

--start starts PostgreSQL on the directory (as the postgres OS user when run as
root), waits until the target is reached and prints the mark, LSN, timeline and
the time it took (the RTO). For a mark, --lsn or --time it then checks where
recovery stopped: exactly at the mark's LSN; after the first record at or past
--lsn; before the first commit after --time. A stop anywhere else stops the server
and fails (exit 1). With action promote the server pauses at the target and is
promoted only once the check passed. Without --start it prints the commands to
start and stop it, and the stop is not checked.
Without --port the server keeps the backup's port and socket directory, unless that
port is in use on this host (say, by the source itself) or that directory does not
exist here: then it gets the next free port, with its socket in the data directory.
A promoted server archives with the source's archive_command, into the same store, on
a new timeline; restores that follow the latest timeline then take it. For a drill,
add --no-archive.

Exit codes: 0 restored (with --start: the target was reached); 1 failed: no backup
fits, a segment is missing, a part or the manifest does not match its checksum, the
extraction failed (the directory is then incomplete: rerun with --force), the
started server stopped before its target, or recovery stopped away from it; 2 bad
arguments or configuration, an unknown mark, a target past the end of the archive (an
LSN after the newest shipped segment, a time after it was stored), a --target-dir that
is not a directory, a non-empty one without --force, one that is, holds or lies inside
the store's folder, a PostgreSQL data directory or a running server's, or a tablespace
path in use; nothing is written then; 130 interrupted.

--force empties --target-dir only when no PostgreSQL server runs on it or anywhere
beneath it, and it is a previous logship restore target (restore leaves
pg_wal/logship_restore.json in it) or holds no PostgreSQL data directory (PG_VERSION
and global/pg_control) at all.

Example:
   logship --store s3://backups/pg --source main restore --target-dir /srv/pg-dr \
       --mark before_upgrade --start --port 5433`

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:        "restore",
		Usage:       "restore a data directory to a mark, a time, an LSN, or the end of the archive",
		Description: restoreHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target-dir", Usage: "data directory to create (required; must be empty or absent)", Required: true},
			&cli.StringFlag{Name: "mark", Usage: "restore to the mark NAME, or latest"},
			&cli.StringFlag{Name: "time", Usage: `restore to a time, RFC 3339 or "2006-01-02 15:04:05-07"`},
			&cli.StringFlag{Name: "lsn", Usage: "restore to a WAL position, e.g. 0/3000148"},
			&cli.BoolFlag{Name: "immediate", Usage: "stop as soon as the backup is consistent"},
			&cli.StringFlag{Name: "action", Value: "promote", Usage: "at the target: promote, pause or shutdown"},
			&cli.BoolFlag{Name: "standby", Usage: "write standby.signal: keep replaying segments as they are shipped"},
			&cli.BoolFlag{Name: "start", Usage: "start PostgreSQL and wait until the target is reached"},
			&cli.BoolFlag{Name: "force", Usage: "delete what --target-dir holds first (only a previous restore target, or a folder without a PostgreSQL cluster)"},
			&cli.BoolFlag{Name: "no-archive", Usage: "turn archiving off in the restored server (drills: a promoted drill must not ship a new timeline into the store)"},
			&cli.StringFlag{Name: "pg-bin", Usage: "directory of pg_ctl, postgres and psql (default: PATH, pg_config, /usr/lib/postgresql)"},
			&cli.IntFlag{Name: "port", DefaultText: "the backup's, or the next free one when that is in use here", Usage: "port of the restored server, with its socket in the data directory"},
			&cli.DurationFlag{Name: "start-timeout", Value: time.Hour, Usage: "with --start: how long to wait for the target"},
			&cli.IntFlag{Name: "parallel", Value: 4, Usage: "backup parts fetched and decoded ahead of the extraction"},
			&cli.BoolFlag{Name: "prefetcher", Usage: "restore_command runs wal-fetch --prefetcher: a fetch that misses starts a background prefetcher that keeps the store connection warm and the next segments ready, verified, while PostgreSQL replays (docs/RESIDENT.md, Fetch)"},
			&cli.IntFlag{Name: "prefetch-wal", Value: restore.DefaultPrefetchWAL, Usage: "with --start: the first WAL segments recovery needs, fetched into pg_wal/logship-prefetch/ while the backup is extracted (at most that many segments of disk; 0 = none)"},
			&cli.StringSliceFlag{Name: "tablespace-map", Usage: "OLD=NEW: restore the tablespace at OLD on the source to NEW (repeatable); others go back to their original paths"},
			jsonFlag,
		},
		Action: runRestore,
	}
}

// restoreOutput is what --json prints.
type restoreOutput struct {
	Restore      restore.Result   `json:"restore"`
	Reached      *restore.Reached `json:"reached,omitempty"`
	RTO          time.Duration    `json:"rto_ns,omitempty"`
	StartCommand string           `json:"start_command,omitempty"`
	// Without --start: where the server will listen, why not on the
	// backup's port if so, and how to stop it.
	Port        int    `json:"port,omitempty"`
	SocketDir   string `json:"socket_dir,omitempty"`
	PortNote    string `json:"port_note,omitempty"`
	StopCommand string `json:"stop_command,omitempty"`
}

func runRestore(c *cli.Context) error {
	began := time.Now()
	if err := needArgs(c); err != nil {
		return err
	}
	target, action, err := restoreFlags(c)
	if err != nil {
		return err
	}
	tsMap, err := restore.ParseTablespaceMap(c.StringSlice("tablespace-map"))
	if err != nil {
		return usageErr(err)
	}
	rt, cat, err := setupCatalog(c)
	if err != nil {
		return err
	}
	plan, err := restore.NewPlan(c.Context, cat, target)
	warnStrayKeys(rt.stderr, cat)
	switch {
	case errors.Is(err, restore.ErrUnknownMark), errors.Is(err, restore.ErrBadTarget):
		return usageErr(err)
	case err != nil:
		return err
	}
	rt.log.Info("restore plan", "backup", plan.BackupID, "target", plan.Target, "timeline", plan.Timeline,
		"first_wal", plan.FirstWAL, "last_wal", plan.LastWAL, "segments", plan.Segments)
	if plan.StreamedWAL != "" {
		rt.log.Info("restore plan: streamed tail", "segment", plan.StreamedWAL, "bytes", plan.StreamedBytes, "replay_to", plan.StreamedEnd)
	}

	rt.prefetcher = c.Bool("prefetcher")
	fetch, err := rt.fetchCommand(cat)
	if err != nil {
		return err
	}
	prog := newProgress("restore", rt.stderr, rt.log)
	if prefetchWAL(c, rt) > 0 {
		// Segments prefetched during the extraction add garbage to the
		// parts it buffers: collect before the heap doubles past the
		// bound every command keeps.
		debug.SetMemoryLimit(restoreMemoryLimit)
	}
	res, err := restore.Run(c.Context, cat, plan, restore.Options{
		TargetDir: c.String("target-dir"), Force: c.Bool("force"), Standby: c.Bool("standby"),
		Action: action, NoArchive: c.Bool("no-archive"), RestoreCommand: fetch, Parallel: c.Int("parallel"), Progress: prog.update, Logger: rt.log,
		TablespaceMap: tsMap, PrefetchWAL: prefetchWAL(c, rt),
		FetchStamp: fetchStamp(cat.StoreURL(), cat.SourceName(), rt.cfg.S3.Endpoint),
	})
	prog.end()
	if errors.Is(err, restore.ErrNotEmpty) || errors.Is(err, restore.ErrBadTablespaceMap) || errors.Is(err, restore.ErrUnsafeTarget) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	// Where the server listens: the backup's port, unless it is taken here.
	port, note, err := restoredListen(res.TargetDir, c.Int("port"))
	if err != nil {
		return err
	}
	if !c.Bool("start") {
		return reportUnstarted(c, rt, plan, res, port, note)
	}
	if !c.Bool("json") {
		printRestored(rt.stdout, res)
		if note != "" {
			fmt.Fprintln(rt.stdout, note)
		}
	}
	return startRestored(c, rt, plan, res, began, port)
}

// restoreFlags checks restore's flags and returns the recovery target and
// the recovery action; its errors are usage errors.
func restoreFlags(c *cli.Context) (restore.Target, string, error) {
	if err := checkTargetDir(c.String("target-dir")); err != nil {
		return restore.Target{}, "", usageErr(err)
	}
	target, err := restoreTarget(c)
	if err != nil {
		return restore.Target{}, "", usageErr(err)
	}
	target.Standby = c.Bool("standby")
	action := c.String("action")
	if err := restore.ValidAction(action); err != nil {
		return restore.Target{}, "", usageErr(fmt.Errorf("--%w", err))
	}
	if p := c.Int("port"); p < 0 || p > 65535 {
		return restore.Target{}, "", usageErr(fmt.Errorf("--port %d: want 1 to 65535", p))
	}
	if c.Int("parallel") < 1 {
		return restore.Target{}, "", usageErr(errors.New("--parallel: want at least 1"))
	}
	return target, action, nil
}

// reportUnstarted ends a restore without --start: it sets the port and
// says how to start the server.
func reportUnstarted(c *cli.Context, rt *runtime, plan restore.Plan, res restore.Result, port int, note string) error {
	out := restoreOutput{Restore: res, PortNote: note}
	if port != 0 {
		if err := restore.SetPort(res.TargetDir, port); err != nil {
			return err
		}
	}
	out.StartCommand, out.StopCommand = startCommand(res.TargetDir, c.String("pg-bin"))
	out.Port, out.SocketDir = listenSettings(res.TargetDir)
	if c.Bool("json") {
		return printJSON(rt.stdout, out)
	}
	printRestored(rt.stdout, res)
	if note != "" {
		fmt.Fprintln(rt.stdout, note)
	}
	fmt.Fprintf(rt.stdout, "start it with:\n   %s\nit listens on port %d, socket in %s; stop it with:\n   %s\n",
		out.StartCommand, out.Port, out.SocketDir, out.StopCommand)
	if plan.Recovery.LSN != 0 || !plan.Recovery.Time.IsZero() {
		fmt.Fprintf(rt.stdout, "where recovery stops is checked against the target only with --start: after starting it by hand, compare the server's \"recovery stopping\" line with %s\n", targetWhere(plan))
	}
	return nil
}

// startRestored starts the restored server, checks where recovery ended
// and reports it; began is when the restore began, for the RTO.
func startRestored(c *cli.Context, rt *runtime, plan restore.Plan, res restore.Result, began time.Time, port int) error {
	reached, err := restore.Start(c.Context, res.TargetDir, restore.StartOptions{
		PGBin: c.String("pg-bin"), Port: port, Timeout: c.Duration("start-timeout"), Logger: rt.log,
	})
	if err != nil {
		return err
	}
	if reached.State == "promoted" {
		if err := restore.CheckReachedEnd(plan, reached.LSN); err != nil {
			return fmt.Errorf("%w; the promoted server (pid %d) still runs on %s: do not use it", err, reached.PID, res.TargetDir)
		}
	}
	out := restoreOutput{Restore: res, Reached: &reached, RTO: time.Since(began)}
	if c.Bool("json") {
		return printJSON(rt.stdout, out)
	}
	fmt.Fprintf(rt.stdout, "reached %s: %s at LSN %s on timeline %d; recovery took %s, RTO %s\n",
		targetWhere(plan), reached.State, reached.LSN, reached.Timeline, reached.Duration.Round(time.Millisecond), out.RTO.Round(time.Millisecond))
	if plan.Mark != nil {
		fmt.Fprintf(rt.stdout, "restored to mark %s at LSN %s (checked: replay ended exactly there)\n", plan.Mark.Name, plan.Mark.LSN)
	}
	if reached.StopLine != "" {
		fmt.Fprintf(rt.stdout, "server log: %s\n", reached.StopLine)
	}
	if reached.State != "shut down" {
		srv := server.Server{BinDir: reached.BinDir, DataDir: res.TargetDir}
		fmt.Fprintf(rt.stdout, "server running: pid %d, port %d, socket %s, log %s\nstop it with: %s\n",
			reached.PID, reached.Port, reached.SocketDir, reached.LogFile, srv.StopCommand(server.AsRoot()))
	}
	return nil
}

// checkTargetDir refuses, before anything is read or written, a
// --target-dir that can never be a data directory: empty, or a path that
// is (or runs through) something other than a directory. Whether it is
// empty is restore's to check, which --force changes.
func checkTargetDir(dir string) error {
	if dir == "" {
		return errors.New("--target-dir is empty: give the data directory to create")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("--target-dir %s: a parent of it is not a directory", dir)
	case err == nil && !fi.IsDir():
		return fmt.Errorf("--target-dir %s is not a directory: give a directory that is empty or absent", dir)
	}
	return nil
}

// targetWhere names the target for the user: a mark by its name and LSN,
// since recovery goes to the LSN.
func targetWhere(plan restore.Plan) string {
	if m := plan.Mark; m != nil {
		return fmt.Sprintf("mark %s (LSN %s)", m.Name, m.LSN)
	}
	return plan.Target
}

// restoreTarget reads the target flags; at most one may be given.
func restoreTarget(c *cli.Context) (restore.Target, error) {
	var t restore.Target
	n := 0
	for _, f := range []string{"mark", "time", "lsn", "immediate"} {
		if c.IsSet(f) {
			n++
		}
	}
	if n > 1 {
		return t, errors.New("give one target: --mark, --time, --lsn or --immediate (none restores everything in the store)")
	}
	switch {
	case c.IsSet("mark"):
		t.Mark = c.String("mark")
		if t.Mark != "latest" {
			if err := catalog.ValidMarkName(t.Mark); err != nil {
				return t, fmt.Errorf("--mark: %w", err)
			}
		}
	case c.IsSet("time"):
		tm, err := parseTargetTime(c.String("time"))
		if err != nil {
			return t, err
		}
		t.Time = tm
	case c.IsSet("lsn"):
		lsn, err := pg.ParseLSN(c.String("lsn"))
		if err != nil {
			return t, fmt.Errorf("--lsn: %w", err)
		}
		if lsn == 0 {
			return t, errors.New("--lsn 0/0 is no WAL position")
		}
		t.LSN = lsn
	case c.IsSet("immediate"):
		t.Immediate = c.Bool("immediate")
	}
	return t, nil
}

var targetTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
}

// parseTargetTime accepts RFC 3339 and PostgreSQL's own timestamptz output.
// A time without a UTC offset is refused: the restore host's time zone may
// not be the source's.
func parseTargetTime(s string) (time.Time, error) {
	for _, layout := range targetTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf(`--time %q: want RFC 3339 (2026-11-27T04:33:00Z) or "2006-01-02 15:04:05-07", with a UTC offset`, s)
}

// fetchCommand is the restore_command of a restored directory: this binary,
// by absolute path, with the store and source and the non-secret S3
// settings. Credentials stay in the server's environment.
func (r *runtime) fetchCommand(cat *catalog.Catalog) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the logship binary for restore_command: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	argv := []string{exe, "--store", cat.StoreURL(), "--source", cat.SourceName()}
	if r.cfg.S3.Endpoint != "" {
		argv = append(argv, "--s3-endpoint", r.cfg.S3.Endpoint)
	}
	if r.cfg.S3.Region != "" {
		argv = append(argv, "--s3-region", r.cfg.S3.Region)
	}
	if r.cfg.S3.PathStyle {
		argv = append(argv, "--s3-path-style")
	}
	if r.cfg.S3.ReadOriginal {
		argv = append(argv, "--s3-read-original")
	}
	if strings.HasPrefix(cat.StoreURL(), "s3:") && r.cfg.S3.RequestTimeout != 30*time.Second {
		argv = append(argv, "--s3-request-timeout", r.cfg.S3.RequestTimeout.String())
	}
	if r.cfg.IdentityFile != "" {
		// The file's name, never its content: the server's wal-fetch reads
		// it (as the postgres user, so mode 0600 owned by postgres or 0640
		// with its group).
		id, err := filepath.Abs(r.cfg.IdentityFile)
		if err != nil {
			return "", fmt.Errorf("identity-file: %w", err)
		}
		argv = append(argv, "--identity-file", id)
	}
	var fetchFlags []string
	if r.prefetcher {
		fetchFlags = append(fetchFlags, "--prefetcher")
	}
	return restore.FetchCommandWith(argv, fetchFlags), nil
}

// startCommand is how a user starts, and then stops, the restored
// directory by hand.
func startCommand(dir, pgBin string) (start, stop string) {
	srv := server.Server{DataDir: dir}
	version, _ := server.DataDirMajor(dir)
	if bin, err := restore.FindBinDir(pgBin, version); err == nil {
		srv.BinDir = bin
	}
	return srv.StartCommand(filepath.Join(dir, "log", "logship-start.log"), server.AsRoot()), srv.StopCommand(server.AsRoot())
}

func printRestored(w io.Writer, res restore.Result) {
	p := res.Plan
	kind := "recovery.signal"
	if res.Standby {
		kind = "standby.signal"
	}
	fmt.Fprintf(w, "restored backup %s into %s: %s, %s, in %s\n", p.BackupID, res.TargetDir, plural.N(res.Files, "file"), humanBytes(res.RawBytes), res.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "target %s on timeline %d, WAL %s to %s (%s checked in the store), %s, action %s\n",
		p.Target, p.Timeline, p.FirstWAL, p.LastWAL, plural.N(p.Segments, "segment"), kind, res.Action)
	if p.StreamedWAL != "" {
		reach := "no record ends in it"
		if p.StreamedEnd != 0 {
			reach = "replay must reach " + p.StreamedEnd.String()
		}
		fmt.Fprintf(w, "then the streamed tail of %s (%d bytes stored by logship receive): %s\n", p.StreamedWAL, p.StreamedBytes, reach)
	}
}

// restoreMemoryLimit is where restore's garbage collector runs however
// little the heap grew since the last cycle.
const restoreMemoryLimit = 192 << 20

// prefetchWAL is --prefetch-wal, or 0 when the restore_command's wal-fetch
// would not look at prefetched files (--fetch-ahead 0) or the server is not
// started now: a directory started later replays what the store holds
// then, and does not keep a GiB of segments meanwhile.
func prefetchWAL(c *cli.Context, rt *runtime) int {
	if rt.cfg.FetchAhead == 0 || !c.Bool("start") {
		return 0
	}
	return max(c.Int("prefetch-wal"), 0)
}

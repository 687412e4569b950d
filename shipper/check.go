package shipper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg/sqlsource"
)

// CheckOptions tune RunChecks.
type CheckOptions struct {
	// ConnString is the libpq connection string of the source ("" uses
	// the PG* environment variables).
	ConnString string
	// ArchiveCommand is what archive_command should be, quoted in the
	// fix for a wrong one.
	ArchiveCommand string
	// Timeout bounds each check that talks to PostgreSQL or the store;
	// 0 means 15 s.
	Timeout time.Duration
	// ObjectLock is --s3-object-lock; when set, check also asks the bucket
	// whether it has versioning and Object Lock.
	ObjectLock string
	// Slot is a replication slot of logship receive to watch besides those
	// named logship_*; MaxSlotRetained the WAL a slot may keep before
	// check warns (0: DefaultMaxSlotRetained; negative: no limit).
	Slot            string
	MaxSlotRetained int64
}

// CheckResult is one health check: OK, or what is wrong and how to fix it.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Warning marks a check that passed but deserves a look: something
	// logship cannot verify from here, or a set-up that has not shipped yet.
	Warning bool `json:"warning,omitempty"`
}

// Check names, in the order RunChecks reports them.
const (
	CheckConnection     = "connection"
	CheckWALLevel       = "wal_level"
	CheckArchiveMode    = "archive_mode"
	CheckArchiveCommand = "archive_command"
	CheckArchiver       = "archiver"
	CheckReplication    = "replication"
	CheckStoreWritable  = "store writable"
	CheckSystemID       = "system identifier"
	CheckObjectLock     = "object lock"
)

// RunChecks checks, in the spirit of barman check, everything shipping
// needs: the source's settings, its archiver, a replication connection,
// a store that takes writes, and that store and source are one cluster.
// It never stops at the first failure; every check gets a verdict.
func RunChecks(ctx context.Context, cat *catalog.Catalog, opts CheckOptions) []CheckResult {
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	var out []CheckResult
	add := func(r CheckResult) { out = append(out, r) }

	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	conn, err := sqlsource.Connect(cctx, opts.ConnString)
	cancel()
	var sysid uint64
	if err != nil {
		// One verdict: every other check of the source would fail the same
		// way, and seven FAILED lines hide the one cause.
		add(connectionFailure(opts.ConnString, err))
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
		qctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		ident, err := conn.Identity(qctx)
		cancel()
		if err != nil {
			add(CheckResult{Name: CheckConnection, Detail: "connected, but cannot query: " + err.Error(),
				Fix: "check that the user may log in to the database and read pg_control_system()"})
		} else {
			sysid = ident.SystemID
			add(CheckResult{Name: CheckConnection, OK: true,
				Detail: fmt.Sprintf("connected as %s to PostgreSQL %s", ident.User, ident.Version)})
		}
		out = append(out, settingChecks(ctx, conn, cat, opts)...)
		add(replicationCheck(ctx, opts))
		if r, ok := slotCheck(ctx, conn, opts); ok {
			add(r)
		}
	}
	add(storeCheck(ctx, cat, opts.Timeout))
	if opts.ObjectLock != "" {
		add(objectLockCheck(ctx, cat, opts.ObjectLock, opts.Timeout))
	}
	if conn != nil {
		add(systemIDCheck(ctx, cat, sysid, opts.Timeout))
	}
	return out
}

// Failed counts the checks that failed.
func Failed(results []CheckResult) int {
	n := 0
	for _, r := range results {
		if !r.OK {
			n++
		}
	}
	return n
}

// connectionFailure is the one verdict for a source that cannot be
// reached: where logship tried, and the likely cause.
func connectionFailure(connString string, err error) CheckResult {
	r := CheckResult{Name: CheckConnection,
		Fix: "set --pg (LOGSHIP_PG, or pg: in the config file) to a libpq connection string, e.g. \"host=/var/run/postgresql user=postgres\", and check pg_hba.conf"}
	at, user := "the default socket", ""
	if cfg, perr := pgconn.ParseConfig(connString); perr == nil {
		at = fmt.Sprintf("%s port %d", cfg.Host, cfg.Port)
		user = cfg.User
	}
	msg := err.Error()
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file or directory") {
		r.Detail = fmt.Sprintf("cannot connect to PostgreSQL at %s: is it running?", at)
		r.Fix = "start PostgreSQL, or fix host= and port= in --pg (LOGSHIP_PG, or pg: in the config file)"
		return r
	}
	r.Detail = fmt.Sprintf("cannot connect to PostgreSQL at %s as user %q: %s", at, user, msg)
	return r
}

func settingChecks(ctx context.Context, conn *sqlsource.Source, cat *catalog.Catalog, opts CheckOptions) []CheckResult {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	set, err := conn.ArchiveSettings(ctx)
	level, mode, command, library := set.WALLevel, set.ArchiveMode, set.ArchiveCommand, set.ArchiveLibrary
	if err != nil {
		fail := CheckResult{Detail: "cannot read the settings: " + err.Error(), Fix: "check the connection's user"}
		var out []CheckResult
		for _, name := range []string{CheckWALLevel, CheckArchiveMode, CheckArchiveCommand, CheckArchiver} {
			fail.Name = name
			out = append(out, fail)
		}
		return out
	}
	restart := "in postgresql.conf (or ALTER SYSTEM SET ...) and restart PostgreSQL"
	out := []CheckResult{{Name: CheckWALLevel, OK: level == "replica" || level == "logical", Detail: "wal_level = " + level + summarizeWALNote(ctx, conn)}}
	if !out[0].OK {
		out[0].Fix = "set wal_level = replica " + restart
	}
	am := CheckResult{Name: CheckArchiveMode, OK: mode == "on" || mode == "always", Detail: "archive_mode = " + mode}
	if !am.OK {
		am.Fix = "set archive_mode = on " + restart
	}
	out = append(out, am, archiveCommandCheck(command, library, opts.ArchiveCommand, cat.StoreURL(), cat.SourceName()))
	out = append(out, archiverCheck(ctx, conn))
	return out
}

func archiveCommandCheck(command, library, want, storeURL, source string) CheckResult {
	r := CheckResult{Name: CheckArchiveCommand, Detail: fmt.Sprintf("archive_command = '%s'", command)}
	fix := "ALTER SYSTEM SET archive_command = '" + want + "'; SELECT pg_reload_conf();"
	switch {
	case library != "":
		r.Detail = fmt.Sprintf("archive_library = '%s' is set, so archive_command is not used", library)
		r.Fix = "ALTER SYSTEM RESET archive_library; " + fix
	case command == "":
		r.Detail = "archive_command is not set: no WAL is shipped"
		r.Fix = fix
	case !strings.Contains(command, "logship") || !strings.Contains(command, "wal-push"):
		r.Detail += ": it does not run logship wal-push"
		r.Fix = fix
	case !strings.Contains(command, "%p"):
		r.Detail += ": it does not pass the file's path (%p)"
		r.Fix = fix
	default:
		return archiveTargetCheck(r, command, fix, storeURL, source)
	}
	return r
}

// archiveTargetCheck fails an archive_command that ships to another store
// or source than this check's, and warns about what it leaves to the
// archiver's environment or config file, which logship cannot see.
func archiveTargetCheck(r CheckResult, command, fix, storeURL, source string) CheckResult {
	t, ok := parseArchiveCommand(command)
	if !ok {
		r.OK, r.Warning = true, true
		r.Detail += ": its store and source could not be read from it (not checked)"
		return r
	}
	var wrong, unchecked []string
	switch {
	case t.Store == "":
		unchecked = append(unchecked, "store")
	case !sameStore(t.Store, storeURL):
		wrong = append(wrong, fmt.Sprintf("store %s, not %s", t.Store, storeURL))
	}
	switch {
	case t.Source == "":
		unchecked = append(unchecked, "source")
	case t.Source != source:
		wrong = append(wrong, fmt.Sprintf("source %q, not %q", t.Source, source))
	}
	if len(wrong) > 0 {
		r.Detail += ": it ships to " + strings.Join(wrong, " and ")
		r.Fix = fix + " (or run check with the --store and --source the archiver uses)"
		return r
	}
	r.OK = true
	r.Detail += fmt.Sprintf(": ships to store %s, source %q", storeURL, source)
	if len(unchecked) > 0 {
		r.Warning = true
		from := "the server's environment/config"
		if t.Config != "" {
			from = "the config file " + t.Config + " or the server's environment"
		}
		r.Detail = fmt.Sprintf("archive_command = '%s': its %s %s from %s (not checked)", command,
			strings.Join(unchecked, " and "), map[bool]string{true: "come", false: "comes"}[len(unchecked) > 1], from)
	}
	return r
}

func archiverCheck(ctx context.Context, conn *sqlsource.Source) CheckResult {
	r := CheckResult{Name: CheckArchiver}
	st, err := conn.ArchiverStats(ctx)
	archived, failed, lastOK, lastFail, failedWAL := st.Archived, st.Failed, st.LastArchived, st.LastFailed, st.LastFailedWAL
	switch {
	case err != nil:
		r.Detail, r.Fix = "cannot read pg_stat_archiver: "+err.Error(), "check the connection's user"
	case lastFail != nil && (lastOK == nil || lastFail.After(*lastOK)):
		r.Detail = fmt.Sprintf("archiving is failing: %s failed at %s (%d failures, %d files archived)",
			deref(failedWAL), lastFail.UTC().Format(time.RFC3339), failed, archived)
		r.Fix = "see the PostgreSQL log for the archive_command's error (logship prints it on stderr)"
	default:
		r.OK = true
		r.Detail = fmt.Sprintf("%d files archived, %d failures", archived, failed)
		if lastOK != nil {
			r.Detail += ", last at " + lastOK.UTC().Format(time.RFC3339)
		}
	}
	return r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// replicationCheck opens a replication connection, as backup does: that
// proves the REPLICATION attribute, a pg_hba.conf replication line and a
// free WAL sender slot at once.
func replicationCheck(ctx context.Context, opts CheckOptions) CheckResult {
	r := CheckResult{Name: CheckReplication}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cfg, err := pgconn.ParseConfig(opts.ConnString)
	if err != nil {
		r.Detail, r.Fix = "bad connection string: "+err.Error(), "fix --pg"
		return r
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = "logship check"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		r.Detail = "cannot open a replication connection (backup needs one): " + err.Error()
		r.Fix = "give the user the REPLICATION attribute (ALTER ROLE name REPLICATION), allow it in pg_hba.conf " +
			"(a line for database 'replication'), and keep max_wal_senders above the number of standbys"
		return r
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		r.Detail, r.Fix = "IDENTIFY_SYSTEM failed: "+err.Error(), "check the user's REPLICATION attribute"
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("replication connection works (timeline %d, WAL at %s)", id.Timeline, id.XLogPos)
	return r
}

// storeCheck writes, reads back and deletes a probe object under
// <source>/check/, the way wal-push writes.
func storeCheck(ctx context.Context, cat *catalog.Catalog, timeout time.Duration) CheckResult {
	r := CheckResult{Name: CheckStoreWritable}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fix := "check --store, that the folder or bucket exists, and that this user (or these credentials) may write, read and delete there"
	key, err := cat.ProbeWritable(ctx)
	var pe *catalog.ProbeError
	switch {
	case err == nil:
		r.OK = true
		r.Detail = fmt.Sprintf("wrote, read back and deleted %s in %s", key, cat.StoreURL())
	case !errors.As(err, &pe):
		r.Detail, r.Fix = err.Error(), fix
	case pe.Step == catalog.ProbeWrite:
		r.Detail, r.Fix = fmt.Sprintf("cannot write %s to %s: %v", key, cat.StoreURL(), pe.Err), fix
	case pe.Step == catalog.ProbeRead:
		r.Detail, r.Fix = fmt.Sprintf("wrote %s but cannot read it back: %v", key, pe.Err), fix
	case pe.Step == catalog.ProbeCompare:
		r.Detail, r.Fix = fmt.Sprintf("read back %s differs from what was written (%v)", key, pe.Err), "check the store's health and any proxy in front of it"
	case pe.Step == catalog.ProbeDelete:
		r.Detail, r.Fix = fmt.Sprintf("cannot delete %s: %v", key, pe.Err), fix+" (purge needs delete)"
	default:
		r.Detail, r.Fix = fmt.Sprintf("%s still there after delete (%v)", key, pe.Err), "check the store's delete permission and versioning"
	}
	return r
}

func systemIDCheck(ctx context.Context, cat *catalog.Catalog, sysid uint64, timeout time.Duration) CheckResult {
	r := CheckResult{Name: CheckSystemID}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	src, err := cat.Source(ctx)
	switch {
	case errors.Is(err, catalog.ErrNoSource):
		// A new set-up has shipped nothing until its first segment fills or
		// is switched: a warning, with what the store does hold, so that a
		// mistyped --source shows.
		r.OK, r.Warning = true, true
		r.Detail = fmt.Sprintf("nothing was shipped to source %q yet: %s", cat.SourceName(), cat.SourcesHint(ctx))
		r.Fix = "run SELECT pg_switch_wal() on the source, then look at pg_stat_archiver and the PostgreSQL log; check that archive_command uses this --store and --source"
	case err != nil:
		r.Detail, r.Fix = "cannot read the source record: "+err.Error(), "check --store"
	case sysid == 0:
		r.Detail = fmt.Sprintf("the store's source %q is system %d; the source's own could not be read", cat.SourceName(), src.SystemID)
		r.Fix = "fix the connection first"
	case sysid != src.SystemID:
		r.Detail = fmt.Sprintf("source %q in the store belongs to system %d but this cluster is system %d", cat.SourceName(), src.SystemID, sysid)
		r.Fix = "each cluster needs its own source: use another --source for this one (a new cluster after initdb is a new source)"
	default:
		r.OK = true
		r.Detail = "system " + strconv.FormatUint(sysid, 10) + " in both the store and the cluster"
	}
	return r
}

package shipper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
}

// CheckResult is one health check: OK, or what is wrong and how to fix it.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
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
		add(CheckResult{Name: CheckConnection, Detail: "cannot connect to the source: " + err.Error(),
			Fix: "set --pg (LOGSHIP_PG, or pg: in the config file) to a libpq connection string, e.g. \"host=/var/run/postgresql user=postgres\", and check pg_hba.conf"})
		for _, name := range []string{CheckWALLevel, CheckArchiveMode, CheckArchiveCommand, CheckArchiver, CheckReplication} {
			add(CheckResult{Name: name, Detail: "not checked: no connection to the source", Fix: "fix the connection first"})
		}
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
		out = append(out, settingChecks(ctx, conn, opts)...)
		add(replicationCheck(ctx, opts))
	}
	add(storeCheck(ctx, cat, opts.Timeout))
	add(systemIDCheck(ctx, cat, sysid, opts.Timeout))
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

func settingChecks(ctx context.Context, conn *sqlsource.Source, opts CheckOptions) []CheckResult {
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
	out = append(out, am, archiveCommandCheck(command, library, opts.ArchiveCommand))
	out = append(out, archiverCheck(ctx, conn))
	return out
}

func archiveCommandCheck(command, library, want string) CheckResult {
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
		r.OK = true
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
		r.Detail = fmt.Sprintf("nothing was shipped to source %q in %s yet", cat.SourceName(), cat.StoreURL())
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

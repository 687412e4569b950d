package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/drill"
	"github.com/logship/logship/shipper"
)

// Job names, as the config file, logs and metrics call them.
const (
	JobBackup = "backup"
	// JobIncremental takes incremental backups (PostgreSQL 17+) between the
	// full ones: "full on Sunday, incremental every night".
	JobIncremental = "incremental"
	JobMark        = "mark"
	JobPurge       = "purge"
	JobVerify      = "verify"
	// JobDrill restores the latest mark into a scratch directory, checks
	// it and removes it (logship drill).
	JobDrill = "drill"
)

// MarkName is the name of a scheduled mark taken at t: "ls_" and the UTC
// time to the second, so that names sort in time order.
func MarkName(t time.Time) string { return "ls_" + t.UTC().Format("20060102T150405Z") }

// BackupJob takes a full base backup on each run.
func BackupJob(cat *catalog.Catalog, schedule string, opts shipper.BackupOptions) Job {
	return Job{Name: JobBackup, Schedule: schedule, Run: func(ctx context.Context, log *slog.Logger) error {
		o := opts
		o.Logger = log
		if o.Incremental {
			if why := nextFull(ctx, cat, o.ConnString); why != "" {
				log.Warn("taking a full backup instead of an incremental one", "reason", why)
				o.Incremental, o.Parent = false, ""
			}
		}
		b, err := shipper.Backup(ctx, cat, o)
		if ctx.Err() == nil {
			noteAttempt(cat, map[bool]string{true: "incremental", false: "full"}[o.Incremental], err)
		}
		if err != nil {
			return err
		}
		log.Info("backup recorded", "backup", b.ID, "start_lsn", b.StartLSN, "end_lsn", b.EndLSN,
			"raw_bytes", b.RawSize, "stored_bytes", b.StoredSize, "parts", len(b.Parts), "parent", b.Parent)
		return nil
	}}
}

// IncrementalJob takes an incremental backup on top of the newest complete
// backup on each run, or a full one (and logs why) when the last scheduled
// backup of the catalog failed, when there is no backup yet, when the
// newest one's chain is broken, or when the server is on another timeline
// than the newest backup (after a failover). It fails (and says why) when
// the server cannot take one.
func IncrementalJob(cat *catalog.Catalog, schedule string, opts shipper.BackupOptions) Job {
	opts.Incremental, opts.Parent = true, ""
	j := BackupJob(cat, schedule, opts)
	j.Name = JobIncremental
	return j
}

// ErrNoBackupYet fails a scheduled mark while the source has no backup: no
// restore could ever reach it.
var ErrNoBackupYet = errors.New("no backup yet, so a mark could never be restored: take one (logship backup)")

// markStopGrace is how long a running mark may go on after a stop.
const markStopGrace = 10 * time.Second

// MarkJob creates a mark named by MarkName on each run, switches WAL and
// waits for it to be shipped: the RPO stays bounded by the schedule even
// when the database is quiet. now is the clock (nil: time.Now).
func MarkJob(cat *catalog.Catalog, schedule string, opts shipper.MarkOptions, now func() time.Time) Job {
	if now == nil {
		now = time.Now
	}
	return Job{Name: JobMark, Schedule: schedule, Run: func(parent context.Context, log *slog.Logger) error {
		// A mark is short, and one cut off between its restore point and
		// the WAL switch would stay unshipped until the next switch: let it
		// finish for a while after a stop.
		ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
		defer cancel()
		defer context.AfterFunc(parent, func() { time.AfterFunc(markStopGrace, cancel) })()
		if bs, err := cat.Backups(ctx); err != nil {
			return err
		} else if len(bs) == 0 {
			return ErrNoBackupYet
		}
		base := MarkName(now())
		name := base
		// A manual trigger in the same second as the schedule takes the
		// name first; a suffix keeps the names sortable.
		for i := 2; ; i++ {
			m, err := shipper.Mark(ctx, cat, name, opts)
			if errors.Is(err, catalog.ErrDuplicateMark) && i <= 5 {
				name = fmt.Sprintf("%s_%d", base, i)
				continue
			}
			if err != nil {
				return err
			}
			log.Info("mark shipped", "mark", m.Name, "lsn", m.LSN, "timeline", m.Timeline)
			return nil
		}
	}}
}

// PurgeJob applies the retention policy on each run.
func PurgeJob(cat *catalog.Catalog, schedule string, pol catalog.RetentionPolicy, now func() time.Time) Job {
	if now == nil {
		now = time.Now
	}
	return Job{Name: JobPurge, Schedule: schedule, Run: func(ctx context.Context, log *slog.Logger) error {
		p, err := cat.PlanPurge(ctx, pol, now())
		if err != nil {
			return err
		}
		for _, w := range p.Warnings {
			log.Warn("purge: " + w)
		}
		if p.Empty() {
			log.Info("purge: nothing to delete", "backups_kept", p.Keep.Backups, "marks_kept", p.Keep.Marks)
			return nil
		}
		res, err := cat.Purge(ctx, p)
		if err != nil {
			return fmt.Errorf("purge (deleted %d objects before failing; the store stays consistent, the next purge finishes): %w", res.Objects, err)
		}
		log.Info("purge done", "backups_deleted", res.Deleted.Backups, "marks_deleted", res.Deleted.Marks,
			"wal_files_deleted", res.Deleted.WALFiles, "orphans_deleted", res.Deleted.Orphans,
			"stored_bytes_deleted", res.Deleted.StoredBytes, "cutoff_lsn", p.CutoffLSN)
		return nil
	}}
}

// ErrVerifyFailed means verify found problems that break a restore.
var ErrVerifyFailed = errors.New("verify found errors")

// VerifyJob checks the chain on each run; a report with errors fails the
// run, so that the failure counter and the last-success time show it.
func VerifyJob(cat *catalog.Catalog, schedule string, opts catalog.VerifyOptions) Job {
	return Job{Name: JobVerify, Schedule: schedule, Run: func(ctx context.Context, log *slog.Logger) error {
		o := opts
		o.Logger = log
		rep, err := cat.Verify(ctx, o)
		if err != nil {
			return err
		}
		for _, p := range rep.Problems {
			lvl := slog.LevelWarn
			if p.Severity == catalog.SevError {
				lvl = slog.LevelError
			}
			log.Log(ctx, lvl, "verify: "+p.Message, "code", p.Code, "object", p.Object, "fix", p.Fix)
		}
		if !rep.OK {
			return fmt.Errorf("%w: %d error(s), %d warning(s); run logship verify for details", ErrVerifyFailed, rep.Errors, rep.Warnings)
		}
		log.Info("verify passed", "backups", rep.Backups, "marks", rep.Marks, "warnings", rep.Warnings)
		return nil
	}}
}

// DrillJob runs a restore drill on each run (drill.Run); a failed check
// fails the run. The drill cleans up also when the daemon stops it.
func DrillJob(cat *catalog.Catalog, schedule string, opts drill.Options) Job {
	return Job{Name: JobDrill, Schedule: schedule, Run: func(ctx context.Context, log *slog.Logger) error {
		o := opts
		o.Logger = log
		rep, err := drill.Run(ctx, cat, o)
		for _, c := range rep.Checks {
			if !c.OK && !c.Skipped {
				log.Error("drill: "+c.Name+" failed", "message", c.Message)
			}
		}
		if err != nil {
			return err
		}
		log.Info("drill passed", "target", rep.Target, "backup", rep.BackupID, "checks", len(rep.Checks), "rto_seconds", rep.RTOSeconds)
		return nil
	}}
}

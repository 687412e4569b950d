package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/schedule"
	"github.com/logship/logship/shipper"
)

func scheduleCommand() *cli.Command {
	return &cli.Command{
		Name:  "schedule",
		Usage: "daemon: run the jobs of the config file on their cron schedules",
		Description: `Runs the backup, mark, purge and verify jobs of the config file's jobs: section on
their cron schedules (five fields, or six with seconds first; @daily, @every 10m;
CRON_TZ=Zone prefix; local time otherwise). Defaults: mark "` + defaultMarkSchedule + `" (a mark named
ls_YYYYMMDDTHHMMSSZ, then a WAL switch, so the RPO stays bounded on a quiet database),
backup "` + defaultBackupSchedule + `", incremental off (PostgreSQL 17+, e.g. backup "0 1 * * 0" and
incremental "0 1 * * 1-6": full on Sunday, incremental every other night), verify "` + defaultVerifySchedule + `", purge "` + defaultPurgeSchedule + `" when keep-backups or
recovery-window-days is set. "off" disables a job. A job never overlaps itself (a run
that comes due meanwhile is skipped and logged); a failing job does not stop the others.

Serves Prometheus metrics on /metrics and a health summary on /healthz (HTTP 503 while
a job's last run failed) at --metrics-listen. SIGTERM or SIGINT stops it: no new runs,
running jobs get --stop-grace, then are cancelled (a cancelled backup writes no record).

With a sources: section in the config file and no --source, it runs the jobs for every
source (the top-level jobs: apply to each), with metrics labelled source="NAME" and
/healthz listing each source; --source NAME runs that one only.

With --on-failure CMD or --on-success CMD (config keys on-failure, on-success, also per
source), each run of a job ends by running CMD through /bin/sh -c with LOGSHIP_HOOK_JOB,
LOGSHIP_HOOK_SOURCE, LOGSHIP_HOOK_STATUS (failure or success), LOGSHIP_HOOK_ERROR (one
line, passwords redacted) and LOGSHIP_HOOK_EXIT_CODE set. A hook still running after 30 s
is killed; its failure is logged and changes nothing else.

Exit codes: 0 stopped cleanly, 1 a job did not stop in time or the listener failed,
2 bad configuration.

Example config (/etc/logship/logship.yaml):
   store: s3://backups/pg
   source: main
   pg: "host=/var/run/postgresql user=postgres"
   jobs:
     backup: "0 1 * * *"
     mark: "*/15 * * * *"
     keep-backups: 7
     metrics-listen: "127.0.0.1:9847"
   on-failure: 'echo "$LOGSHIP_HOOK_ERROR" | mail -s "logship $LOGSHIP_HOOK_JOB failed" dba@example.com'
Run: logship --log-format json schedule`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metrics-listen", EnvVars: []string{"LOGSHIP_METRICS_LISTEN"},
				Usage: "address for /metrics and /healthz, e.g. 127.0.0.1:9847 or :0; \"off\" disables (default: jobs.metrics-listen, else " + defaultMetricsListen + ")"},
			&cli.DurationFlag{Name: "stop-grace", EnvVars: []string{"LOGSHIP_STOP_GRACE"},
				Usage: "how long running jobs may finish after SIGTERM before being cancelled (default: jobs.stop-grace, else 0)"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second,
				Usage: "how long to wait for cancelled jobs to return before giving up"},
		},
		Action: runSchedule,
	}
}

func runSchedule(c *cli.Context) error {
	if err := needArgs(c); err != nil {
		return err
	}
	jc, err := loadJobsConfig(c)
	if err != nil {
		return usageErr(err)
	}
	listen := jc.metricsListen()
	if c.IsSet("metrics-listen") {
		listen = jobSetting(ptr(c.String("metrics-listen")), "")
	}
	grace := jc.stopGrace
	if c.IsSet("stop-grace") {
		grace = c.Duration("stop-grace")
	}
	opts := schedule.DaemonOptions{StopGrace: grace, StopTimeout: c.Duration("stop-timeout"), Version: fullVersion()}
	d, log, err := newDaemons(c, jc, opts)
	if err != nil {
		return err
	}
	if listen != "" {
		if err := d.Listen(listen); err != nil {
			return err
		}
	}
	// SIGTERM is the daemon's normal stop: it has its grace and timeout,
	// and its own exit codes (0 stopped cleanly, 1 a job did not stop).
	setWindDown(grace + c.Duration("stop-timeout"))
	err = d.Run(c.Context)
	if err != nil && c.Context.Err() != nil {
		log.Debug("schedule stopped", "err", err.Error())
		return withCode(exitFailure, err)
	}
	return err
}

// daemon is a schedule.Daemon or a schedule.Group.
type daemon interface {
	Listen(addr string) error
	Run(ctx context.Context) error
}

// newDaemons makes the daemon of the source --source picks or, when the
// config file has sources: and no --source is given, a group of one
// daemon per source, all with the jobs of jc.
func newDaemons(c *cli.Context, jc JobsConfig, opts schedule.DaemonOptions) (daemon, *slog.Logger, error) {
	f, err := loadConfigFile(c.String("config"))
	if err != nil {
		return nil, nil, usageErr(err)
	}
	if len(f.names) == 0 || c.IsSet("source") {
		rt, err := setup(c)
		if err != nil {
			return nil, nil, err
		}
		d, err := newDaemon(c, rt, jc, opts, "source", rt.cfg.Source)
		return d, rt.log, err
	}
	var daemons []*schedule.Daemon
	var log *slog.Logger
	for _, name := range f.names {
		cfg, err := resolveConfig(c, f, name)
		if err != nil {
			return nil, nil, usageErr(fmt.Errorf("sources.%s: %w", name, err))
		}
		rt := newRuntime(c, cfg)
		if log == nil {
			log = rt.log
		}
		rt.log = rt.log.With("source", name)
		d, err := newDaemon(c, rt, jc, opts)
		if err != nil {
			return nil, nil, err
		}
		daemons = append(daemons, d)
	}
	g, err := schedule.NewGroup(f.names, daemons, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("schedule runs every source of the config file", "sources", strings.Join(f.names, ","))
	return g, log, nil
}

// newDaemon makes the daemon of rt's source, with the jobs of jc that are
// not off, each telling the hooks how it ended. attrs go into its first
// log line.
func newDaemon(c *cli.Context, rt *runtime, jc JobsConfig, opts schedule.DaemonOptions, attrs ...any) (*schedule.Daemon, error) {
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return nil, err
	}
	jobs, err := withDrillJob(scheduledJobs(rt, jc, cat), rt, jc, cat)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, usageErr(errors.New("every job is off: nothing to schedule"))
	}
	opts.Logger = rt.log
	opts.SourceConnString = rt.cfg.PG
	if jc.Receive == "on" || jc.Receive == "synchronous" {
		opts.Tasks = append(opts.Tasks, receiveTask(rt, cat, jc.Receive == "synchronous"))
	}
	d, err := schedule.NewDaemon(cat, withHooks(rt, jobs), opts)
	if err != nil {
		return nil, usageErr(err)
	}
	rt.log.Info("schedule started", append(attrs, "store", cat.StoreURL(), "jobs", len(jobs))...)
	return d, nil
}

// scheduledJobs are the jobs of the config section that are not off.
func scheduledJobs(rt *runtime, jc JobsConfig, cat *catalog.Catalog) []schedule.Job {
	var jobs []schedule.Job
	if s := jc.backupSchedule(); s != "" {
		jobs = append(jobs, schedule.BackupJob(cat, s, shipper.BackupOptions{
			ConnString: rt.cfg.PG, FastCheckpoint: jc.BackupFast, Encode: rt.encodeOptions(), AllowPlaintext: rt.cfg.AllowPlaintext}))
	}
	if s := jc.incrementalSchedule(); s != "" {
		jobs = append(jobs, schedule.IncrementalJob(cat, s, shipper.BackupOptions{
			ConnString: rt.cfg.PG, FastCheckpoint: jc.BackupFast, Encode: rt.encodeOptions(), AllowPlaintext: rt.cfg.AllowPlaintext}))
	}
	if s := jc.markSchedule(); s != "" {
		jobs = append(jobs, schedule.MarkJob(cat, s, shipper.MarkOptions{ConnString: rt.cfg.PG}, nil))
	}
	if s := jc.purgeSchedule(); s != "" {
		jobs = append(jobs, schedule.PurgeJob(cat, s, jc.policy(), nil))
	}
	if s := jc.verifySchedule(); s != "" {
		jobs = append(jobs, schedule.VerifyJob(cat, s, catalog.VerifyOptions{Deep: jc.VerifyDeep}))
	}
	return jobs
}

func ptr[T any](v T) *T { return &v }

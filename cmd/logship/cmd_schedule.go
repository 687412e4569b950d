package main

import (
	"errors"
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
	rt, jc, err := setupJobs(c)
	if err != nil {
		return err
	}
	listen := jc.metricsListen()
	if c.IsSet("metrics-listen") {
		listen = jobSetting(ptr(c.String("metrics-listen")), "")
	}
	grace := jc.stopGrace
	if c.IsSet("stop-grace") {
		grace = c.Duration("stop-grace")
	}
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return err
	}
	jobs := scheduledJobs(rt, jc, cat)
	if len(jobs) == 0 {
		return usageErr(errors.New("every job is off: nothing to schedule"))
	}
	d, err := schedule.NewDaemon(cat, jobs, schedule.DaemonOptions{
		Logger: rt.log, StopGrace: grace, StopTimeout: c.Duration("stop-timeout"), Version: fullVersion()})
	if err != nil {
		return usageErr(err)
	}
	if listen != "" {
		if err := d.Listen(listen); err != nil {
			return err
		}
	}
	rt.log.Info("schedule started", "source", cat.SourceName(), "store", cat.StoreURL(), "jobs", len(jobs))
	// SIGTERM is the daemon's normal stop: it has its grace and timeout,
	// and its own exit codes (0 stopped cleanly, 1 a job did not stop).
	setWindDown(grace + c.Duration("stop-timeout"))
	err = d.Run(c.Context)
	if err != nil && c.Context.Err() != nil {
		return withCode(exitFailure, err)
	}
	return err
}

// scheduledJobs are the jobs of the config section that are not off.
func scheduledJobs(rt *runtime, jc JobsConfig, cat *catalog.Catalog) []schedule.Job {
	var jobs []schedule.Job
	if s := jc.backupSchedule(); s != "" {
		jobs = append(jobs, schedule.BackupJob(cat, s, shipper.BackupOptions{
			ConnString: rt.cfg.PG, FastCheckpoint: jc.BackupFast, Encode: rt.encodeOptions()}))
	}
	if s := jc.incrementalSchedule(); s != "" {
		jobs = append(jobs, schedule.IncrementalJob(cat, s, shipper.BackupOptions{
			ConnString: rt.cfg.PG, FastCheckpoint: jc.BackupFast, Encode: rt.encodeOptions()}))
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

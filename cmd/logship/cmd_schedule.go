package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
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
backup "` + defaultBackupSchedule + `", verify "` + defaultVerifySchedule + `", purge "` + defaultPurgeSchedule + `" when keep-backups or
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
	if err := needArgs(c); err != nil {
		return err
	}
	rt, err := setup(c)
	if err != nil {
		return err
	}
	jc, err := loadJobsConfig(c)
	if err != nil {
		return usageErr(err)
	}
	listen := jc.metricsListen()
	if c.IsSet("metrics-listen") {
		listen = schedule(ptr(c.String("metrics-listen")), "")
	}
	grace := jc.stopGrace
	if c.IsSet("stop-grace") {
		grace = c.Duration("stop-grace")
	}
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return err
	}
	var jobs []shipper.Job
	if s := jc.backupSchedule(); s != "" {
		jobs = append(jobs, shipper.BackupJob(cat, s, shipper.BackupOptions{
			ConnString: rt.cfg.PG, FastCheckpoint: jc.BackupFast, Encode: rt.encodeOptions()}))
	}
	if s := jc.markSchedule(); s != "" {
		jobs = append(jobs, shipper.MarkJob(cat, s, shipper.MarkOptions{ConnString: rt.cfg.PG}, nil))
	}
	if s := jc.purgeSchedule(); s != "" {
		jobs = append(jobs, shipper.PurgeJob(cat, s, jc.policy(), nil))
	}
	if s := jc.verifySchedule(); s != "" {
		jobs = append(jobs, shipper.VerifyJob(cat, s, catalog.VerifyOptions{Deep: jc.VerifyDeep}))
	}
	if len(jobs) == 0 {
		return usageErr(errors.New("every job is off: nothing to schedule"))
	}
	metrics := shipper.NewMetrics(nil)
	sched, err := shipper.NewScheduler(jobs, shipper.SchedulerOptions{
		Logger: rt.log, Metrics: metrics, StopGrace: grace, StopTimeout: c.Duration("stop-timeout"),
		Refresh: func(ctx context.Context) error {
			st, err := shipper.GetStatus(ctx, cat, shipper.StatusOptions{})
			metrics.Update(st)
			return err
		},
	})
	if err != nil {
		return usageErr(err)
	}

	var srv *http.Server
	serveErr := make(chan error, 1)
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		srv = &http.Server{Handler: daemonMux(sched, metrics), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		rt.log.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	}
	rt.log.Info("schedule started", "source", cat.SourceName(), "store", cat.StoreURL(), "jobs", len(jobs))
	// Like BizTalk's backup job, the first run takes a full backup when
	// there is none: marks and WAL are of no use without one.
	if jc.backupSchedule() != "" {
		if bs, err := cat.Backups(c.Context); err == nil && len(bs) == 0 {
			rt.log.Info("no backup in the catalog yet: taking one now")
			_, _ = sched.Trigger(shipper.JobBackup)
		}
	}

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	var listenErr error
	listenDone := make(chan struct{})
	if srv != nil {
		go func() {
			defer close(listenDone)
			// A dead listener means nobody sees the metrics: stop rather
			// than run unobserved.
			if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
				listenErr = fmt.Errorf("metrics listener: %w", err)
				rt.log.Error("metrics listener failed; stopping", "err", err.Error())
				cancel()
			}
		}()
	}
	runErr := sched.Run(ctx)
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
		<-listenDone
	}
	return errors.Join(runErr, listenErr)
}

func ptr[T any](v T) *T { return &v }

// daemonMux serves /metrics and /healthz.
func daemonMux(s *shipper.Scheduler, m *shipper.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		jobs := s.Jobs()
		status, code := "ok", http.StatusOK
		for _, j := range jobs {
			if j.LastError != "" {
				status, code = "failing", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(struct {
			Status string              `json:"status"`
			Jobs   []shipper.JobStatus `json:"jobs"`
		}{status, jobs})
	})
	return mux
}

package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/shipper"
)

// DaemonOptions tune a Daemon.
type DaemonOptions struct {
	Logger *slog.Logger
	// StopGrace and StopTimeout are the scheduler's: see SchedulerOptions.
	StopGrace   time.Duration
	StopTimeout time.Duration
	// Version labels logship_build_info.
	Version string
}

// Daemon runs jobs on one catalog with a Scheduler, keeps their metrics
// and the catalog's figures current, and serves both over HTTP once Listen
// is called.
type Daemon struct {
	cat      *catalog.Catalog
	log      *slog.Logger
	sched    *Scheduler
	metrics  *Metrics
	srv      *http.Server
	addr     net.Addr
	serveErr chan error
}

// NewDaemon checks the jobs and returns a daemon that runs nothing yet. An
// error means the jobs themselves are wrong (a bad schedule, a name twice).
func NewDaemon(cat *catalog.Catalog, jobs []Job, opts DaemonOptions) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cat: cat, log: opts.Logger, metrics: NewMetrics(nil)}
	d.metrics.SetBuildInfo(opts.Version)
	sched, err := NewScheduler(jobs, SchedulerOptions{
		Logger: opts.Logger, Metrics: d.metrics, StopGrace: opts.StopGrace, StopTimeout: opts.StopTimeout,
		Refresh: d.refresh,
	})
	if err != nil {
		return nil, err
	}
	d.sched = sched
	return d, nil
}

// refresh reads the catalog's figures into the metrics.
func (d *Daemon) refresh(ctx context.Context) error {
	st, err := shipper.GetStatus(ctx, d.cat, shipper.StatusOptions{})
	d.metrics.Update(st)
	return err
}

// Listen binds addr (host:port; port 0 picks one) and starts serving
// /metrics and /healthz on it. Run must follow: it watches the server and
// shuts it down.
func (d *Daemon) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	d.addr = ln.Addr()
	d.srv = &http.Server{Handler: Handler(d.sched, d.metrics), ReadHeaderTimeout: 10 * time.Second}
	d.serveErr = make(chan error, 1)
	go func() { d.serveErr <- d.srv.Serve(ln) }()
	d.log.Info("serving /metrics and /healthz", "addr", d.addr.String())
	return nil
}

// Addr is the address Listen bound; nil before.
func (d *Daemon) Addr() net.Addr { return d.addr }

// Run runs the jobs until ctx is done or the HTTP server fails, then stops
// as Scheduler.Run does and shuts the server down. A nil error is a clean
// stop; otherwise a job did not stop in time or the server failed.
func (d *Daemon) Run(ctx context.Context) error {
	// Like BizTalk's backup job, the first run takes a full backup when
	// there is none: marks and WAL are of no use without one.
	if _, ok := d.sched.jobs[JobBackup]; ok {
		if bs, err := d.cat.Backups(ctx); err == nil && len(bs) == 0 {
			d.log.Info("no backup in the catalog yet: taking one now")
			_, _ = d.sched.Trigger(JobBackup)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listenErr error
	listenDone := make(chan struct{})
	if d.srv != nil {
		go func() {
			defer close(listenDone)
			// A dead listener means nobody sees the metrics: stop rather
			// than run unobserved.
			if err := <-d.serveErr; !errors.Is(err, http.ErrServerClosed) {
				listenErr = fmt.Errorf("metrics listener: %w", err)
				d.log.Error("metrics listener failed; stopping", "err", err.Error())
				cancel()
			}
		}()
	}
	runErr := d.sched.Run(ctx)
	if d.srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.srv.Shutdown(sctx)
		scancel()
		<-listenDone
	}
	return errors.Join(runErr, listenErr)
}

// Health is the body of /healthz: "ok", or "failing" while any job's last
// run failed, and what the scheduler knows of every job.
type Health struct {
	Status string      `json:"status"`
	Jobs   []JobStatus `json:"jobs"`
}

// Handler serves the metrics on /metrics and the jobs' health on /healthz,
// with HTTP 503 while any job's last run failed.
func Handler(s *Scheduler, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		h, code := Health{Status: "ok", Jobs: s.Jobs()}, http.StatusOK
		for _, j := range h.Jobs {
			if j.LastError != "" {
				h.Status, code = "failing", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}

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
	// SourceConnString, when set, lets the metrics read the replication
	// slots of logship receive on the source
	// (logship_replication_slot_retained_bytes).
	SourceConnString string
	// Tasks run beside the jobs while the daemon runs (see Task).
	Tasks []Task
}

// Daemon runs jobs on one catalog with a Scheduler, keeps their metrics
// and the catalog's figures current, and serves both over HTTP once Listen
// is called.
type Daemon struct {
	server
	cat     *catalog.Catalog
	sched   *Scheduler
	metrics *Metrics
	pg      string // DaemonOptions.SourceConnString
	tasks   []Task
}

// server serves HTTP for a Daemon or a Group.
type server struct {
	log      *slog.Logger
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
	d := &Daemon{server: server{log: opts.Logger}, cat: cat, metrics: NewMetrics(nil), pg: opts.SourceConnString, tasks: opts.Tasks}
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
	st, err := shipper.GetStatus(ctx, d.cat, shipper.StatusOptions{SlotConnString: d.pg})
	d.metrics.Update(st)
	return err
}

// Listen binds addr (host:port; port 0 picks one) and starts serving
// /metrics and /healthz on it. Run must follow: it watches the server and
// shuts it down.
func (d *Daemon) Listen(addr string) error { return d.listen(addr, Handler(d.sched, d.metrics)) }

func (s *server) listen(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	s.addr = ln.Addr()
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	s.log.Info("serving /metrics and /healthz", "addr", s.addr.String())
	return nil
}

// Addr is the address Listen bound; nil before.
func (s *server) Addr() net.Addr { return s.addr }

// Run runs the jobs until ctx is done or the HTTP server fails, then stops
// as Scheduler.Run does and shuts the server down. A nil error is a clean
// stop; otherwise a job did not stop in time or the server failed.
func (d *Daemon) Run(ctx context.Context) error {
	d.backupFirst(ctx)
	return d.serveWhile(ctx, d.runWithTasks)
}

// backupFirst takes a full backup now when there is none: like BizTalk's
// backup job, as marks and WAL are of no use without one.
func (d *Daemon) backupFirst(ctx context.Context) {
	if _, ok := d.sched.jobs[JobBackup]; ok {
		if bs, err := d.cat.Backups(ctx); err == nil && len(bs) == 0 {
			d.log.Info("no backup in the catalog yet: taking one now")
			_, _ = d.sched.Trigger(JobBackup)
		}
	}
}

// serveWhile runs run while serving, if Listen was called: a failing
// server cancels run's context. The server is shut down once run returns.
func (s *server) serveWhile(ctx context.Context, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listenErr error
	listenDone := make(chan struct{})
	if s.srv != nil {
		go func() {
			defer close(listenDone)
			// A dead listener means nobody sees the metrics: stop rather
			// than run unobserved.
			if err := <-s.serveErr; !errors.Is(err, http.ErrServerClosed) {
				listenErr = fmt.Errorf("metrics listener: %w", err)
				s.log.Error("metrics listener failed; stopping", "err", err.Error())
				cancel()
			}
		}()
	}
	runErr := run(ctx)
	if s.srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.srv.Shutdown(sctx)
		scancel()
		<-listenDone
	}
	return errors.Join(runErr, listenErr)
}

// Health is the body of /healthz: "ok", or "failing" while any job's last
// run failed, and what the scheduler knows of every job.
type Health struct {
	Source string      `json:"source,omitempty"` // in a Group's health
	Status string      `json:"status"`
	Jobs   []JobStatus `json:"jobs,omitempty"`
	// Sources is a Group's health: each daemon's, by source.
	Sources []Health `json:"sources,omitempty"`
}

// Handler serves the metrics on /metrics and the jobs' health on /healthz,
// with HTTP 503 while any job's last run failed.
func Handler(s *Scheduler, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeHealth(w, health(s))
	})
	return mux
}

func health(s *Scheduler) Health {
	h := Health{Status: "ok", Jobs: s.Jobs()}
	for _, j := range h.Jobs {
		if j.LastError != "" {
			h.Status = "failing"
		}
	}
	return h
}

func writeHealth(w http.ResponseWriter, h Health) {
	code := http.StatusOK
	if h.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}

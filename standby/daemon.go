package standby

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DaemonOptions tune Run.
type DaemonOptions struct {
	// Interval is the time between steps; 0 means one minute.
	Interval time.Duration
	// Listen is the address of /metrics; "" serves none.
	Listen string
	// Wake, when it receives, runs a step at once (SIGHUP).
	Wake <-chan struct{}
	// Listening, if set, is told the address bound.
	Listening func(net.Addr)
}

// Run steps the members every interval until ctx is done, recording each
// step in the metrics it serves. A failed or held step is logged and
// retried at the next interval: the servers keep running where they
// stand. It returns nil once ctx is done, or the listener's error.
func Run(ctx context.Context, members []Member, opts Options, d DaemonOptions) error {
	log := opts.log()
	if d.Interval <= 0 {
		d.Interval = time.Minute
	}
	metrics := NewMetrics()
	serveErr := make(chan error, 1)
	var srv *http.Server
	if d.Listen != "" {
		ln, err := net.Listen("tcp", d.Listen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		log.Info("serving /metrics", "addr", ln.Addr().String())
		if d.Listening != nil {
			d.Listening(ln.Addr())
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	for {
		rep, err := Step(ctx, members, opts)
		if ctx.Err() != nil {
			return nil
		}
		metrics.Update(rep, err, time.Now())
		logStep(opts, rep, err)
		timer := time.NewTimer(d.Interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case err := <-serveErr:
			timer.Stop()
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics listener: %w", err)
			}
			return nil
		case <-d.Wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

func logStep(opts Options, rep Report, err error) {
	log := opts.log()
	for _, s := range rep.Members {
		log.Info("standby", "source", s.Source, "action", s.Action, "mark", s.Mark, "lsn", s.LSN, "newest_mark", s.Newest, "reason", s.Reason)
	}
	if err != nil {
		log.Error("standby step failed", "err", err.Error())
	}
}

package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Group runs one Daemon per source in one process, and serves all their
// metrics, labelled source="NAME", and their health on one listener. The
// daemons are independent: one source's failing job changes nothing for
// the others.
type Group struct {
	server
	names   []string
	daemons []*Daemon
}

// NewGroup groups daemons, named by their sources (names[i] is the source
// of daemons[i]; no listener of their own).
func NewGroup(names []string, daemons []*Daemon, log *slog.Logger) (*Group, error) {
	if len(names) != len(daemons) || len(names) == 0 {
		return nil, fmt.Errorf("group: %d names for %d daemons", len(names), len(daemons))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{server: server{log: log}, names: names, daemons: daemons}, nil
}

// Listen binds addr and serves the group's /metrics and /healthz on it.
func (g *Group) Listen(addr string) error { return g.listen(addr, g.Handler()) }

// Run runs every daemon until ctx is done or the server fails, as
// Daemon.Run does, and returns their errors joined.
func (g *Group) Run(ctx context.Context) error {
	return g.serveWhile(ctx, func(ctx context.Context) error {
		errs := make([]error, len(g.daemons))
		var wg sync.WaitGroup
		for i, d := range g.daemons {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := d.Run(ctx); err != nil {
					errs[i] = fmt.Errorf("source %s: %w", g.names[i], err)
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

// Handler serves the metrics of every daemon on /metrics, each series
// labelled with its source (the process's own go_ and process_ series
// once, unlabelled), and on /healthz every source's health, with HTTP 503
// while any job of any source last failed.
func (g *Group) Handler() http.Handler {
	var gs prometheus.Gatherers
	for i, d := range g.daemons {
		gs = append(gs, sourceGatherer{reg: d.metrics.Registry(), source: g.names[i], first: i == 0})
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gs, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := Health{Status: "ok"}
		for i, d := range g.daemons {
			sh := health(d.sched)
			sh.Source = g.names[i]
			if sh.Status != "ok" {
				h.Status = sh.Status
			}
			h.Sources = append(h.Sources, sh)
		}
		writeHealth(w, h)
	})
	return mux
}

// sourceGatherer gathers a daemon's registry with source="NAME" added to
// its logship_ series. The go_ and process_ series (and build info)
// describe the process, not the source: only the first daemon's are kept,
// as they are.
type sourceGatherer struct {
	reg    prometheus.Gatherer
	source string
	first  bool
}

func (s sourceGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := s.reg.Gather()
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "logship_") || name == "logship_build_info" {
			if s.first {
				out = append(out, mf)
			}
			continue
		}
		for _, m := range mf.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: ptr("source"), Value: ptr(s.source)})
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		}
		out = append(out, mf)
	}
	return out, err
}

func ptr(s string) *string { return &s }

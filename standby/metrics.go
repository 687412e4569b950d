package standby

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logship/logship/pg"
)

// Metrics are the standby daemon's Prometheus metrics, per member (label
// source): the mark it stands on, its age, and its lag behind the
// source's newest mark.
type Metrics struct {
	reg *prometheus.Registry

	mark                      *prometheus.GaugeVec
	markTime, markAge         *prometheus.GaugeVec
	lagSeconds, lagBytes      *prometheus.GaugeVec
	held                      *prometheus.GaugeVec
	steps, stepFailures       prometheus.Counter
	lastStep, lastStepSuccess prometheus.Gauge
}

// NewMetrics makes the metrics in their own registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	src := []string{"source"}
	gauge := func(name, help string, labels []string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	m.mark = gauge("logship_standby_mark_info", "1 for the mark the member's standby stands on.", []string{"source", "mark", "lsn"})
	m.markTime = gauge("logship_standby_mark_timestamp_seconds", "Unix time of the mark the member stands on.", src)
	m.markAge = gauge("logship_standby_mark_age_seconds", "Age of the mark the member stands on, at the last step.", src)
	m.lagSeconds = gauge("logship_standby_lag_seconds", "Time between the member's mark and the source's newest mark.", src)
	m.lagBytes = gauge("logship_standby_lag_bytes", "WAL bytes between the member's mark and the source's newest mark (same timeline).", src)
	m.held = gauge("logship_standby_held", "1 while the member did not advance: a member cannot reach the newest common mark.", src)
	m.steps = prometheus.NewCounter(prometheus.CounterOpts{Name: "logship_standby_steps_total", Help: "Steps run."})
	m.stepFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "logship_standby_step_failures_total", Help: "Steps that failed or were held."})
	m.lastStep = prometheus.NewGauge(prometheus.GaugeOpts{Name: "logship_standby_last_step_timestamp_seconds", Help: "Unix time the last step ended."})
	m.lastStepSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "logship_standby_last_success_timestamp_seconds", Help: "Unix time the last step ended with every member at the newest common mark."})
	m.reg.MustRegister(m.steps, m.stepFailures, m.lastStep, m.lastStepSuccess)
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Update records a step's report; err is the step's error.
func (m *Metrics) Update(rep Report, err error, now time.Time) {
	m.steps.Inc()
	m.lastStep.Set(seconds(now))
	if err != nil {
		m.stepFailures.Inc()
	} else {
		m.lastStepSuccess.Set(seconds(now))
	}
	for _, s := range rep.Members {
		held := 0.0
		if s.Action == ActionHeld || s.Action == ActionFailed {
			held = 1
		}
		m.held.WithLabelValues(s.Source).Set(held)
		if s.Mark == "" {
			continue
		}
		m.mark.DeletePartialMatch(prometheus.Labels{"source": s.Source})
		m.mark.WithLabelValues(s.Source, s.Mark, s.LSN).Set(1)
		m.markTime.WithLabelValues(s.Source).Set(seconds(s.MarkTime))
		m.markAge.WithLabelValues(s.Source).Set(now.Sub(s.MarkTime).Seconds())
		lag := 0.0
		if !s.NewestTime.IsZero() && s.NewestTime.After(s.MarkTime) {
			lag = s.NewestTime.Sub(s.MarkTime).Seconds()
		}
		m.lagSeconds.WithLabelValues(s.Source).Set(lag)
		m.lagBytes.WithLabelValues(s.Source).Set(lagBytes(s.LSN, s.NewestLSN))
	}
}

func lagBytes(at, newest string) float64 {
	a, err1 := pg.ParseLSN(at)
	n, err2 := pg.ParseLSN(newest)
	if err1 != nil || err2 != nil || n < a {
		return 0
	}
	return float64(n - a)
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

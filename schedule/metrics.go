package schedule

import (
	"math"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logship/logship/shipper"
)

// Metrics are the daemon's Prometheus metrics: per job runs, failures,
// skips, last success and duration; and figures read from the catalog,
// among them the RPO (the age of the newest shipped segment). A nil
// *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	runs, failures, skipped   *prometheus.CounterVec
	running                   *prometheus.GaugeVec
	lastSuccess, lastDuration *prometheus.GaugeVec
	lastRun                   *prometheus.GaugeVec
	buildInfo                 *prometheus.GaugeVec

	walFiles, segments, rawBytes, storedBytes prometheus.Gauge
	backups, marks                            prometheus.Gauge
	newestSegment, newestBackup, newestMark   prometheus.Gauge
	refreshOK, refreshTime                    prometheus.Gauge
	newestPiece, slotRetained                 prometheus.Gauge

	mu      sync.Mutex
	shipped time.Time // when the newest segment was shipped; zero: none
}

// NewMetrics makes the metrics in their own registry. now is the clock the
// RPO gauge is computed with (nil: time.Now).
func NewMetrics(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: now}
	job := []string{"job"}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logship_job_runs_total",
		Help: "Runs of the job that finished, successful or not."}, job)
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logship_job_failures_total",
		Help: "Runs of the job that failed."}, job)
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logship_job_skipped_total",
		Help: "Runs of the job skipped because the previous run was still running."}, job)
	m.running = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logship_job_running",
		Help: "1 while the job runs."}, job)
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logship_job_last_success_timestamp_seconds",
		Help: "Unix time the job last succeeded (0: never since the daemon started)."}, job)
	m.lastRun = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logship_job_last_run_timestamp_seconds",
		Help: "Unix time the job's last run ended, successful or not."}, job)
	m.lastDuration = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logship_job_last_duration_seconds",
		Help: "How long the job's last run took."}, job)
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logship_build_info",
		Help: "1, labelled with the daemon's version and the Go version it was built with."}, []string{"version", "goversion"})
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	m.walFiles = gauge("logship_catalog_wal_files", "WAL files (segments, history, backup and partial files) in the catalog.")
	m.segments = gauge("logship_catalog_wal_segments", "WAL segments shipped and still in the catalog.")
	m.rawBytes = gauge("logship_catalog_wal_raw_bytes", "Bytes of WAL shipped and still in the catalog, uncompressed.")
	m.storedBytes = gauge("logship_catalog_wal_stored_bytes", "Bytes of WAL shipped and still in the catalog, as stored.")
	m.backups = gauge("logship_catalog_backups", "Complete base backups in the catalog.")
	m.marks = gauge("logship_catalog_marks", "Marks in the catalog.")
	m.newestSegment = gauge("logship_newest_segment_timestamp_seconds", "Unix time the newest segment was shipped.")
	m.newestBackup = gauge("logship_newest_backup_timestamp_seconds", "Unix time the newest base backup finished.")
	m.newestMark = gauge("logship_newest_mark_timestamp_seconds", "Unix time of the newest mark.")
	m.refreshOK = gauge("logship_catalog_up", "1 if the last read of the catalog succeeded, 0 if the store was unreachable.")
	m.refreshTime = gauge("logship_catalog_read_timestamp_seconds", "Unix time of the last successful read of the catalog.")
	m.newestPiece = gauge("logship_streamed_piece_timestamp_seconds",
		"Unix time logship receive stored the newest piece of the segment it streams (0: no streamed tail).")
	// One gauge, the most of any slot: what fills the source's disk, and
	// a series that exists before any receiver does.
	m.slotRetained = gauge("logship_replication_slot_retained_bytes",
		"WAL the replication slots of logship receive keep on the source, the most of any one (0: none; read when the daemon has --pg).")
	m.reg.MustRegister(m.runs, m.failures, m.skipped, m.running, m.lastSuccess, m.lastRun, m.lastDuration, m.buildInfo,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logship_rpo_seconds",
			Help: "Age of the newest shipped WAL segment, computed at scrape time (+Inf when nothing was shipped)."}, m.rpo),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) rpo() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shipped.IsZero() {
		return math.Inf(1)
	}
	return m.now().Sub(m.shipped).Seconds()
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the metrics are registered, for callers adding their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetBuildInfo sets logship_build_info for version ("" shows as
// "unknown"), so that dashboards can tell which release runs where.
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	if version == "" {
		version = "unknown"
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
}

// registerJob makes the job's series exist at 0 before its first run, so
// that alerts on them work from the start.
func (m *Metrics) registerJob(name string) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(name)
	m.failures.WithLabelValues(name)
	m.skipped.WithLabelValues(name)
	m.running.WithLabelValues(name).Set(0)
	m.lastSuccess.WithLabelValues(name)
	m.lastRun.WithLabelValues(name)
	m.lastDuration.WithLabelValues(name)
}

func (m *Metrics) jobStarted(name string) {
	if m == nil {
		return
	}
	m.running.WithLabelValues(name).Set(1)
}

func (m *Metrics) jobSkipped(name string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(name).Inc()
}

func (m *Metrics) jobFinished(name string, d time.Duration, err error, end time.Time) {
	if m == nil {
		return
	}
	m.running.WithLabelValues(name).Set(0)
	m.runs.WithLabelValues(name).Inc()
	m.lastDuration.WithLabelValues(name).Set(d.Seconds())
	m.lastRun.WithLabelValues(name).Set(unixSeconds(end))
	if err != nil {
		m.failures.WithLabelValues(name).Inc()
		return
	}
	m.lastSuccess.WithLabelValues(name).Set(unixSeconds(end))
}

// Update sets the catalog figures from a status; a status whose store was
// unreachable only flags the catalog as down and keeps the last figures.
func (m *Metrics) Update(st shipper.Status) {
	if m == nil {
		return
	}
	if !st.StoreReachable {
		m.refreshOK.Set(0)
		return
	}
	m.refreshOK.Set(1)
	m.refreshTime.Set(unixSeconds(st.Time))
	m.walFiles.Set(float64(st.WALFiles))
	m.segments.Set(float64(st.Segments))
	m.rawBytes.Set(float64(st.RawBytes))
	m.storedBytes.Set(float64(st.StoredBytes))
	m.backups.Set(float64(st.Backups))
	m.marks.Set(float64(st.Marks))
	if st.NewestBackup != nil {
		m.newestBackup.Set(unixSeconds(st.NewestBackup.EndTime))
	}
	if st.NewestMark != nil {
		m.newestMark.Set(unixSeconds(st.NewestMark.Time))
	}
	m.newestPiece.Set(0)
	if t := st.StreamedTail; t != nil && !t.NewestPiece.IsZero() {
		m.newestPiece.Set(unixSeconds(t.NewestPiece))
	}
	if st.SlotsError == "" { // a source that could not be asked keeps the last figure
		var most int64
		for _, s := range st.ReplicationSlots {
			most = max(most, s.RetainedBytes)
		}
		m.slotRetained.Set(float64(most))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shipped = time.Time{}
	if st.NewestSegment != nil {
		m.shipped = st.NewestSegment.ShippedAt
		m.newestSegment.Set(unixSeconds(m.shipped))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

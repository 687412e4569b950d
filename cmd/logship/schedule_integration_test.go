package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/schedule"
	"github.com/logship/logship/shipper"
	"github.com/logship/logship/store/file"
)

// openCatalog opens the source's catalog in a file store, in process.
func openCatalog(t *testing.T, storeDir, source string) *catalog.Catalog {
	t.Helper()
	st, err := file.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	return catalog.New(st, source)
}

// metricValue finds one sample in a Prometheus text exposition.
func metricValue(exposition, series string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// The daemon, in process, with per-second schedules against a real cluster:
// it takes backups and marks, never runs a slow backup twice at once, and
// its metrics show the jobs and the RPO.
func TestScheduleInProcess(t *testing.T) { onEachPG(t, testScheduleInProcess) }

func testScheduleInProcess(t *testing.T, v pgtest.Version) {
	c, storeDir, _ := archivingCluster(t, v, "sched")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	cat := openCatalog(t, storeDir, "sched")
	// Scheduled marks refuse to run before the first backup.
	mark := schedule.MarkJob(cat, "* * * * * *", shipper.MarkOptions{ConnString: c.ConnString()}, nil)
	if err := mark.Run(context.Background(), slog.New(slog.DiscardHandler)); !errors.Is(err, schedule.ErrNoBackupYet) {
		t.Fatalf("mark before any backup: %v, want ErrNoBackupYet", err)
	}
	if _, err := shipper.Backup(context.Background(), cat, shipper.BackupOptions{ConnString: c.ConnString(), FastCheckpoint: true}); err != nil {
		t.Fatal(err)
	}

	// Count concurrent runs of the backup job around the real one.
	var inFlight, maxInFlight atomic.Int32
	backup := schedule.BackupJob(cat, "* * * * * *", shipper.BackupOptions{ConnString: c.ConnString(), FastCheckpoint: true})
	realRun := backup.Run
	backup.Run = func(ctx context.Context, log *slog.Logger) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		err := realRun(ctx, log)
		// A backup of a big database takes longer than the schedule's
		// second: hold the job as if it did.
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-ctx.Done():
		}
		return err
	}
	metrics := schedule.NewMetrics(nil)
	sched, err := schedule.NewScheduler([]schedule.Job{
		backup,
		mark,
	}, schedule.SchedulerOptions{Metrics: metrics, RefreshEvery: 200 * time.Millisecond,
		Refresh: func(ctx context.Context) error {
			st, err := shipper.GetStatus(ctx, cat, shipper.StatusOptions{})
			metrics.Update(st)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- sched.Run(ctx) }()

	c.WaitFor(t, 90*time.Second, "2 scheduled backups and 3 scheduled marks", func() bool {
		c.Pgbench(t, "-t", "20", "-c", "1")
		var backups, marks int
		for _, j := range sched.Jobs() {
			switch j.Name {
			case schedule.JobBackup:
				backups = j.Runs - j.Failures
			case schedule.JobMark:
				marks = j.Runs - j.Failures
			}
		}
		return backups >= 2 && marks >= 3
	})
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	for _, j := range sched.Jobs() {
		t.Logf("job %s: %d runs, %d failures, %d skipped, last error %q", j.Name, j.Runs, j.Failures, j.Skipped, j.LastError)
		// A backup cut short by the stop counts as failed; marks finish.
		if j.Failures > 0 && j.Name != schedule.JobBackup {
			t.Errorf("job %s failed: %s", j.Name, j.LastError)
		}
	}
	if n := maxInFlight.Load(); n != 1 {
		t.Fatalf("the backup job ran %d times at once", n)
	}
	for _, j := range sched.Jobs() {
		if j.Name == schedule.JobBackup && j.Skipped == 0 {
			t.Errorf("a backup held longer than its 1 s schedule was never skipped: %+v", j)
		}
	}
	backups, err := cat.Backups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	marks, err := cat.Marks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(backups) < 3 || len(marks) < 3 {
		t.Fatalf("catalog has %d backups and %d marks", len(backups), len(marks))
	}
	nameRE := regexp.MustCompile(`^ls_\d{8}T\d{6}Z(_\d)?$`)
	for _, m := range marks {
		if !nameRE.MatchString(m.Name) {
			t.Errorf("scheduled mark named %q", m.Name)
		}
	}

	// The verify job passes on what the daemon left, a cancelled backup
	// included.
	if err := schedule.VerifyJob(cat, "", catalog.VerifyOptions{}).Run(context.Background(), slog.New(slog.DiscardHandler)); err != nil {
		rep, _ := cat.Verify(context.Background(), catalog.VerifyOptions{})
		t.Fatalf("verify after the daemon: %v\n%+v", err, rep.Problems)
	}
	st, err := shipper.GetStatus(context.Background(), cat, shipper.StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	metrics.Update(st)
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, series := range []string{`logship_job_runs_total{job="backup"}`, `logship_job_runs_total{job="mark"}`,
		`logship_job_last_success_timestamp_seconds{job="mark"}`, `logship_job_last_duration_seconds{job="backup"}`,
		`logship_job_failures_total{job="mark"}`, `logship_catalog_backups`, `logship_catalog_wal_segments`,
		`logship_catalog_wal_stored_bytes`, `logship_rpo_seconds`} {
		v, ok := metricValue(out, series)
		if !ok {
			t.Errorf("metrics lack %s", series)
			continue
		}
		if strings.HasPrefix(series, "logship_job_failures") {
			if v != 0 {
				t.Errorf("%s = %v", series, v)
			}
		} else if v <= 0 && series != "logship_rpo_seconds" {
			t.Errorf("%s = %v, want > 0", series, v)
		}
	}
	if rpo, _ := metricValue(out, "logship_rpo_seconds"); rpo < 0 || rpo > 60 {
		t.Errorf("RPO gauge %v s, want the age of a segment shipped moments ago", rpo)
	}
	if n, _ := metricValue(out, "logship_catalog_backups"); int(n) != len(backups) {
		t.Errorf("logship_catalog_backups = %v, catalog has %d", n, len(backups))
	}
}

// daemon is a `logship schedule` process whose stderr (JSON logs) is
// collected as it comes.
type daemon struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	raw  strings.Builder
	done chan error
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(logshipBin, args...), done: make(chan error, 1)}
	d.cmd.Env = cleanEnv()
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			_ = json.Unmarshal(sc.Bytes(), &rec)
			d.mu.Lock()
			d.raw.WriteString(sc.Text() + "\n")
			if rec != nil {
				d.logs = append(d.logs, rec)
			}
			d.mu.Unlock()
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log())
		}
	})
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.raw.String()
}

// find returns the first log record whose msg is msg.
func (d *daemon) find(msg string) map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.logs {
		if r["msg"] == msg {
			return r
		}
	}
	return nil
}

func scrapeURL(url string) (string, int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "logship.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The real binary: SIGTERM while a scheduled backup waits for its WAL ends
// the process promptly and cleanly, the cancelled backup leaves no record,
// and verify passes. /metrics is scraped meanwhile.
func TestScheduleSIGTERMDuringBackup(t *testing.T) {
	t.Parallel()
	c, storeDir, flags := archivingCluster(t, defaultPG, "term")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)

	// Stop archiving, so that the daemon's backup hangs waiting for its WAL.
	c.Exec(t, "ALTER SYSTEM SET archive_command = 'false'")
	c.Exec(t, "SELECT pg_reload_conf()")
	c.WaitFor(t, 30*time.Second, "archive_command reload", func() bool {
		return c.QueryString(t, "SHOW archive_command") == "false"
	})

	cfg := writeConfig(t, fmt.Sprintf(`store: file://%s
source: term
pg: "%s"
log-format: json
jobs:
  backup: "* * * * * *"
  backup-fast: true
  mark: "off"
  verify: "off"
  metrics-listen: "127.0.0.1:0"
`, storeDir, c.ConnString()))
	d := startDaemon(t, "--config", cfg, "schedule")

	var url string
	pgtest.WaitFor(t, 30*time.Second, "the metrics listener", func() bool {
		if r := d.find("serving /metrics and /healthz"); r != nil {
			url = fmt.Sprintf("http://%s", r["addr"])
			return true
		}
		return false
	})
	var metrics string
	pgtest.WaitFor(t, 60*time.Second, "a backup waiting for its WAL", func() bool {
		metrics, _, _ = scrapeURL(url + "/metrics")
		v, _ := metricValue(metrics, `logship_job_running{job="backup"}`)
		return v == 1 && d.find("backup data stored; waiting for its WAL") != nil
	})
	for _, series := range []string{`logship_job_runs_total{job="backup"}`, `logship_job_failures_total{job="backup"}`,
		`logship_job_last_success_timestamp_seconds{job="backup"}`, "logship_rpo_seconds", "logship_catalog_wal_segments"} {
		if _, ok := metricValue(metrics, series); !ok {
			t.Errorf("metrics lack %s:\n%s", series, metrics)
		}
	}
	if body, code, err := scrapeURL(url + "/healthz"); err != nil || code != http.StatusOK || !strings.Contains(body, `"running":true`) {
		t.Errorf("healthz: %d %v %s", code, err, body)
	}

	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon still running 15 s after SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if d.find("scheduler stopped") == nil {
		t.Error("no clean-stop log line")
	}

	var l struct {
		Backups []backupRecord `json:"backups"`
	}
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Backups) != 1 {
		t.Fatalf("%d backups recorded, want only the one taken before the daemon", len(l.Backups))
	}
	rep := verifyJSON(t, flags, 0)
	if !rep.OK {
		t.Fatalf("verify after SIGTERM: %s", rep.codes())
	}
}

// Bad job configuration is refused before anything runs.
func TestScheduleBadConfig(t *testing.T) {
	t.Parallel()
	_, flags := newStoreDir(t)
	tests := []struct {
		name, jobs, want string
		cmd              []string
	}{
		{"bad cron", "  mark: \"every minute\"\n", "jobs.mark", []string{"schedule"}},
		{"unknown key", "  marks: \"* * * * *\"\n", "marks", []string{"schedule"}},
		{"purge without retention", "  purge: \"@daily\"\n", "retention", []string{"schedule"}},
		{"negative keep", "  keep-backups: -1\n", "keep-backups", []string{"purge"}},
		{"bad grace", "  keep-backups: 1\n  orphan-grace: soon\n", "orphan-grace", []string{"purge"}},
		{"purge without policy", "  mark: \"@daily\"\n", "retention", []string{"purge", "--dry-run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeConfig(t, "jobs:\n"+tt.jobs)
			r := logship(t, nil, append(append(append([]string{}, flags...), "--config", cfg), tt.cmd...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// A failing job shows on /healthz (503) and in the failure counter, and the
// daemon keeps running until SIGTERM. Scheduled marks fail while the store
// has no backup, which needs no PostgreSQL to show.
func TestScheduleHealthzReportsFailures(t *testing.T) {
	t.Parallel()
	storeDir, _ := newStoreDir(t)
	cfg := writeConfig(t, fmt.Sprintf(`store: file://%s
source: hz
log-format: json
jobs:
  mark: "* * * * * *"
  backup: "off"
  verify: "off"
  metrics-listen: "127.0.0.1:0"
`, storeDir))
	d := startDaemon(t, "--config", cfg, "schedule")
	var url string
	pgtest.WaitFor(t, 30*time.Second, "the metrics listener", func() bool {
		if r := d.find("serving /metrics and /healthz"); r != nil {
			url = fmt.Sprintf("http://%s", r["addr"])
			return true
		}
		return false
	})
	var body string
	pgtest.WaitFor(t, 30*time.Second, "healthz to report the failing mark job", func() bool {
		var code int
		body, code, _ = scrapeURL(url + "/healthz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, `"status":"failing"`) || !strings.Contains(body, "no backup yet") {
		t.Errorf("healthz body: %s", body)
	}
	metrics, _, err := scrapeURL(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(metrics, `logship_job_failures_total{job="mark"}`); v < 1 {
		t.Errorf("mark failures %v, want >= 1", v)
	}
	if v, _ := metricValue(metrics, "logship_rpo_seconds"); !math.IsInf(v, 1) {
		t.Errorf("RPO with nothing shipped: %v, want +Inf", v)
	}
	if r := d.find("job failed"); r == nil || r["job"] != "mark" {
		t.Errorf("no JSON log line for the failed run: %v", r)
	}
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exited with %v after SIGINT", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon still running 15 s after SIGINT")
	}
}

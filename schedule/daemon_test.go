package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/schedule"
	"github.com/logship/logship/store/file"
)

func emptyCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return catalog.New(st, "daemon")
}

func healthz(t *testing.T, h http.Handler) (schedule.Health, int) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body schedule.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("healthz body %q: %v", rec.Body.String(), err)
	}
	return body, rec.Code
}

// /healthz answers 503 while a job's last run failed, and 200 again once
// it succeeds.
func TestHealthzFollowsTheLastRun(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	s, err := schedule.NewScheduler([]schedule.Job{{Name: "flaky", Run: func(context.Context, *slog.Logger) error {
		if fail.Load() {
			return errors.New("store down")
		}
		return nil
	}}}, schedule.SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := schedule.Handler(s, schedule.NewMetrics(nil))
	if body, code := healthz(t, h); code != http.StatusOK || body.Status != "ok" || len(body.Jobs) != 1 {
		t.Fatalf("before any run: %d %+v", code, body)
	}
	for _, tt := range []struct {
		fail   bool
		code   int
		status string
	}{{true, http.StatusServiceUnavailable, "failing"}, {false, http.StatusOK, "ok"}} {
		fail.Store(tt.fail)
		done, err := s.Trigger("flaky")
		if err != nil {
			t.Fatal(err)
		}
		<-done
		body, code := healthz(t, h)
		if code != tt.code || body.Status != tt.status {
			t.Fatalf("after a run failing=%v: %d %+v", tt.fail, code, body)
		}
	}
}

// The daemon takes a backup at once when the catalog has none, serves
// /metrics and /healthz, and stops cleanly with its context.
func TestDaemonServesAndStops(t *testing.T) {
	t.Parallel()
	var backups atomic.Int32
	backupRan := make(chan struct{})
	jobs := []schedule.Job{{Name: schedule.JobBackup, Schedule: "@yearly", Run: func(context.Context, *slog.Logger) error {
		if backups.Add(1) == 1 {
			close(backupRan)
		}
		return nil
	}}}
	d, err := schedule.NewDaemon(emptyCatalog(t), jobs, schedule.DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	<-backupRan
	url := "http://" + d.Addr().String()
	waitFor(t, "the first backup to finish", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h schedule.Health
		_ = json.NewDecoder(resp.Body).Decode(&h)
		return resp.StatusCode == http.StatusOK && len(h.Jobs) == 1 && h.Jobs[0].Runs == 1
	})
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after Run returned")
	}
	if n := backups.Load(); n != 1 {
		t.Fatalf("%d backups, want the one taken at start", n)
	}
}

func TestNewDaemonRejectsBadJobs(t *testing.T) {
	t.Parallel()
	_, err := schedule.NewDaemon(emptyCatalog(t), []schedule.Job{{Name: "a", Schedule: "every minute",
		Run: func(context.Context, *slog.Logger) error { return nil }}}, schedule.DaemonOptions{})
	if err == nil {
		t.Fatal("accepted a bad schedule")
	}
}

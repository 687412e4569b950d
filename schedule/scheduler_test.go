package schedule_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/schedule"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockingJob runs until release is closed or its context ends.
func blockingJob(name string, started *atomic.Int32, release <-chan struct{}) schedule.Job {
	return schedule.Job{Name: name, Run: func(ctx context.Context, _ *slog.Logger) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

func jobStatus(s *schedule.Scheduler, name string) schedule.JobStatus {
	for _, j := range s.Jobs() {
		if j.Name == name {
			return j
		}
	}
	return schedule.JobStatus{}
}

func scrape(t *testing.T, m *schedule.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestSchedulerNeverOverlapsAJob(t *testing.T) {
	t.Parallel()
	var started atomic.Int32
	release := make(chan struct{})
	m := schedule.NewMetrics(nil)
	s, err := schedule.NewScheduler([]schedule.Job{blockingJob("slow", &started, release)}, schedule.SchedulerOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Trigger("slow")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first run to start", func() bool { return started.Load() == 1 })
	for range 3 {
		if _, err := s.Trigger("slow"); !errors.Is(err, schedule.ErrJobRunning) {
			t.Fatalf("second trigger: %v, want ErrJobRunning", err)
		}
	}
	if !strings.Contains(scrape(t, m), `logship_job_running{job="slow"} 1`) {
		t.Error("metrics do not show the job running")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := jobStatus(s, "slow"); got.Runs != 1 || got.Skipped != 3 || started.Load() != 1 {
		t.Fatalf("status %+v, started %d", got, started.Load())
	}
	out := scrape(t, m)
	for _, want := range []string{`logship_job_skipped_total{job="slow"} 3`, `logship_job_runs_total{job="slow"} 1`,
		`logship_job_running{job="slow"} 0`, `logship_job_failures_total{job="slow"} 0`} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Once finished it runs again.
	again, err := s.Trigger("slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-again; err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerJobsAreIndependent(t *testing.T) {
	t.Parallel()
	var good atomic.Int32
	m := schedule.NewMetrics(nil)
	s, err := schedule.NewScheduler([]schedule.Job{
		{Name: "bad", Run: func(context.Context, *slog.Logger) error { return errors.New("boom") }},
		{Name: "panics", Run: func(context.Context, *slog.Logger) error { panic("oops") }},
		{Name: "good", Run: func(context.Context, *slog.Logger) error { good.Add(1); return nil }},
	}, schedule.SchedulerOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		job  string
		want string
	}{{"bad", "boom"}, {"panics", "panicked: oops"}, {"good", ""}, {"bad", "boom"}, {"good", ""}} {
		done, err := s.Trigger(tt.job)
		if err != nil {
			t.Fatal(err)
		}
		err = <-done
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Fatalf("%s: %v, want %q", tt.job, err, tt.want)
		}
	}
	if good.Load() != 2 {
		t.Fatalf("good ran %d times", good.Load())
	}
	if st := jobStatus(s, "bad"); st.Failures != 2 || st.LastSuccess != nil || st.LastError != "boom" {
		t.Fatalf("bad: %+v", st)
	}
	out := scrape(t, m)
	for _, want := range []string{`logship_job_failures_total{job="bad"} 2`, `logship_job_failures_total{job="panics"} 1`,
		`logship_job_runs_total{job="good"} 2`, `logship_job_last_success_timestamp_seconds{job="good"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(out, `logship_job_last_success_timestamp_seconds{job="bad"} 0`) {
		t.Error("a job that never succeeded should show last success 0")
	}
}

func TestSchedulerRunsOnSchedule(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	s, err := schedule.NewScheduler([]schedule.Job{{Name: "tick", Schedule: "* * * * * *",
		Run: func(context.Context, *slog.Logger) error { runs.Add(1); return nil }}}, schedule.SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "two scheduled runs", func() bool { return runs.Load() >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		grace     time.Duration
		finishing bool // the job finishes by itself within the grace period
		wantErr   error
	}{
		{name: "cancels a running job at once", wantErr: context.Canceled},
		{name: "lets a job finish within the grace period", grace: time.Minute, finishing: true},
		{name: "cancels a job that outlives the grace period", grace: 50 * time.Millisecond, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var started atomic.Int32
			release := make(chan struct{})
			s, err := schedule.NewScheduler([]schedule.Job{blockingJob("long", &started, release)},
				schedule.SchedulerOptions{StopGrace: tt.grace, StopTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error)
			go func() { stopped <- s.Run(ctx) }()
			result, err := s.Trigger("long")
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the job to start", func() bool { return started.Load() == 1 })
			cancel()
			if tt.finishing {
				close(release)
			}
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			if err := <-result; !errors.Is(err, tt.wantErr) {
				t.Fatalf("job ended with %v, want %v", err, tt.wantErr)
			}
			if _, err := s.Trigger("long"); err == nil {
				t.Fatal("a stopped scheduler started a job")
			}
		})
	}
}

// A job that ignores its context makes Run report it instead of hanging.
func TestSchedulerStopTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	s, err := schedule.NewScheduler([]schedule.Job{{Name: "stubborn", Run: func(context.Context, *slog.Logger) error {
		<-release
		return nil
	}}}, schedule.SchedulerOptions{StopTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	if _, err := s.Trigger("stubborn"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-stopped; err == nil || !strings.Contains(err.Error(), "stubborn") {
		t.Fatalf("Run: %v, want a timeout naming the job", err)
	}
}

func TestNewSchedulerRejectsBadJobs(t *testing.T) {
	t.Parallel()
	run := func(context.Context, *slog.Logger) error { return nil }
	tests := []struct {
		name string
		jobs []schedule.Job
	}{
		{"bad cron", []schedule.Job{{Name: "a", Schedule: "every minute", Run: run}}},
		{"too many fields", []schedule.Job{{Name: "a", Schedule: "* * * * * * *", Run: run}}},
		{"duplicate", []schedule.Job{{Name: "a", Run: run}, {Name: "a", Run: run}}},
		{"no function", []schedule.Job{{Name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := schedule.NewScheduler(tt.jobs, schedule.SchedulerOptions{}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 27, 4, 33, 0, 0, time.UTC)
	tests := []struct {
		spec string
		next time.Time
	}{
		{"CRON_TZ=UTC */15 * * * *", time.Date(2026, 11, 27, 4, 45, 0, 0, time.UTC)},
		{"CRON_TZ=UTC */2 * * * * *", time.Date(2026, 11, 27, 4, 33, 2, 0, time.UTC)},
		{"CRON_TZ=UTC @daily", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"@every 10m", from.Add(10 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := schedule.ParseSchedule(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(from); !got.Equal(tt.next) {
				t.Fatalf("next %s, want %s", got, tt.next)
			}
		})
	}
}

func TestMarkName(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 5, 33, 0, 0, time.FixedZone("CET", 3600))
	if got := schedule.MarkName(at); got != "ls_20261127T043300Z" {
		t.Fatalf("MarkName = %s", got)
	}
}

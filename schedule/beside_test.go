package schedule_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/schedule"
)

func quietJobs() []schedule.Job {
	return []schedule.Job{{Name: schedule.JobVerify, Schedule: "@yearly", Run: func(context.Context, *slog.Logger) error { return nil }}}
}

// A task beside the jobs runs for as long as the daemon does and stops
// with it; a clean stop is no error.
func TestDaemonTaskStopsWithTheDaemon(t *testing.T) {
	t.Parallel()
	started, stopped := make(chan struct{}), make(chan struct{})
	task := schedule.Task{Name: "receive", Run: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	}}
	d, err := schedule.NewDaemon(emptyCatalog(t), quietJobs(), schedule.DaemonOptions{Tasks: []schedule.Task{task}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the task did not start within 30 s of Run")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after a clean stop: %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Run returned before the task stopped")
	}
}

// A task that gives up stops the daemon with its error, named: a receiver
// that stopped must not hide behind cron jobs that still succeed.
func TestDaemonStopsWhenATaskEnds(t *testing.T) {
	t.Parallel()
	boom := errors.New("another cluster")
	task := schedule.Task{Name: "receive", Run: func(context.Context) error { return boom }}
	d, err := schedule.NewDaemon(emptyCatalog(t), quietJobs(), schedule.DaemonOptions{Tasks: []schedule.Task{task}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "receive") {
		t.Fatalf("Run = %v, want the task's error, named", err)
	}
}

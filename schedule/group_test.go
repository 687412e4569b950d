package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/logship/logship/schedule"
)

// A group runs one daemon per source: each takes its first backup, their
// series carry the source, and /healthz tells which source fails.
func TestGroupRunsEverySource(t *testing.T) {
	t.Parallel()
	var daemons []*schedule.Daemon
	for _, fail := range []bool{true, false} {
		jobs := []schedule.Job{{Name: schedule.JobBackup, Schedule: "@yearly", Run: func(context.Context, *slog.Logger) error {
			if fail {
				return errors.New("store down")
			}
			return nil
		}}}
		d, err := schedule.NewDaemon(emptyCatalog(t), jobs, schedule.DaemonOptions{Version: "v9"})
		if err != nil {
			t.Fatal(err)
		}
		daemons = append(daemons, d)
	}
	g, err := schedule.NewGroup([]string{"main", "billing"}, daemons, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- g.Run(ctx) }()
	url := "http://" + g.Addr().String()
	var h schedule.Health
	var code int
	waitFor(t, "both first backups to finish", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h, code = schedule.Health{}, resp.StatusCode
		_ = json.NewDecoder(resp.Body).Decode(&h)
		return len(h.Sources) == 2 && len(h.Sources[0].Jobs) == 1 && h.Sources[0].Jobs[0].Runs == 1 &&
			len(h.Sources[1].Jobs) == 1 && h.Sources[1].Jobs[0].Runs == 1
	})
	if code != http.StatusServiceUnavailable || h.Status != "failing" || h.Sources[0].Source != "main" ||
		h.Sources[0].Status != "failing" || h.Sources[1].Source != "billing" || h.Sources[1].Status != "ok" {
		t.Errorf("healthz %d %+v", code, h)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		"logship_job_failures_total{job=\"backup\",source=\"main\"} 1\n",
		"logship_job_failures_total{job=\"backup\",source=\"billing\"} 0\n",
		"logship_rpo_seconds{source=\"billing\"} +Inf\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := strings.Count(body, "\ngo_goroutines "); n != 1 {
		t.Errorf("go_goroutines %d times, want once", n)
	}
	if n := strings.Count(body, "\nlogship_build_info{"); n != 1 {
		t.Errorf("logship_build_info %d times, want once", n)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

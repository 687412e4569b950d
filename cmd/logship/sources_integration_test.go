package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// schedule with a sources: section and no --source runs the jobs for every
// source, labels their metrics by source, and runs --on-failure with the
// job, the source and the exit code for each failed run. Scheduled marks
// fail while a source has no backup, which needs no PostgreSQL to show.
func TestScheduleEverySourceWithHooks(t *testing.T) {
	t.Parallel()
	storeDir, _ := newStoreDir(t)
	otherStore, _ := newStoreDir(t)
	hookLog := filepath.Join(t.TempDir(), "hooks")
	cfg := writeConfig(t, fmt.Sprintf(`store: file://%s
log-format: json
on-failure: 'echo "$LOGSHIP_HOOK_STATUS $LOGSHIP_HOOK_SOURCE $LOGSHIP_HOOK_JOB $LOGSHIP_HOOK_EXIT_CODE" >> %s'
sources:
  main:
    pg: "host=/nonexistent"
  billing:
    store: file://%s
jobs:
  mark: "* * * * * *"
  backup: "off"
  verify: "off"
  metrics-listen: "127.0.0.1:0"
`, storeDir, hookLog, otherStore))
	d := startDaemon(t, "--config", cfg, "schedule")
	var url string
	pgtest.WaitFor(t, 30*time.Second, "the metrics listener", func() bool {
		if r := d.find("serving /metrics and /healthz"); r != nil {
			url = fmt.Sprintf("http://%s", r["addr"])
			return true
		}
		return false
	})
	pgtest.WaitFor(t, 30*time.Second, "a failure hook for each source", func() bool {
		b, _ := os.ReadFile(hookLog)
		return strings.Contains(string(b), "failure main mark 1\n") && strings.Contains(string(b), "failure billing mark 1\n")
	})
	// The hook runs as the job ends; the job's metrics and health follow
	// it, so poll them too.
	pgtest.WaitFor(t, 30*time.Second, "each source's mark failure in /metrics and /healthz", func() bool {
		metrics, _, err := scrapeURL(url + "/metrics")
		if err != nil {
			return false
		}
		for _, source := range []string{"main", "billing"} {
			if v, _ := metricValue(metrics, `logship_job_failures_total{job="mark",source="`+source+`"}`); v < 1 {
				return false
			}
		}
		body, code, _ := scrapeURL(url + "/healthz")
		return code == 503 && strings.Contains(body, `"source":"billing"`)
	})
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
	// --source runs one source only, with the others' settings out of it.
	d = startDaemon(t, "--config", cfg, "--source", "billing", "schedule", "--metrics-listen", "off")
	pgtest.WaitFor(t, 30*time.Second, "the billing daemon to start", func() bool { return d.find("schedule started") != nil })
	if r := d.find("schedule started"); r["source"] != "billing" || !strings.Contains(fmt.Sprint(r["store"]), otherStore) {
		t.Errorf("--source billing started %v", r)
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	<-d.done
}

// A failed wal-push runs --on-failure with the job, the error and the exit
// code; the hook's own failure changes nothing in wal-push's exit code,
// and a push that succeeds runs no hook.
func TestWALPushFailureHook(t *testing.T) {
	t.Parallel()
	_, flags := newStoreDir(t)
	hookLog := filepath.Join(t.TempDir(), "hooks")
	hook := `printf '%s|%s|%s|%s\n' "$LOGSHIP_HOOK_JOB" "$LOGSHIP_HOOK_STATUS" "$LOGSHIP_HOOK_EXIT_CODE" "$LOGSHIP_HOOK_ERROR" >> ` + hookLog + `; exit 7`
	hooks := []string{"--on-failure", hook, "--on-success", "echo success >> " + hookLog}
	seg := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	mustLogship(t, nil, append(append(flags, hooks...), "wal-push", seg)...)
	if _, err := os.Stat(hookLog); !os.IsNotExist(err) {
		t.Fatalf("a successful push ran a hook: %v", err)
	}
	other := syntheticSegment(t, t.TempDir(), seg1, 42, 1)
	r := logship(t, nil, append(append(flags, hooks...), "wal-push", other)...)
	if r.code != 1 {
		t.Fatalf("push of different content under the same name: exit %d, %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(hookLog)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(b), "\n")
	if !strings.HasPrefix(line, "wal-push|failure|1|") || strings.Contains(line, "\n") || len(line) < len("wal-push|failure|1|")+10 {
		t.Errorf("hook saw %q", b)
	}
	if !strings.Contains(r.stderr, "on-failure hook failed") {
		t.Errorf("the hook's failure is not logged: %s", r.stderr)
	}
}

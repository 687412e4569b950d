package hook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/hook"
)

// The hook gets the event in its environment: the error on one line,
// without the password it quoted.
func TestHookEnvironment(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env")
	r := hook.Runner{OnFailure: "env | grep ^LOGSHIP_HOOK_ | sort > " + out}
	ev := hook.Event{Job: "backup", Source: "main", ExitCode: 1,
		Err: errors.New("connect to \"host=db1 password=s3cret user=x\":\n  refused; s3://key:sekrit@bucket/p")}
	if err := r.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `LOGSHIP_HOOK_ERROR=connect to "host=db1 password=<redacted> user=x": refused; s3://<redacted>@bucket/p
LOGSHIP_HOOK_EXIT_CODE=1
LOGSHIP_HOOK_JOB=backup
LOGSHIP_HOOK_SOURCE=main
LOGSHIP_HOOK_STATUS=failure
`
	if string(b) != want {
		t.Errorf("environment:\n%s\nwant:\n%s", b, want)
	}
}

// On-success runs on success only, on-failure on failure only; a job
// stopped by its context is no failure to tell.
func TestHookPicksTheCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := hook.Runner{OnFailure: "echo failure >> " + filepath.Join(dir, "log"),
		OnSuccess: "echo \"success $LOGSHIP_HOOK_EXIT_CODE\" >> " + filepath.Join(dir, "log")}
	ctx := context.Background()
	_ = r.Notify(ctx, hook.Event{Job: "mark"})
	_ = r.Notify(ctx, hook.Event{Job: "mark", Err: errors.New("x"), ExitCode: 1})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_ = r.Notify(cancelled, hook.Event{Job: "mark", Err: fmt.Errorf("stopping: %w", context.Canceled), ExitCode: 130})
	_ = hook.Runner{}.Notify(ctx, hook.Event{Job: "mark", Err: errors.New("no hook")})
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	if string(b) != "success 0\nfailure\n" {
		t.Errorf("hooks ran: %q", b)
	}
}

// A failing hook is logged, with its output, and reported to the caller
// only as its own error.
func TestHookFailureIsLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := hook.Runner{OnFailure: "echo paging failed >&2; exit 3", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	err := r.Notify(context.Background(), hook.Event{Job: "wal-push", Err: errors.New("store down"), ExitCode: 1})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("hook error %v", err)
	}
	if !strings.Contains(logs.String(), "on-failure hook failed") || !strings.Contains(logs.String(), "paging failed") {
		t.Errorf("log %q", logs.String())
	}
}

// A hook that hangs is killed after its timeout, with what it started.
func TestHookTimeoutKills(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, err := hook.Run(context.Background(), "sleep 60 & echo $! > "+pidFile+"; wait", hook.Event{Job: "verify"}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed after 300ms") {
		t.Fatalf("hook error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("hook returned after %s", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive is whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

// Vars become further LOGSHIP_HOOK_ variables, in a stable order.
func TestEventVars(t *testing.T) {
	env := hook.Event{Job: "promote", Source: "main", Vars: map[string]string{"PORT": "5433", "MARK": "m1"}}.Env()
	tail := env[len(env)-2:]
	if tail[0] != "LOGSHIP_HOOK_MARK=m1" || tail[1] != "LOGSHIP_HOOK_PORT=5433" {
		t.Fatalf("env %v", env)
	}
}

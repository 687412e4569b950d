// Package hook runs the notification commands of --on-failure and
// --on-success: a shell command with what happened in its environment.
//
// A hook only tells: its own failure is logged and never changes the
// outcome (or exit code) of what it reports on, and a hook that hangs is
// killed after a timeout, so that a broken pager never holds up
// archiving.
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Statuses of an Event.
const (
	Failure = "failure"
	Success = "success"
)

// DefaultTimeout is how long a hook may run before it is killed.
const DefaultTimeout = 30 * time.Second

// Event is what a hook is told, in LOGSHIP_HOOK_* variables.
type Event struct {
	Job      string // LOGSHIP_HOOK_JOB: backup, mark, purge, verify, wal-push...
	Source   string // LOGSHIP_HOOK_SOURCE
	Err      error  // LOGSHIP_HOOK_ERROR, on one line, secrets redacted; nil on success
	ExitCode int    // LOGSHIP_HOOK_EXIT_CODE: the code the command exits (or would exit) with
	// Vars are further LOGSHIP_HOOK_<NAME> variables, such as the mark,
	// host and port of a promoted server for --on-promote.
	Vars map[string]string
}

// Status is Failure when the event has an error, else Success.
func (e Event) Status() string {
	if e.Err != nil {
		return Failure
	}
	return Success
}

// Env is the event as environment variables.
func (e Event) Env() []string {
	msg := ""
	if e.Err != nil {
		msg = OneLine(e.Err.Error())
	}
	env := []string{
		"LOGSHIP_HOOK_JOB=" + e.Job,
		"LOGSHIP_HOOK_SOURCE=" + e.Source,
		"LOGSHIP_HOOK_STATUS=" + e.Status(),
		"LOGSHIP_HOOK_ERROR=" + msg,
		"LOGSHIP_HOOK_EXIT_CODE=" + strconv.Itoa(e.ExitCode),
	}
	for _, k := range slices.Sorted(maps.Keys(e.Vars)) {
		env = append(env, "LOGSHIP_HOOK_"+k+"="+e.Vars[k])
	}
	return env
}

// maxError bounds LOGSHIP_HOOK_ERROR: a pager message, not a log.
const maxError = 2000

var secretRE = []struct {
	re   *regexp.Regexp
	repl string
}{
	// libpq keywords and URL query parameters that carry secrets.
	{regexp.MustCompile(`(?i)\b(password|passwd|sslpassword|secret|token|signature|x-amz-[a-z-]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&;,]+)`), "$1=<redacted>"},
	// user:password@ in URLs.
	{regexp.MustCompile(`(://)[^/@\s]*@`), "${1}<redacted>@"},
}

// OneLine is msg on one line, with passwords and URL credentials
// redacted, at most a couple of thousand bytes.
func OneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	for _, s := range secretRE {
		msg = s.re.ReplaceAllString(msg, s.repl)
	}
	if len(msg) > maxError {
		msg = msg[:maxError] + "..."
	}
	return msg
}

// Runner runs the hook of an event: OnFailure for a failure, OnSuccess
// for a success; an empty command is no hook.
type Runner struct {
	OnFailure, OnSuccess string
	Timeout              time.Duration // 0: DefaultTimeout
	Logger               *slog.Logger  // nil: no logging
}

// Notify runs the event's hook, if any, and waits for it. A run cut short
// by ctx (a stop, not a failure) tells nobody. The error is the hook's own
// (already logged); callers go on as if the hook had succeeded.
func (r Runner) Notify(ctx context.Context, ev Event) error {
	command := r.OnSuccess
	if ev.Err != nil {
		command = r.OnFailure
		if ctx.Err() != nil && errors.Is(ev.Err, context.Canceled) {
			return nil
		}
	}
	if command == "" {
		return nil
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	out, err := Run(ctx, command, ev, timeout)
	if err != nil {
		log.Warn("on-"+ev.Status()+" hook failed", "job", ev.Job, "err", err.Error(), "output", OneLine(out))
		return err
	}
	log.Debug("on-"+ev.Status()+" hook ran", "job", ev.Job, "output", OneLine(out))
	return nil
}

// maxOutput bounds the output kept for the log.
const maxOutput = 4096

// limited keeps the first maxOutput bytes written to it.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := maxOutput - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Run runs command through /bin/sh -c with the event's variables added to
// the environment, and returns its output (stdout and stderr, the first
// few KiB). After timeout, or once ctx has been done for the timeout, the
// shell and everything it started are killed. The hook still runs when
// ctx is already done: a failure at stop is worth telling.
func Run(ctx context.Context, command string, ev Event, timeout time.Duration) (string, error) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), ev.Env()...)
	var out limited
	cmd.Stdout, cmd.Stderr = &out, &out
	// A process group of its own, so that the kill reaches what the shell
	// started too (curl, mail) and not logship itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if hctx.Err() != nil {
		return out.String(), fmt.Errorf("hook %q killed after %s", firstWord(command), timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("hook %q: %w", firstWord(command), err)
	}
	return out.String(), nil
}

// firstWord names a command in messages without its arguments, which may
// carry a webhook's token.
func firstWord(command string) string {
	if f := strings.Fields(command); len(f) > 0 {
		return f[0]
	}
	return command
}

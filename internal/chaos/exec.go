package chaos

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is how one logship process ended.
type result struct {
	args   []string
	code   int  // exit code; -1 when killed by a signal
	killed bool // killed by us (a fault or a hang), not exited on its own
	hung   bool // ran past its deadline
	dur    time.Duration
	stdout string
	stderr string
}

func (r result) String() string {
	s := "logship " + strings.Join(r.args, " ")
	switch {
	case r.hung:
		s += ": hung, killed after " + r.dur.Round(time.Millisecond).String()
	case r.killed:
		s += ": killed -9 after " + r.dur.Round(time.Millisecond).String()
	default:
		s += ": exit " + strconv.Itoa(r.code)
	}
	if e := strings.TrimSpace(r.stderr); e != "" {
		if len(e) > 600 {
			e = e[:600] + "…"
		}
		s += "\n    stderr: " + e
	}
	return s
}

// proc is a running logship process.
type proc struct {
	cmd    *exec.Cmd
	start  time.Time
	out    bytes.Buffer
	errb   bytes.Buffer
	done   chan struct{}
	waitEr error
}

// spawn starts logship with args and extra environment (on top of the
// campaign's environment without any LOGSHIP_ setting).
func (c *Campaign) spawn(env []string, args ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(c.bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.waitEr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// finish waits for p until deadline (a hang: killed and counted) or, when
// killAfter >= 0, kills it with SIGKILL after killAfter (the fault).
func (c *Campaign) finish(p *proc, killAfter, deadline time.Duration) result {
	var killT <-chan time.Time
	if killAfter >= 0 {
		t := time.NewTimer(killAfter)
		defer t.Stop()
		killT = t.C
	}
	hangT := time.NewTimer(deadline)
	defer hangT.Stop()
	r := result{args: p.cmd.Args[1:]}
	select {
	case <-p.done:
	case <-killT:
		r.killed = true
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	case <-hangT.C:
		r.killed, r.hung = true, true
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	r.dur = time.Since(p.start)
	r.stdout, r.stderr = p.out.String(), p.errb.String()
	var ee *exec.ExitError
	switch {
	case p.waitEr == nil:
		r.code = 0
	case errors.As(p.waitEr, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
	}
	if r.killed && r.code == 0 {
		// It finished in the instant between the timer and the signal.
		r.killed = false
	}
	c.observe(r)
	return r
}

// run runs logship to completion (bounded by deadline).
func (c *Campaign) run(deadline time.Duration, env []string, args ...string) result {
	p, err := c.spawn(env, args...)
	if err != nil {
		return result{args: args, code: -1, stderr: err.Error()}
	}
	return c.finish(p, -1, deadline)
}

// observe counts what every process shows: panics and hangs.
func (c *Campaign) observe(r result) {
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") && strings.Contains(r.stderr, "[running]") {
		c.fig.Panics++
		c.finding("panic", r.String())
	}
	if r.hung {
		c.fig.Hangs++
		c.finding("hang", r.String())
	}
}

// cleanEnv is the environment without LOGSHIP_ settings, so that every
// store and source comes from explicit flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGSHIP_") {
			env = append(env, kv)
		}
	}
	return env
}

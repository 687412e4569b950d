package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Process is a postgres started by Start.
type Process struct {
	PID     int
	LogFile string
	// LogStart is where this start's output begins in LogFile.
	LogStart int64
	exited   chan error
	done     bool
	exitErr  error
}

// Start runs postgres -D DataDir args in the background as s.User, its
// output appended to logFile (created 0600). The server gets its own
// session, as pg_ctl does it: it outlives the caller, and a Ctrl-C meant
// for the caller does not reach it.
func (s *Server) Start(logFile string, args ...string) (*Process, error) {
	logf, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	defer logf.Close()
	p := &Process{LogFile: logFile, exited: make(chan error, 1)}
	p.LogStart, _ = logf.Seek(0, 2)

	cmd := exec.Command(filepath.Join(s.BinDir, "postgres"), append([]string{"-D", s.DataDir}, args...)...)
	cmd.Dir = s.DataDir
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if s.User != nil {
		cmd.SysProcAttr.Credential = s.User.Credential()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p.PID = cmd.Process.Pid
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// Log returns what the server logged since this start.
func (p *Process) Log() string { return LogSince(p.LogFile, p.LogStart) }

// Outcome says how Wait ended.
type Outcome int

const (
	Reached   Outcome = iota // the condition held
	Exited                   // the server exited; ExitErr says how
	TimedOut                 // the timeout passed first
	Cancelled                // the context ended first
)

// ExitErr is the server's exit status once Wait returned Exited: nil for
// a clean shutdown.
func (p *Process) ExitErr() error { return p.exitErr }

func (o Outcome) String() string {
	switch o {
	case Reached:
		return "reached"
	case Exited:
		return "exited"
	case TimedOut:
		return "timed out"
	case Cancelled:
		return "cancelled"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Wait checks reached every poll until it returns true, the server exits,
// timeout passes or ctx ends, whichever is first. The server is left
// running in every case but Exited; once it has exited, Wait says so at
// once. Wait is not safe for concurrent use.
func (p *Process) Wait(ctx context.Context, timeout, poll time.Duration, reached func() bool) Outcome {
	if p.done {
		return Exited
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case p.exitErr = <-p.exited:
			p.done = true
			return Exited
		case <-deadline.C:
			return TimedOut
		case <-ctx.Done():
			return Cancelled
		case <-tick.C:
		}
		if reached() {
			return Reached
		}
	}
}

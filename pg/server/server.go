package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Server is a data directory and the programs that run it.
type Server struct {
	BinDir  string
	DataDir string
	// Env is the environment of every program run; see CleanEnv.
	Env []string
	// User, when not nil, is the OS user the programs run as (the
	// postgres user, when the caller is root).
	User *OSUser
	// WorkDir is the programs' working directory; "" means DataDir. It
	// must be open to User: initdb complains about one that is not.
	WorkDir string
}

// Command prepares PostgreSQL program prog (initdb, pg_ctl, psql,
// pg_basebackup, ...) to run as s.User in s.Env.
func (s *Server) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, prog), args...)
	cmd.Env = s.Env
	cmd.Dir = s.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = s.DataDir
	}
	if s.User != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.User.Credential()}
	}
	return cmd
}

// PgCtl prepares pg_ctl -D DataDir args.
func (s *Server) PgCtl(ctx context.Context, args ...string) *exec.Cmd {
	return s.Command(ctx, "pg_ctl", append([]string{"-D", s.DataDir}, args...)...)
}

// Running reports whether a server runs on the data directory (pg_ctl
// status). One that shut down at its recovery target, or died, does not.
func (s *Server) Running(ctx context.Context) bool {
	return s.PgCtl(ctx, "status").Run() == nil
}

// Stop shuts the server down with pg_ctl mode (smart, fast, immediate) and
// waits up to a minute for it. A server that is not running, or goes away
// on its own meanwhile, is fine.
func (s *Server) Stop(ctx context.Context, mode string) error {
	if !s.Running(ctx) {
		return nil
	}
	if out, err := s.PgCtl(ctx, "stop", "-m", mode, "-w", "-t", "60").CombinedOutput(); err != nil {
		if !s.Running(ctx) {
			return nil
		}
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// ControlData runs pg_controldata on the data directory and returns its
// fields by their English names ("Database cluster state", ...).
func (s *Server) ControlData(ctx context.Context) (map[string]string, error) {
	cmd := s.Command(ctx, "pg_controldata", "-D", s.DataDir)
	cmd.Env = append(append([]string{}, s.Env...), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pg_controldata: %w", err)
	}
	return parseControlData(string(out)), nil
}

func parseControlData(out string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return fields
}

// PIDFile is what a running postmaster writes to postmaster.pid.
type PIDFile struct {
	PID        int
	Port       int
	SocketDir  string // first of unix_socket_directories; "" if none
	ListenAddr string // first of listen_addresses
	// Status is "starting", "stopping", "ready" or "standby": the latter
	// two accept connections.
	Status string
}

// ErrNotReady means the postmaster has not written its status yet.
var ErrNotReady = errors.New("server not accepting connections yet")

// ReadPIDFile reads dataDir/postmaster.pid. It fails with ErrNotReady
// while the file lacks the status line.
func ReadPIDFile(dataDir string) (PIDFile, error) {
	var p PIDFile
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return p, err
	}
	lines := strings.Split(string(b), "\n")
	p.PID, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) < 8 {
		return p, ErrNotReady
	}
	p.Port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	p.SocketDir = strings.TrimSpace(lines[4])
	p.ListenAddr = strings.TrimSpace(lines[5])
	p.Status = strings.TrimSpace(lines[7])
	return p, nil
}

// Ready reports whether the server accepts connections.
func (p PIDFile) Ready() bool { return p.Status == "ready" || p.Status == "standby" }

// RunningPID reports the pid of a live postmaster on dataDir, from its
// postmaster.pid.
func RunningPID(dataDir string) (int, bool) {
	p, err := ReadPIDFile(dataDir)
	if (err != nil && !errors.Is(err, ErrNotReady)) || p.PID <= 0 {
		return 0, false
	}
	return p.PID, Alive(p.PID)
}

// Alive reports whether process pid exists (perhaps as another user).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// QuoteShell quotes one argument for a POSIX shell: inside single quotes
// nothing is special except the quote itself, written as '\”.
func QuoteShell(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// asPostgresUser wraps a shell command line so that root runs it as the
// postgres OS user, as the server must be run.
func asPostgresUser(cmd string, asRoot bool) string {
	if !asRoot {
		return cmd
	}
	return "su postgres -c " + QuoteShell(cmd)
}

// StartCommand is a shell command line that starts the server by hand with
// pg_ctl, logging to logFile; as root it first hands the data directory to
// the postgres user and runs pg_ctl as that user.
func (s *Server) StartCommand(logFile string, asRoot bool) string {
	pgCtl := "pg_ctl"
	if s.BinDir != "" {
		pgCtl = filepath.Join(s.BinDir, "pg_ctl")
	}
	mkdir := "mkdir -p " + QuoteShell(filepath.Dir(logFile))
	start := fmt.Sprintf("%s -D %s -l %s start", pgCtl, QuoteShell(s.DataDir), QuoteShell(logFile))
	if asRoot {
		return fmt.Sprintf("%s && chown -R postgres: %s && %s", mkdir, QuoteShell(s.DataDir), asPostgresUser(start, true))
	}
	return mkdir + " && " + start
}

// StopCommand is a shell command line that stops the server by hand; as
// root it runs pg_ctl as the postgres user, since pg_ctl refuses root.
func (s *Server) StopCommand(asRoot bool) string {
	pgCtl := "pg_ctl"
	if s.BinDir != "" {
		pgCtl = filepath.Join(s.BinDir, "pg_ctl")
	}
	return asPostgresUser(fmt.Sprintf("%s -D %s stop", pgCtl, QuoteShell(s.DataDir)), asRoot)
}

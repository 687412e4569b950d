package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg/server"
	"github.com/logship/logship/restore"
)

// Options say what a drill restores and checks.
type Options struct {
	// Target is what to restore; the zero Target means the latest mark.
	Target restore.Target
	// ScratchDir is where the drill's directory is made; "" means the
	// system's temporary directory. Everything the drill writes is in one
	// new directory below it, removed at the end.
	ScratchDir string
	// Port of the restored server; 0 picks a free one.
	Port int
	// PGBin is the directory of pg_ctl and postgres ("" finds one).
	PGBin string
	// User is the database user the checks connect as; "" means the OS
	// user the server runs as (postgres when the drill runs as root).
	User string
	// RestoreCommand is the restored server's restore_command.
	RestoreCommand string
	// StartTimeout bounds the wait for the target; 0 means one hour.
	StartTimeout time.Duration
	// SQL are the --check-sql checks.
	SQL []SQLCheck
	// Amcheck runs amcheck's bt_index_check on every B-tree index of every
	// database, where the server has the extension.
	Amcheck bool
	Logger  *slog.Logger
}

// Report is the result of a drill. It is healthy when every check passed.
type Report struct {
	Source   string    `json:"source"`
	Target   string    `json:"target"`
	Mark     string    `json:"mark,omitempty"`
	BackupID string    `json:"backup_id,omitempty"`
	Started  time.Time `json:"started"`
	OK       bool      `json:"ok"`
	// RTO is from the start of the drill until the restored server
	// accepted connections at its target: what a real restore would take.
	RTO        time.Duration `json:"rto_ns"`
	RTOSeconds float64       `json:"rto_seconds"`
	Checks     []Check       `json:"checks"`
	Duration   time.Duration `json:"duration_ns"`
	// Cleaned says the server was stopped and the directory removed.
	Cleaned      bool   `json:"cleaned"`
	CleanupError string `json:"cleanup_error,omitempty"`
}

// Check is one step or check of a drill.
type Check struct {
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Skipped  bool          `json:"skipped,omitempty"`
	Message  string        `json:"message"`
	Duration time.Duration `json:"duration_ns"`
}

// ErrUnhealthy means a check failed; the report says which.
var ErrUnhealthy = errors.New("drill failed")

// cleanupWithin bounds the cleanup, which also runs after a signal, when
// the process has a few seconds left.
const cleanupWithin = 3 * time.Second

// Run restores opts.Target into a new scratch directory, starts it, runs
// the checks, then stops the server (immediate mode) and removes the
// directory, whatever happened, also when ctx is cancelled. The report is
// complete in every case; the error is ErrUnhealthy when a step or check
// failed, the plan's error when the target is bad (restore.ErrUnknownMark,
// restore.ErrBadTarget), or ctx's.
func Run(ctx context.Context, cat *catalog.Catalog, opts Options) (rep *Report, err error) {
	rep = &Report{Source: cat.SourceName(), Started: time.Now().UTC(), Checks: []Check{}}
	if opts.Target == (restore.Target{}) {
		opts.Target.Mark = "latest"
	}
	rep.Target = opts.Target.String()
	defer func() { rep.Duration = time.Since(rep.Started) }()
	plan, err := restore.NewPlan(ctx, cat, opts.Target)
	if errors.Is(err, restore.ErrUnknownMark) || errors.Is(err, restore.ErrBadTarget) {
		return rep, err
	}
	if plan.Target != "" {
		rep.Target = plan.Target
	}
	rep.BackupID = plan.BackupID
	if plan.Mark != nil {
		rep.Mark = plan.Mark.Name
	}
	if !rep.step("plan", func() (string, error) { return planSummary(plan), err }) {
		return rep, failed(ctx, rep)
	}
	dir, err := os.MkdirTemp(opts.ScratchDir, "logship-drill-")
	if err != nil {
		rep.fail("scratch directory", err)
		return rep, failed(ctx, rep)
	}
	// The server runs as the postgres user when this runs as root.
	os.Chmod(dir, 0o755)
	dataDir := filepath.Join(dir, "data")
	defer func() {
		if cerr := cleanup(dataDir, dir); cerr != nil {
			rep.CleanupError = cerr.Error()
			rep.OK = false
			if err == nil {
				err = fmt.Errorf("%w: cleanup: %v", ErrUnhealthy, cerr)
			}
			return
		}
		rep.Cleaned = true
	}()
	port, err := freePort(opts.Port)
	if err != nil {
		rep.fail("port", err)
		return rep, failed(ctx, rep)
	}
	if !rep.restoreAndStart(ctx, cat, plan, opts, dataDir, port) {
		return rep, failed(ctx, rep)
	}
	rep.RTO = time.Since(rep.Started)
	rep.RTOSeconds = rep.RTO.Seconds()
	runChecks(ctx, rep, opts, connector{dir: dataDir, port: port, user: dbUser(opts.User)})
	return rep, failed(ctx, rep)
}

func (rep *Report) restoreAndStart(ctx context.Context, cat *catalog.Catalog, plan restore.Plan, opts Options, dataDir string, port int) bool {
	ok := rep.step("restore", func() (string, error) {
		res, err := restore.Run(ctx, cat, plan, restore.Options{TargetDir: dataDir, Action: "promote", NoArchive: true,
			RestoreCommand: opts.RestoreCommand, Logger: opts.Logger})
		return fmt.Sprintf("backup %s: %d files, %d bytes in %s", plan.BackupID, res.Files, res.RawBytes, res.Duration.Round(time.Millisecond)), err
	})
	if !ok {
		return false
	}
	return rep.step("start", func() (string, error) {
		r, err := restore.Start(ctx, dataDir, restore.StartOptions{PGBin: opts.PGBin, Port: port, Timeout: opts.StartTimeout, Logger: opts.Logger})
		if err != nil {
			return "", err
		}
		if err := restore.CheckReachedEnd(plan, r.LSN); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s at LSN %s on timeline %d after %s of recovery, port %d", r.State, r.LSN, r.Timeline, r.Duration.Round(time.Millisecond), port), nil
	})
}

func planSummary(p restore.Plan) string {
	return fmt.Sprintf("%s from backup %s, timeline %d, WAL %s to %s (%d segments)", p.Target, p.BackupID, p.Timeline, p.FirstWAL, p.LastWAL, p.Segments)
}

// step runs fn as a check named name and reports whether it passed.
func (rep *Report) step(name string, fn func() (string, error)) bool {
	began := time.Now()
	msg, err := fn()
	c := Check{Name: name, OK: err == nil, Message: msg, Duration: time.Since(began)}
	if err != nil {
		c.Message = err.Error()
	}
	rep.Checks = append(rep.Checks, c)
	return c.OK
}

func (rep *Report) fail(name string, err error) {
	rep.Checks = append(rep.Checks, Check{Name: name, Message: err.Error()})
}

// failed sets rep.OK and returns the drill's error: ctx's when it was
// cancelled, ErrUnhealthy when a check failed.
func failed(ctx context.Context, rep *Report) error {
	rep.OK = len(rep.Checks) > 0
	for _, c := range rep.Checks {
		rep.OK = rep.OK && (c.OK || c.Skipped)
	}
	if err := ctx.Err(); err != nil {
		rep.OK = false
		return err
	}
	if !rep.OK {
		return ErrUnhealthy
	}
	return nil
}

// cleanup stops whatever server runs on dataDir at once (SIGQUIT is
// PostgreSQL's immediate shutdown; SIGKILL if it lingers) and removes dir.
// It needs no context: it must run after a cancellation too.
func cleanup(dataDir, dir string) error {
	stopServers(dataDir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// freePort returns port, or a free TCP port when it is 0.
func freePort(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dbUser is the user the checks connect as.
func dbUser(u string) string {
	switch {
	case u != "":
		return u
	case server.AsRoot():
		return "postgres"
	}
	if cur, err := user.Current(); err == nil {
		return cur.Username
	}
	return "postgres"
}

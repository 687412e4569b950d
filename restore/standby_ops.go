package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/server"
)

// ServerStatus is what a running restored server says of its recovery.
type ServerStatus struct {
	Running    bool
	InRecovery bool
	Paused     bool   // replay paused (at a target, or asked to)
	LSN        pg.LSN // last replayed WAL position; 0 once promoted
	Timeline   uint32
	Port       int
	SocketDir  string
	PID        int
}

// openServer finds the programs for, and the OS identity of, the server
// on an existing data directory, as Start would run it.
func openServer(dataDir string, opts StartOptions) (*server.Server, string, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, "", err
	}
	version, err := server.DataDirMajor(dir)
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a data directory: %w", dir, err)
	}
	bin, err := FindBinDir(opts.PGBin, version)
	if err != nil {
		return nil, "", err
	}
	settings, err := server.ReadConf(dir)
	if err != nil {
		return nil, "", err
	}
	logFile := opts.LogFile
	if logFile == "" {
		logFile = filepath.Join(dir, "log", "logship-start.log")
		if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
			return nil, "", err
		}
	}
	if err := server.AppendFile(logFile, ""); err != nil {
		return nil, "", fmt.Errorf("server log: %w", err)
	}
	srv := &server.Server{BinDir: bin, DataDir: dir}
	if err := serverIdentity(srv, logFile, recoveryConf{restoreCommand: settings["restore_command"]}); err != nil {
		return nil, "", err
	}
	return srv, logFile, nil
}

// Status asks the server on dataDir where its recovery stands; a directory
// without a running server is reported as not Running, without error.
func Status(ctx context.Context, dataDir string, opts StartOptions) (ServerStatus, error) {
	var s ServerStatus
	pid, ok := server.RunningPID(dataDir)
	if !ok {
		return s, nil
	}
	s.Running, s.PID = true, pid
	srv, _, err := openServer(dataDir, opts)
	if err != nil {
		return s, err
	}
	st, err := queryState(ctx, srv, opts.User)
	if err != nil {
		return s, fmt.Errorf("server (pid %d) on %s: %w", pid, dataDir, err)
	}
	s.InRecovery, s.Paused, s.Timeline = st.inRecovery, st.pause == "paused", st.timeline
	s.Port, s.SocketDir = st.port, st.socketDir
	if st.lsn != "" {
		if s.LSN, err = pg.ParseLSN(st.lsn); err != nil {
			return s, err
		}
	}
	return s, nil
}

// StopServer stops the server on dataDir (fast: a restartpoint, then out),
// if one runs.
func StopServer(ctx context.Context, dataDir string, opts StartOptions) error {
	if _, ok := server.RunningPID(dataDir); !ok {
		return nil
	}
	srv, _, err := openServer(dataDir, opts)
	if err != nil {
		return err
	}
	return srv.Stop(ctx, "fast")
}

// Retarget replaces the recovery target of a stopped restored directory:
// recovery.signal, the directory's own restore_command, and t with action
// pause, so that the next Start replays to t and pauses there. Recovery
// targets are read only at startup, hence a restart per target.
func Retarget(dataDir string, t RecoveryTarget) error {
	if pid, ok := server.RunningPID(dataDir); ok {
		return fmt.Errorf("a server (pid %d) runs on %s: stop it before changing its target", pid, dataDir)
	}
	settings, err := server.ReadConf(dataDir)
	if err != nil {
		return err
	}
	t.Action = "pause"
	if err := dropRecoverySettings(dataDir); err != nil {
		return err
	}
	return WriteRecoveryConfig(dataDir, RecoverySettings{RestoreCommand: settings["restore_command"], Target: t})
}

// ErrNotAtTarget means a server to promote is not paused exactly at the
// LSN it should stand on.
var ErrNotAtTarget = errors.New("not paused at the target")

// PromoteAt promotes the server on dataDir, which must be in recovery,
// paused with replay ended exactly at want, and checks that the new
// timeline branched off exactly there. Paused at a target, pg_promote ends
// recovery at that point; pg_wal_replay_resume would not stop there.
func PromoteAt(ctx context.Context, dataDir string, want pg.LSN, opts StartOptions) (Reached, error) {
	began := time.Now()
	var r Reached
	st, err := Status(ctx, dataDir, opts)
	switch {
	case err != nil:
		return r, err
	case !st.Running:
		return r, fmt.Errorf("%w: no server runs on %s", ErrNotAtTarget, dataDir)
	case !st.InRecovery:
		return r, fmt.Errorf("%w: the server on %s is already promoted", ErrNotAtTarget, dataDir)
	case !st.Paused || st.LSN != want:
		return r, fmt.Errorf("%w: the server on %s is at %s (paused: %v), not paused at %s", ErrNotAtTarget, dataDir, st.LSN, st.Paused, want)
	}
	srv, logFile, err := openServer(dataDir, opts)
	if err != nil {
		return r, err
	}
	r = Reached{PID: st.PID, Port: st.Port, SocketDir: st.SocketDir, LogFile: logFile, BinDir: srv.BinDir, LSN: want.String()}
	if _, err := runPSQL(ctx, srv, opts.User, "SELECT pg_promote(true, 60)"); err != nil {
		return r, fmt.Errorf("%w: promote the server on %s: %v; see %s", ErrRecoveryFailed, dataDir, err, logFile)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	for {
		st, err := queryState(ctx, srv, opts.User)
		if err == nil && !st.inRecovery {
			r.State, r.Timeline = "promoted", st.timeline
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%w: the server on %s is not promoted after %s; see %s", ErrRecoveryFailed, dataDir, timeout, logFile)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(startPoll):
		}
	}
	sw, err := switchPoint(srv.DataDir, r.Timeline)
	if err != nil {
		return r, fmt.Errorf("%w: where the new timeline %d branched off is not known: %v", ErrTargetMissed, r.Timeline, err)
	}
	if sw != want {
		return r, fmt.Errorf("%w: promoted at %s, asked for %s; the server on %s runs on timeline %d: do not use it", ErrTargetMissed, sw, want, dataDir, r.Timeline)
	}
	r.Duration = time.Since(began)
	return r, nil
}

// recoveryKeys are the settings WriteRecoveryConfig writes.
var recoveryKeys = map[string]bool{"restore_command": true, "archive_cleanup_command": true,
	"recovery_target": true, "recovery_target_name": true, "recovery_target_time": true, "recovery_target_xid": true,
	"recovery_target_lsn": true, "recovery_target_inclusive": true, "recovery_target_timeline": true, "recovery_target_action": true}

// dropRecoverySettings removes the recovery settings (and logship's header
// line for them) from postgresql.auto.conf, so that a standby retargeted
// every few minutes does not grow the file without end. The file keeps its
// owner: the server reads it as the postgres user.
func dropRecoverySettings(dir string) error {
	name := filepath.Join(dir, "postgresql.auto.conf")
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		key, _, _ := strings.Cut(trimmed, "=")
		if recoveryKeys[strings.TrimSpace(key)] || trimmed == "# recovery settings written by logship restore" {
			continue
		}
		kept = append(kept, line)
	}
	tmp := name + ".logship-tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(kept, "")), fi.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, name)
}

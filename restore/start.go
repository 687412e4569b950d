package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/pg/server"
)

// ErrRecoveryFailed means the restored server stopped, or never got to its
// target, instead of reaching it.
var ErrRecoveryFailed = errors.New("recovery did not reach its target")

// StartOptions tune Start.
type StartOptions struct {
	// PGBin is the directory holding pg_ctl, postgres and psql; "" finds
	// one: pg_ctl on PATH, then `pg_config --bindir`, then the newest
	// /usr/lib/postgresql/*/bin, preferring the data directory's major version.
	PGBin string
	// Port, when not 0, is written to postgresql.auto.conf with a socket
	// directory inside the data directory, so the restored server does not
	// clash with the source on the same host.
	Port int
	// Timeout bounds the wait for the target; 0 means one hour. The server
	// is left running when it passes.
	Timeout time.Duration
	// User is the database user to check progress as; "" lets psql use the
	// name of the OS user the server runs as.
	User string
	// LogFile receives the server's output; "" means log/logship-start.log
	// inside the data directory.
	LogFile string
	Logger  *slog.Logger
}

// Reached says where a started server got to.
type Reached struct {
	// State is promoted, paused, shut down (recovery_target_action shutdown)
	// or standby (a standby without target, replaying as segments arrive).
	State    string `json:"state"`
	LSN      string `json:"lsn"`      // last replayed WAL position
	Timeline uint32 `json:"timeline"` // the server's timeline once there
	// StopLine is the server's "recovery stopping ..." log line, naming the
	// mark, transaction or LSN it stopped at.
	StopLine  string        `json:"stop_line,omitempty"`
	Duration  time.Duration `json:"duration_ns"` // from start to target: the recovery part of the RTO
	PID       int           `json:"pid,omitempty"`
	Port      int           `json:"port,omitempty"`
	SocketDir string        `json:"socket_dir,omitempty"`
	LogFile   string        `json:"log_file"`
	BinDir    string        `json:"bin_dir"`
}

const startPoll = 200 * time.Millisecond

// Start starts PostgreSQL on a restored data directory and waits until
// recovery reaches the target its settings name: promoted for action
// promote, paused for pause, stopped after "shutdown at recovery target" for
// shutdown, or accepting connections for a standby without target. A server
// that stops on its own instead fails with ErrRecoveryFailed quoting its
// log's FATAL line. Run as root, the server runs as the postgres OS user and
// the directory is handed to it. The server keeps running after Start
// returns, also when the wait fails.
func Start(ctx context.Context, dataDir string, opts StartOptions) (Reached, error) {
	began := time.Now()
	var r Reached
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Hour
	}
	srv, conf, err := prepareStart(dataDir, opts, &r)
	if err != nil {
		return r, err
	}
	dir := srv.DataDir
	proc, err := srv.Start(r.LogFile)
	if err != nil {
		return r, err
	}
	r.PID = proc.PID
	log.Info("server started", "pid", r.PID, "data_dir", dir, "log", r.LogFile)

	reached := func() bool {
		st, err := queryState(ctx, srv, opts.User)
		if err != nil {
			return false // starting up, or not yet consistent
		}
		r.Port, r.SocketDir, r.LSN, r.Timeline = st.port, st.socketDir, st.lsn, st.timeline
		switch {
		case !st.inRecovery:
			r.State = "promoted"
		case st.pause == "paused" && conf.hasTarget:
			r.State = "paused"
		case conf.standby && !conf.hasTarget:
			r.State = "standby"
		default:
			return false
		}
		return true
	}
	switch proc.Wait(ctx, opts.Timeout, startPoll, reached) {
	case server.Exited:
		text := proc.Log()
		r.StopLine = server.LastLine(text, "recovery stopping")
		if proc.ExitErr() == nil && strings.Contains(text, "shutdown at recovery target") {
			r.State, r.Duration = "shut down", time.Since(began)
			r.LSN, r.Timeline = controlRecoveryEnd(ctx, srv)
			return r, nil
		}
		return r, fmt.Errorf("%w: the server on %s stopped (%v): %s (log: %s)", ErrRecoveryFailed, dir, proc.ExitErr(), server.FatalLine(text), r.LogFile)
	case server.TimedOut:
		return r, fmt.Errorf("%w: not reached after %s; the server (pid %d) still runs on %s; see %s", ErrRecoveryFailed, opts.Timeout, r.PID, dir, r.LogFile)
	case server.Cancelled:
		return r, fmt.Errorf("waiting for recovery: %w; the server (pid %d) still runs on %s", ctx.Err(), r.PID, dir)
	}
	r.Duration = time.Since(began)
	r.StopLine = server.LastLine(proc.Log(), "recovery stopping")
	return r, nil
}

// prepareStart checks the data directory, finds the programs, applies
// opts.Port, makes the log file's directory and decides who runs the
// server; it fills r's BinDir and LogFile.
func prepareStart(dataDir string, opts StartOptions, r *Reached) (*server.Server, recoveryConf, error) {
	var conf recoveryConf
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, conf, err
	}
	if pid, ok := server.RunningPID(dir); ok {
		return nil, conf, fmt.Errorf("a server (pid %d) already runs on %s", pid, dir)
	}
	version, err := server.DataDirMajor(dir)
	if err != nil {
		return nil, conf, fmt.Errorf("%s is not a restored data directory: %w", dir, err)
	}
	if r.BinDir, err = FindBinDir(opts.PGBin, version); err != nil {
		return nil, conf, err
	}
	if opts.Port != 0 {
		if err := SetPort(dir, opts.Port); err != nil {
			return nil, conf, err
		}
	}
	if conf, err = readRecoveryConf(dir); err != nil {
		return nil, conf, err
	}
	r.LogFile = opts.LogFile
	if r.LogFile == "" {
		r.LogFile = filepath.Join(dir, "log", "logship-start.log")
		if err := os.MkdirAll(filepath.Dir(r.LogFile), 0o700); err != nil {
			return nil, conf, err
		}
	}
	// Created before the directory is handed over, so that it is too.
	if err := server.AppendFile(r.LogFile, ""); err != nil {
		return nil, conf, fmt.Errorf("server log: %w", err)
	}
	srv := &server.Server{BinDir: r.BinDir, DataDir: dir}
	if err := serverIdentity(srv, r.LogFile, conf); err != nil {
		return nil, conf, err
	}
	return srv, conf, nil
}

// FindBinDir finds the PostgreSQL programs for a data directory of major
// version want ("" accepts any): dir if given, else pg_ctl on PATH, else
// `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
func FindBinDir(dir, want string) (string, error) {
	if dir != "" {
		if err := server.CheckBinDir(dir, want, server.StartPrograms...); err != nil {
			return "", fmt.Errorf("--pg-bin: %w", err)
		}
		return dir, nil
	}
	found, err := server.FindBinDir(server.Candidates(), want, server.StartPrograms...)
	switch {
	case errors.Is(err, server.ErrNoBinDir):
		return "", errors.New("no PostgreSQL programs found: give --pg-bin, put pg_ctl on PATH, or install PostgreSQL")
	case err != nil:
		return "", fmt.Errorf("%w; give --pg-bin", err)
	}
	return found, nil
}

// SetPort makes the restored server listen on port, with its socket in the
// data directory: the source's socket directory may not exist here, and a
// socket beside the source's on the same host must not clash.
func SetPort(dir string, port int) error {
	text, err := server.PortSettings(port, dir)
	if err != nil {
		return err
	}
	return appendConf(dir, "# written by logship restore --port\n"+text)
}

// appendConf adds settings to postgresql.auto.conf, which wins over
// postgresql.conf.
func appendConf(dir, text string) error {
	return server.AppendConf(dir, "postgresql.auto.conf", text)
}

// recoveryConf is what Start needs to know of the restored settings.
type recoveryConf struct {
	standby        bool
	hasTarget      bool
	action         string
	restoreCommand string
}

func readRecoveryConf(dir string) (recoveryConf, error) {
	var c recoveryConf
	settings, err := server.ReadConf(dir)
	if err != nil {
		return c, err
	}
	for _, k := range []string{"recovery_target", "recovery_target_name", "recovery_target_time", "recovery_target_xid", "recovery_target_lsn"} {
		c.hasTarget = c.hasTarget || settings[k] != ""
	}
	c.action = settings["recovery_target_action"]
	if c.action == "" {
		c.action = "pause" // PostgreSQL's default
	}
	c.restoreCommand = settings["restore_command"]
	_, err = os.Stat(filepath.Join(dir, "standby.signal"))
	c.standby = err == nil
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil && !c.standby {
		return c, fmt.Errorf("%s has neither recovery.signal nor standby.signal: it was not prepared by logship restore", dir)
	}
	return c, nil
}

// serverIdentity decides which OS user runs the server, with what
// environment. As root that is the postgres user, who must own the
// directory and be able to reach it and the restore command.
func serverIdentity(srv *server.Server, logFile string, conf recoveryConf) error {
	// PGPORT and friends would redirect the server or its restore
	// command; PGDATA would point pg tools elsewhere.
	if !server.AsRoot() {
		srv.Env = server.CleanEnv(os.Getenv("HOME"), "PG")
		return nil
	}
	u, err := server.PostgresUser()
	if err != nil {
		return fmt.Errorf("running as root: PostgreSQL refuses to run as root and there is no postgres OS user to run it as: %w", err)
	}
	dir := srv.DataDir
	// dir and what is inside it are handed over below; the way to them
	// must already be open.
	for _, p := range append([]string{filepath.Dir(dir), filepath.Dir(logFile)}, tablespaceParents(dir)...) {
		if !strings.HasPrefix(p+"/", dir+"/") {
			if err := u.Reachable(p); err != nil {
				return err
			}
		}
	}
	if exe := firstShellWord(conf.restoreCommand); filepath.IsAbs(exe) {
		if err := u.Reachable(exe); err != nil {
			return fmt.Errorf("restore_command %s: %w; install logship where the postgres user can run it", exe, err)
		}
	}
	for _, p := range append([]string{dir, logFile}, tablespaceTargets(dir)...) {
		if err := u.Chown(p); err != nil {
			return err
		}
	}
	srv.Env, srv.User = server.CleanEnv(u.Home, "PG"), &u
	return nil
}

// firstShellWord returns the program of a command written by FetchCommand:
// single-quoted, or plain up to the first space.
func firstShellWord(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, "'") {
		if end := strings.IndexByte(cmd[1:], '\''); end >= 0 {
			return strings.ReplaceAll(cmd[1:1+end], "%%", "%")
		}
		return ""
	}
	w, _, _ := strings.Cut(cmd, " ")
	return w
}

type serverState struct {
	inRecovery bool
	lsn        string
	pause      string
	timeline   uint32
	port       int
	socketDir  string
}

// stateQuery reads recovery progress; pg_walfile_name works only outside
// recovery, where it gives the timeline the server writes on.
const stateQuery = `SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''),
  CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE '' END,
  CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END`

// queryState asks the server through psql, run as the server's OS user so
// that the usual peer authentication over the socket lets it in.
func queryState(ctx context.Context, srv *server.Server, dbUser string) (serverState, error) {
	var st serverState
	pid, err := server.ReadPIDFile(srv.DataDir)
	if err != nil {
		return st, err
	}
	if !pid.Ready() {
		return st, server.ErrNotReady
	}
	st.port, st.socketDir = pid.Port, pid.SocketDir
	host := st.socketDir
	if host == "" {
		host = pid.ListenAddr
		if host == "*" || host == "" {
			host = "127.0.0.1"
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := srv.Command(qctx, "psql", "-X", "-A", "-t", "-q", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", stateQuery)
	cmd.Env = slices.Concat(srv.Env, []string{"PGHOST=" + host, "PGPORT=" + strconv.Itoa(st.port), "PGDATABASE=postgres",
		"PGCONNECT_TIMEOUT=5", "PGAPPNAME=logship restore"})
	if dbUser != "" {
		cmd.Env = append(cmd.Env, "PGUSER="+dbUser)
	}
	out, err := cmd.Output()
	if err != nil {
		return st, err
	}
	f := strings.Split(strings.TrimSpace(string(out)), "|")
	if len(f) != 4 {
		return st, fmt.Errorf("psql printed %q", out)
	}
	st.inRecovery = f[0] == "t"
	st.lsn, st.pause = f[1], f[2]
	tli, _ := strconv.ParseUint(f[3], 10, 32)
	st.timeline = uint32(tli)
	return st, nil
}

// controlRecoveryEnd reads where a server that shut down at its target got
// to, from pg_controldata.
func controlRecoveryEnd(ctx context.Context, srv *server.Server) (string, uint32) {
	fields, err := srv.ControlData(ctx)
	if err != nil {
		return "", 0
	}
	tli, _ := strconv.ParseUint(fields["Min recovery ending loc's timeline"], 10, 32)
	return fields["Minimum recovery ending location"], uint32(tli)
}

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
//
// An LSN or time target is checked once reached (checkTarget): where
// recovery stopped must be the target exactly, or Start stops the server and
// fails with ErrRecoveryFailed and ErrTargetMissed. With action promote the
// server is started to pause at the target instead and promoted only once
// the check passed, so that a wrong stop never becomes a new timeline
// shipped into the store.
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
	var args []string
	// Pausing needs hot_standby; without it PostgreSQL shuts down instead,
	// so such a server promotes at once and is checked after.
	pauseFirst := conf.goal.set() && conf.action == "promote" && conf.hotStandby
	if pauseFirst {
		args = []string{"-c", "recovery_target_action=pause"}
	}
	proc, err := srv.Start(r.LogFile, args...)
	if err != nil {
		return r, err
	}
	r.PID = proc.PID
	log.Info("server started", "pid", r.PID, "data_dir", srv.DataDir, "log", r.LogFile, "pause_first", pauseFirst)
	w := &startWait{ctx: ctx, srv: srv, proc: proc, conf: conf, opts: opts, r: &r}
	var st serverState
	if st, err = w.untilTarget(); err != nil {
		return r, err
	}
	if err := w.checkReached(st); err != nil {
		return r, err
	}
	if pauseFirst {
		log.Info("target checked; promoting", "lsn", r.LSN)
		if st, err = w.promote(); err != nil {
			return r, err
		}
		if err := w.checkReached(st); err != nil {
			return r, err
		}
	}
	r.Duration = time.Since(began)
	return r, nil
}

// startWait is one Start's server and what it waits for.
type startWait struct {
	ctx  context.Context
	srv  *server.Server
	proc *server.Process
	conf recoveryConf
	opts StartOptions
	r    *Reached
}

// untilTarget waits until the server is promoted, paused at its target, a
// standby, or shut down at its target, and fills r with where it got to.
func (w *startWait) untilTarget() (serverState, error) {
	r, conf, dir := w.r, w.conf, w.srv.DataDir
	var last serverState
	reached := func() bool {
		st, err := queryState(w.ctx, w.srv, w.opts.User)
		if err != nil {
			return false // starting up, or not yet consistent
		}
		last = st
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
	switch w.proc.Wait(w.ctx, w.opts.Timeout, startPoll, reached) {
	case server.Exited:
		text := w.proc.Log()
		r.StopLine = server.LastLine(text, "recovery stopping")
		if w.proc.ExitErr() == nil && strings.Contains(text, "shutdown at recovery target") {
			r.State = "shut down"
			r.LSN, r.Timeline = controlRecoveryEnd(w.ctx, w.srv)
			return serverState{}, nil
		}
		return last, fmt.Errorf("%w: the server on %s stopped (%v): %s (log: %s)", ErrRecoveryFailed, dir, w.proc.ExitErr(), server.FatalLine(text), r.LogFile)
	case server.TimedOut:
		return last, fmt.Errorf("%w: not reached after %s; the server (pid %d) still runs on %s; see %s", ErrRecoveryFailed, w.opts.Timeout, r.PID, dir, r.LogFile)
	case server.Cancelled:
		return last, fmt.Errorf("waiting for recovery: %w; the server (pid %d) still runs on %s", w.ctx.Err(), r.PID, dir)
	}
	r.StopLine = server.LastLine(w.proc.Log(), "recovery stopping")
	return last, nil
}

// promote promotes a server paused at its checked target and waits until
// it is out of recovery.
func (w *startWait) promote() (serverState, error) {
	if _, err := runPSQL(w.ctx, w.srv, w.opts.User, "SELECT pg_promote(true, 60)"); err != nil {
		return serverState{}, fmt.Errorf("%w: promote the server paused at its target (pid %d on %s): %v; see %s",
			ErrRecoveryFailed, w.r.PID, w.srv.DataDir, err, w.r.LogFile)
	}
	var last serverState
	promoted := func() bool {
		st, err := queryState(w.ctx, w.srv, w.opts.User)
		if err != nil || st.inRecovery {
			return false
		}
		last = st
		w.r.State, w.r.Timeline = "promoted", st.timeline
		return true
	}
	switch w.proc.Wait(w.ctx, w.opts.Timeout, startPoll, promoted) {
	case server.Reached:
		return last, nil
	case server.Exited:
		return last, fmt.Errorf("%w: the server on %s stopped while promoting (%v): %s (log: %s)", ErrRecoveryFailed,
			w.srv.DataDir, w.proc.ExitErr(), server.FatalLine(w.proc.Log()), w.r.LogFile)
	}
	return last, fmt.Errorf("%w: not promoted after %s; the server (pid %d) still runs on %s, paused at its target; see %s",
		ErrRecoveryFailed, w.opts.Timeout, w.r.PID, w.srv.DataDir, w.r.LogFile)
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
	goal           recoveryGoal // the LSN or time target Start checks
	hotStandby     bool         // needed to pause at the target
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
	if c.goal, err = goalOf(settings); err != nil {
		return c, err
	}
	switch strings.ToLower(settings["hot_standby"]) {
	case "off", "false", "no", "0":
	default:
		c.hotStandby = true
	}
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
	// What the server inherits is serverEnv's to decide (no PG*, no
	// LOGSHIP_PG).
	if !server.AsRoot() {
		srv.Env = append(serverEnv(os.Environ()), "HOME="+os.Getenv("HOME"))
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
	srv.Env, srv.User = append(serverEnv(os.Environ()), "HOME="+u.Home), &u
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
	lastCommit time.Time // of the last replayed commit or abort; zero if none
}

// stateQuery reads recovery progress; pg_walfile_name works only outside
// recovery, where it gives the timeline the server writes on.
const stateQuery = `SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''),
  CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE '' END,
  CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  coalesce(to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', '')`

// queryState asks the server through psql, run as the server's OS user so
// that the usual peer authentication over the socket lets it in.
func queryState(ctx context.Context, srv *server.Server, dbUser string) (serverState, error) {
	var st serverState
	out, pid, err := psqlAt(ctx, srv, dbUser, stateQuery)
	if err != nil {
		return st, err
	}
	st.port, st.socketDir = pid.Port, pid.SocketDir
	f := strings.Split(out, "|")
	if len(f) != 5 {
		return st, fmt.Errorf("psql printed %q", out)
	}
	st.inRecovery = f[0] == "t"
	st.lsn, st.pause = f[1], f[2]
	tli, _ := strconv.ParseUint(f[3], 10, 32)
	st.timeline = uint32(tli)
	if f[4] != "" {
		if st.lastCommit, err = parsePGTime(f[4]); err != nil {
			return st, err
		}
	}
	return st, nil
}

// runPSQL runs one statement on the started server and returns its output.
func runPSQL(ctx context.Context, srv *server.Server, dbUser, sql string) (string, error) {
	out, _, err := psqlAt(ctx, srv, dbUser, sql)
	return out, err
}

// psqlAt runs sql with psql on the server's socket (or address) as its
// postmaster.pid gives it, once the server accepts connections.
func psqlAt(ctx context.Context, srv *server.Server, dbUser, sql string) (string, server.PIDFile, error) {
	pid, err := server.ReadPIDFile(srv.DataDir)
	if err != nil {
		return "", pid, err
	}
	if !pid.Ready() {
		return "", pid, server.ErrNotReady
	}
	host := pid.SocketDir
	if host == "" {
		host = pid.ListenAddr
		if host == "*" || host == "" {
			host = "127.0.0.1"
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := srv.Command(qctx, "psql", "-X", "-A", "-t", "-q", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql)
	cmd.Env = slices.Concat(srv.Env, []string{"PGHOST=" + host, "PGPORT=" + strconv.Itoa(pid.Port), "PGDATABASE=postgres",
		"PGCONNECT_TIMEOUT=5", "PGAPPNAME=logship restore"})
	if dbUser != "" {
		cmd.Env = append(cmd.Env, "PGUSER="+dbUser)
	}
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), pid, err
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

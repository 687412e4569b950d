package restore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return r, err
	}
	if pid, ok := runningPostmaster(dir); ok {
		return r, fmt.Errorf("a server (pid %d) already runs on %s", pid, dir)
	}
	version, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err != nil {
		return r, fmt.Errorf("%s is not a restored data directory: %w", dir, err)
	}
	if r.BinDir, err = FindBinDir(opts.PGBin, strings.TrimSpace(string(version))); err != nil {
		return r, err
	}
	if opts.Port != 0 {
		if err := SetPort(dir, opts.Port); err != nil {
			return r, err
		}
	}
	conf, err := readRecoveryConf(dir)
	if err != nil {
		return r, err
	}
	r.LogFile = opts.LogFile
	if r.LogFile == "" {
		r.LogFile = filepath.Join(dir, "log", "logship-start.log")
		if err := os.MkdirAll(filepath.Dir(r.LogFile), 0o700); err != nil {
			return r, err
		}
	}
	logf, err := os.OpenFile(r.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return r, fmt.Errorf("server log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)

	cred, env, err := serverIdentity(dir, r.LogFile, conf)
	if err != nil {
		return r, err
	}

	cmd := exec.Command(filepath.Join(r.BinDir, "postgres"), "-D", dir)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session, as pg_ctl does it: the server outlives logship, and a
	// Ctrl-C meant for logship does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start postgres: %w", err)
	}
	r.PID = cmd.Process.Pid
	log.Info("server started", "pid", r.PID, "data_dir", dir, "log", r.LogFile)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.NewTimer(opts.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			text := logSince(r.LogFile, logStart)
			r.StopLine = lastLine(text, "recovery stopping")
			if err == nil && strings.Contains(text, "shutdown at recovery target") {
				r.State, r.Duration = "shut down", time.Since(began)
				r.LSN, r.Timeline = controlRecoveryEnd(ctx, r.BinDir, dir, cred, env)
				return r, nil
			}
			return r, fmt.Errorf("%w: the server on %s stopped (%v): %s (log: %s)", ErrRecoveryFailed, dir, err, fatalLines(text), r.LogFile)
		case <-deadline.C:
			return r, fmt.Errorf("%w: not reached after %s; the server (pid %d) still runs on %s; see %s", ErrRecoveryFailed, opts.Timeout, r.PID, dir, r.LogFile)
		case <-ctx.Done():
			return r, fmt.Errorf("waiting for recovery: %w; the server (pid %d) still runs on %s", ctx.Err(), r.PID, dir)
		case <-tick.C:
		}
		st, err := queryState(ctx, r.BinDir, dir, cred, env, opts.User)
		if err != nil {
			continue // starting up, or not yet consistent
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
			continue
		}
		r.Duration = time.Since(began)
		r.StopLine = lastLine(logSince(r.LogFile, logStart), "recovery stopping")
		return r, nil
	}
}

// FindBinDir finds the PostgreSQL programs for a data directory of major
// version want ("" accepts any): dir if given, else pg_ctl on PATH, else
// `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
func FindBinDir(dir, want string) (string, error) {
	if dir != "" {
		if err := checkBinDir(dir, want); err != nil {
			return "", fmt.Errorf("--pg-bin: %w", err)
		}
		return dir, nil
	}
	var candidates []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(debian, func(i, j int) bool { return debianMajor(debian[i]) > debianMajor(debian[j]) })
	candidates = append(candidates, debian...)
	var problems []string
	for _, c := range candidates {
		err := checkBinDir(c, want)
		if err == nil {
			return c, nil
		}
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return "", errors.New("no PostgreSQL programs found: give --pg-bin, put pg_ctl on PATH, or install PostgreSQL")
	}
	return "", fmt.Errorf("no usable PostgreSQL programs for a version %s data directory: %s; give --pg-bin", want, strings.Join(problems, "; "))
}

func debianMajor(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// checkBinDir checks that dir has the programs Start runs and that they are
// of the major version want.
func checkBinDir(dir, want string) error {
	for _, prog := range []string{"postgres", "pg_ctl", "psql", "pg_controldata"} {
		if _, err := os.Stat(filepath.Join(dir, prog)); err != nil {
			return fmt.Errorf("%s has no %s", dir, prog)
		}
	}
	if want == "" {
		return nil
	}
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return fmt.Errorf("%s/postgres --version: %w", dir, err)
	}
	// "postgres (PostgreSQL) 15.8 (Debian 15.8-1)"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return fmt.Errorf("%s/postgres --version printed %q", dir, out)
	}
	if major, _, _ := strings.Cut(f[2], "."); major != want {
		return fmt.Errorf("%s is PostgreSQL %s, the data directory needs %s", dir, f[2], want)
	}
	return nil
}

// SetPort makes the restored server listen on port, with its socket in the
// data directory: the source's socket directory may not exist here, and a
// socket beside the source's on the same host must not clash.
func SetPort(dir string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d out of range 1..65535", port)
	}
	// sun_path holds 108 bytes.
	if n := len(dir) + len("/.s.PGSQL.65535.lock"); n > 107 {
		return fmt.Errorf("data directory path %s is too long for a unix socket inside it (%d bytes, at most 107)", dir, n)
	}
	q, err := recoveryQuote(dir)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# written by logship restore --port\nport = %d\nunix_socket_directories = %s\n", port, q)
	return appendConf(dir, text)
}

func appendConf(dir, text string) error {
	auto := filepath.Join(dir, "postgresql.auto.conf")
	old, err := os.ReadFile(auto)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		text = "\n" + text
	}
	if err := recoveryAppend(auto, text); err != nil {
		return fmt.Errorf("write postgresql.auto.conf: %w", err)
	}
	return nil
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
	settings := map[string]string{}
	for _, name := range []string{"postgresql.conf", "postgresql.auto.conf"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return c, err
		}
		maps.Copy(settings, parseConf(b))
	}
	for _, k := range []string{"recovery_target", "recovery_target_name", "recovery_target_time", "recovery_target_xid", "recovery_target_lsn"} {
		c.hasTarget = c.hasTarget || settings[k] != ""
	}
	c.action = settings["recovery_target_action"]
	if c.action == "" {
		c.action = "pause" // PostgreSQL's default
	}
	c.restoreCommand = settings["restore_command"]
	_, err := os.Stat(filepath.Join(dir, "standby.signal"))
	c.standby = err == nil
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil && !c.standby {
		return c, fmt.Errorf("%s has neither recovery.signal nor standby.signal: it was not prepared by logship restore", dir)
	}
	return c, nil
}

// parseConf reads name = value lines as PostgreSQL's configuration parser
// does, enough for the settings logship writes: the last setting wins, and
// quoted values take ” and backslash escapes. Includes are not followed.
func parseConf(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t=")
		if i <= 0 {
			continue
		}
		key := strings.ToLower(line[:i])
		rest := strings.TrimLeft(line[i:], " \t")
		rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
		if strings.HasPrefix(rest, "'") {
			var v strings.Builder
			for j := 1; j < len(rest); j++ {
				ch := rest[j]
				switch {
				case ch == '\\' && j+1 < len(rest):
					j++
					v.WriteByte(rest[j])
				case ch == '\'' && j+1 < len(rest) && rest[j+1] == '\'':
					j++
					v.WriteByte('\'')
				case ch == '\'':
					j = len(rest)
				default:
					v.WriteByte(ch)
				}
			}
			out[key] = v.String()
			continue
		}
		v, _, _ := strings.Cut(rest, "#")
		out[key] = strings.TrimSpace(v)
	}
	return out
}

// serverIdentity decides which OS user runs the server, with what
// environment. As root that is the postgres user, who must own the
// directory and be able to reach it and the restore command.
func serverIdentity(dir, logFile string, conf recoveryConf) (*syscall.Credential, []string, error) {
	env := serverEnv(os.Environ())
	if os.Geteuid() != 0 {
		return nil, append(env, "HOME="+os.Getenv("HOME")), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("running as root: PostgreSQL refuses to run as root and there is no postgres OS user to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// dir and what is inside it are handed over below; the way to them
	// must already be open.
	for _, p := range []string{filepath.Dir(dir), filepath.Dir(logFile)} {
		if !strings.HasPrefix(p+"/", dir+"/") {
			if err := reachable(p, uid, gid); err != nil {
				return nil, nil, err
			}
		}
	}
	if exe := firstShellWord(conf.restoreCommand); filepath.IsAbs(exe) {
		if err := reachable(exe, uid, gid); err != nil {
			return nil, nil, fmt.Errorf("restore_command %s: %w; install logship where the postgres user can run it", exe, err)
		}
	}
	for _, p := range []string{dir, logFile} {
		if err := chownTree(p, uid, gid); err != nil {
			return nil, nil, err
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, append(env, "HOME="+u.HomeDir), nil
}

// reachable checks that uid can search every parent of p (and p itself, if a
// directory) and execute p when it is a file.
func reachable(p string, uid, gid int) error {
	for q := p; ; q = filepath.Dir(q) {
		fi, err := os.Stat(q)
		if err != nil {
			return err
		}
		if q != p || fi.IsDir() || fi.Mode()&0o111 != 0 {
			if !canExec(fi, uid, gid) && !(q == p && fi.IsDir()) {
				return fmt.Errorf("the postgres OS user cannot reach %s: %s is mode %v", p, q, fi.Mode().Perm())
			}
		}
		if q == filepath.Dir(q) {
			return nil
		}
	}
}

func canExec(fi fs.FileInfo, uid, gid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	switch {
	case int(st.Uid) == uid:
		return fi.Mode()&0o100 != 0
	case int(st.Gid) == gid:
		return fi.Mode()&0o010 != 0
	}
	return fi.Mode()&0o001 != 0
}

func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("hand %s to the postgres user: %w", p, err)
		}
		return nil
	})
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
func queryState(ctx context.Context, binDir, dir string, cred *syscall.Credential, env []string, dbUser string) (serverState, error) {
	var st serverState
	pidFile, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return st, err
	}
	lines := strings.Split(string(pidFile), "\n")
	if len(lines) < 8 || !strings.HasPrefix(lines[7], "ready") && !strings.HasPrefix(lines[7], "standby") {
		return st, errors.New("server not accepting connections yet")
	}
	st.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	st.socketDir = strings.TrimSpace(lines[4])
	host := st.socketDir
	if host == "" {
		host = strings.TrimSpace(lines[5])
		if host == "*" || host == "" {
			host = "127.0.0.1"
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(qctx, filepath.Join(binDir, "psql"), "-X", "-A", "-t", "-q", "-F", "|",
		"-v", "ON_ERROR_STOP=1", "-c", stateQuery)
	cmd.Dir = dir
	cmd.Env = slices.Concat(env, []string{"PGHOST=" + host, "PGPORT=" + strconv.Itoa(st.port), "PGDATABASE=postgres",
		"PGCONNECT_TIMEOUT=5", "PGAPPNAME=logship restore"})
	if dbUser != "" {
		cmd.Env = append(cmd.Env, "PGUSER="+dbUser)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
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
func controlRecoveryEnd(ctx context.Context, binDir, dir string, cred *syscall.Credential, env []string) (string, uint32) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_controldata"), "-D", dir)
	cmd.Env = slices.Concat(env, []string{"LC_ALL=C"})
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.Output()
	if err != nil {
		return "", 0
	}
	var lsn string
	var tli uint32
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Minimum recovery ending location":
			lsn = v
		case "Min recovery ending loc's timeline":
			n, _ := strconv.ParseUint(v, 10, 32)
			tli = uint32(n)
		}
	}
	return lsn, tli
}

// maxLogRead bounds what is read back of the server log.
const maxLogRead = 4 << 20

func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	offset = max(offset, fi.Size()-maxLogRead)
	b := make([]byte, fi.Size()-offset)
	n, _ := f.ReadAt(b, offset)
	return string(b[:n])
}

func lastLine(text, substr string) string {
	var found string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			found = strings.TrimSpace(line)
		}
	}
	return found
}

// fatalLines quotes why the server stopped: its last FATAL or PANIC line,
// and the last complaint of logship's restore command before it. Refused
// connections (Start's own polls among them) are no reason and are skipped.
func fatalLines(text string) string {
	var fatal, fetch, lastFetch string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "logship:"):
			lastFetch = line
		case (strings.Contains(line, "FATAL:") || strings.Contains(line, "PANIC:")) && !strings.Contains(line, "the database system is"):
			fatal, fetch = line, lastFetch
		}
	}
	if fatal == "" {
		fatal = "no FATAL line in the server log"
	}
	if fetch != "" {
		return fatal + "; restore_command said: " + fetch
	}
	return fatal
}

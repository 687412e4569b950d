package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/pg/server"
)

// Options shape a test cluster.
type Options struct {
	// BinDir is the PostgreSQL bin directory to run; "" is the one BinDir
	// finds. A test of another major version names its own here.
	BinDir string
	// Conf holds extra postgresql.conf lines, e.g. "archive_mode = on",
	// "archive_command = '...'". They come after pgtest's own settings, so
	// they win.
	Conf []string
	// DataChecksums runs initdb -k. Without it, initdb's default holds:
	// off up to 17, on from 18 (as users' clusters get them).
	DataChecksums bool
	// Env is extra environment for the server process; archive_command and
	// restore_command inherit it.
	Env []string
	// StartTimeout bounds how long a start waits for the server to accept
	// connections (default 2 minutes).
	StartTimeout time.Duration
}

// Cluster is a running (or stopped) test server.
type Cluster struct {
	BinDir    string
	DataDir   string
	SocketDir string
	Port      int
	// LogFile holds the server log. It lives beside, not inside, DataDir so
	// that base backups of the cluster don't carry it.
	LogFile string

	srv          *server.Server
	startTimeout time.Duration
}

// pgtestConf goes into the postgresql.conf of every cluster Start makes.
// Port, socket directory and listen address go on the command line instead
// (see startArgs), so that copies of the data directory don't inherit them.
var pgtestConf = []string{
	"wal_level = replica",
	"max_wal_senders = 10",
	"max_connections = 30",
	// The data directory is thrown away; syncing it only slows the tests.
	"fsync = off",
}

const pgHBA = `# written by pgtest: trust everything local, nothing else
local all         all              trust
local replication all              trust
host  all         all 127.0.0.1/32 trust
host  replication all 127.0.0.1/32 trust
`

// Start initdbs a fresh cluster into a TempDir and starts it on a free
// 127.0.0.1 port with its own socket directory. Cleanup stops it
// (immediate) and removes its directories; the server log goes to t.Log if
// the test failed.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := newCluster(t, opts)
	c.DataDir = filepath.Join(c.SocketDir, "data")
	if err := c.writeOwner(); err != nil {
		t.Fatal(err)
	}

	args := []string{"-D", c.DataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"}
	if opts.DataChecksums {
		args = append(args, "-k")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := run(c.srv.Command(ctx, "initdb", args...)); err != nil {
		t.Fatalf("initdb: %v", err)
	}

	conf := append(append([]string{"", "# pgtest"}, pgtestConf...), opts.Conf...)
	if err := server.AppendConf(c.DataDir, "postgresql.conf", strings.Join(conf, "\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(pgHBA), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ChownToPostgres(c.DataDir); err != nil {
		t.Fatal(err)
	}

	c.registerCleanup(t)
	if exited, err := c.start(true); err != nil || exited {
		t.Fatalf("start cluster: %v", err)
	}
	return c
}

// StartExisting starts a server on an existing data directory, such as one a
// restore produced. It hands the directory to the postgres user (mode 0700),
// appends opts.Conf to postgresql.auto.conf, and returns as soon as the
// server accepts connections (a hot standby does, while still recovering)
// or has exited (recovery_target_action = 'shutdown', or a FATAL error that a
// test may be looking for in Log). It does not wait for recovery to end.
func StartExisting(t testing.TB, dataDir string, opts Options) *Cluster {
	t.Helper()
	c := newCluster(t, opts)
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = abs
	if err := c.writeOwner(); err != nil {
		t.Fatal(err)
	}
	if err := checkReachable(c.DataDir); err != nil {
		t.Fatal(err)
	}
	if len(opts.Conf) > 0 {
		lines := append([]string{"", "# pgtest"}, opts.Conf...)
		if err := server.AppendConf(c.DataDir, "postgresql.auto.conf", strings.Join(lines, "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := ChownToPostgres(c.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}

	c.registerCleanup(t)
	exited, err := c.start(false)
	if err != nil {
		t.Fatalf("start existing cluster: %v", err)
	}
	if exited {
		t.Logf("server on %s exited during startup; see its log", c.DataDir)
	}
	return c
}

func newCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{BinDir: opts.BinDir, startTimeout: opts.StartTimeout}
	if c.BinDir == "" {
		c.BinDir = Require(t)
	} else {
		RequireBinDir(t, c.BinDir)
	}
	reapOnce.Do(func() { reapOrphans(c.BinDir) })
	if c.startTimeout <= 0 {
		c.startTimeout = 2 * time.Minute
	}
	c.SocketDir = TempDir(t, clusterDirPattern)
	if err := server.CheckSocketDir(c.SocketDir); err != nil {
		t.Fatalf("socket dir: %v; set a shorter TMPDIR", err)
	}
	c.LogFile = filepath.Join(c.SocketDir, "server.log")
	u, err := serverUser()
	if err != nil {
		t.Fatal(err)
	}
	// The working directory must be open to the postgres user (the
	// default, often /root, may not be), and initdb complains otherwise.
	c.srv = &server.Server{BinDir: c.BinDir, Env: serverEnv(c.SocketDir, opts.Env), User: u, WorkDir: os.TempDir()}
	return c
}

func (c *Cluster) registerCleanup(t testing.TB) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.stop(ctx, "immediate"); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
		if t.Failed() {
			t.Logf("server log %s:\n%s", c.LogFile, c.Log())
		}
	})
}

// start runs pg_ctl start on a fresh free port, retrying when another
// process grabbed the port between our probe and the server's bind. With
// mustBeReady false, a server that exits or stays unreachable is not an
// error: exited reports the former.
func (c *Cluster) start(mustBeReady bool) (exited bool, err error) {
	const attempts = 5
	for i := 0; ; i++ {
		port, err := freePort()
		if err != nil {
			return false, err
		}
		c.Port = port
		before := int(server.LogSize(c.LogFile))
		ctx, cancel := context.WithTimeout(context.Background(), c.startTimeout+time.Minute)
		_, err = run(c.pgCtl(ctx, "start", "-w", "-t", strconv.Itoa(int(c.startTimeout.Seconds())),
			"-l", c.LogFile, "-o", c.startArgs()))
		cancel()
		if err == nil {
			return false, nil
		}
		newLog := c.Log()
		if before <= len(newLog) {
			newLog = newLog[before:]
		}
		if strings.Contains(newLog, "Address already in use") && i+1 < attempts {
			continue
		}
		if mustBeReady {
			return false, err
		}
		if c.Running() {
			// Still recovering and not yet accepting connections.
			return false, nil
		}
		return true, nil
	}
}

func (c *Cluster) startArgs() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.Port, server.QuoteShell(c.SocketDir))
}

// Server is the cluster as package pg/server runs it.
func (c *Cluster) Server() *server.Server {
	// DataDir is set after newCluster, and a test may change BinDir.
	c.srv.BinDir, c.srv.DataDir = c.BinDir, c.DataDir
	return c.srv
}

func (c *Cluster) pgCtl(ctx context.Context, args ...string) *exec.Cmd {
	return c.Server().PgCtl(ctx, args...)
}

// stop shuts the server down with the given pg_ctl mode; a server that is
// not running is fine.
func (c *Cluster) stop(ctx context.Context, mode string) error {
	return c.Server().Stop(ctx, mode)
}

// Running reports whether a server runs on the data directory (pg_ctl
// status). A server that finished recovery with action 'shutdown', or died,
// is not running.
func (c *Cluster) Running() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Server().Running(ctx)
}

// Stop shuts the server down (fast mode) and waits for it. Stopping a
// stopped server does nothing.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.stop(ctx, "fast"); err != nil {
		t.Fatalf("stop cluster: %v", err)
	}
}

// Restart stops the server (fast) and starts it again, waiting until it
// accepts connections. Port changes only if the old one was taken meanwhile.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop(t)
	if exited, err := c.start(true); err != nil || exited {
		t.Fatalf("restart cluster: %v", err)
	}
}

// Log returns what the server has logged so far.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.LogFile)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return string(b)
}

// ConnString is a libpq/pgx connection string for the cluster, over its
// unix socket.
func (c *Cluster) ConnString() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", c.SocketDir, c.Port)
}

// Conn opens a connection that is closed when the test ends.
func (c *Cluster) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := c.connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	return conn
}

func (c *Cluster) connect() (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString())
	if err != nil {
		return nil, fmt.Errorf("connect to test cluster: %w", err)
	}
	return conn, nil
}

// Exec runs sql (several statements are fine without args) on a fresh
// connection, failing the test on error.
func (c *Cluster) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if err := c.exec(sql, args...); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) exec(sql string, args ...any) error {
	conn, err := c.connect()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec %q: %w", sql, err)
	}
	return nil
}

// QueryString returns the first column of the first row as PostgreSQL's text
// form ("t" for true, "0/3000148" for an LSN; "" for NULL), failing the test
// on error or when there is no row.
func (c *Cluster) QueryString(t testing.TB, sql string, args ...any) string {
	t.Helper()
	s, err := c.queryString(sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *Cluster) queryString(sql string, args ...any) (string, error) {
	conn, err := c.connect()
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The simple protocol returns every value as text, whatever its type.
	rows, err := conn.Query(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return "", fmt.Errorf("query %q: %w", sql, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("query %q: %w", sql, err)
		}
		return "", fmt.Errorf("query %q: no rows", sql)
	}
	vals := rows.RawValues()
	if len(vals) == 0 {
		return "", fmt.Errorf("query %q: no columns", sql)
	}
	s := string(vals[0])
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("query %q: %w", sql, err)
	}
	return s, nil
}

// Command prepares one of the PostgreSQL programs (pg_basebackup, psql,
// pg_waldump, ...) to run as the postgres user with PGHOST, PGPORT and
// PGUSER pointing at this cluster.
func (c *Cluster) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := c.Server().Command(ctx, prog, args...)
	cmd.Env = append(append([]string{}, cmd.Env...),
		"PGHOST="+c.SocketDir, "PGPORT="+strconv.Itoa(c.Port), "PGUSER=postgres", "PGDATABASE=postgres")
	return cmd
}

// Pgbench runs pgbench against the cluster, e.g. Pgbench(t, "-i", "-s", "1")
// or Pgbench(t, "-t", "200", "-c", "2"), failing the test on error.
func (c *Cluster) Pgbench(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args = append(append([]string{"-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", "postgres"}, args...), "postgres")
	if _, err := run(c.Command(ctx, "pgbench", args...)); err != nil {
		t.Fatal(err)
	}
}

// WaitFor polls cond until it holds, failing with what when timeout passes
// first (the cleanup then shows the server log).
func (c *Cluster) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s on %s", timeout, what, c.DataDir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkReachable catches the usual mistake early: a data directory under
// t.TempDir(), whose root-owned 0700 parents the postgres user can't enter.
func checkReachable(dir string) error {
	u, err := serverUser()
	if err != nil || u == nil {
		return err
	}
	if err := u.Reachable(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("%w; make the data dir with pgtest.TempDir", err)
	}
	return nil
}

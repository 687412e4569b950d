// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb into a
// temporary directory, a free loopback port, a private socket directory, and
// cleanup that stops the server and removes everything.
//
// Tests usually run as root, but initdb and postgres refuse to; every server
// process therefore runs as the "postgres" OS user, and the directories it
// needs are handed to that user.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pollInterval is how often WaitFor re-checks its condition.
const pollInterval = 20 * time.Millisecond

// BinDir finds the PostgreSQL bin directory: $LOGSHIP_PG_BIN, then
// `pg_config --bindir` of a pg_config on PATH, then the newest
// /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	if dir := os.Getenv("LOGSHIP_PG_BIN"); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("LOGSHIP_PG_BIN: %w", err)
		}
		return dir, nil
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		out, err := exec.Command(pgConfig, "--bindir").Output()
		if err == nil {
			dir := strings.TrimSpace(string(out))
			if checkBinDir(dir) == nil {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Debian names the directories by major version; compare them as numbers
	// so that 10 sorts after 9.
	sort.Slice(dirs, func(i, j int) bool {
		return majorOf(dirs[i]) > majorOf(dirs[j])
	})
	for _, dir := range dirs {
		if checkBinDir(dir) == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL found: set LOGSHIP_PG_BIN, put pg_config on PATH, or install postgresql")
}

func majorOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func checkBinDir(dir string) error {
	for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, prog)); err != nil {
			return fmt.Errorf("%s has no %s: %w", dir, prog, err)
		}
	}
	return nil
}

// Require returns the PostgreSQL bin directory, or skips the test when
// PostgreSQL is missing. With LOGSHIP_REQUIRE_PG=1 (as CI sets it) a missing
// PostgreSQL fails the test instead, so that CI can't pass by skipping.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL: skipped by -short")
	}
	dir, err := BinDir()
	if err == nil && os.Geteuid() == 0 {
		if _, _, uerr := postgresIDs(); uerr != nil {
			err = uerr
		}
	}
	if err != nil {
		if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL required (LOGSHIP_REQUIRE_PG=1): %v", err)
		}
		t.Skipf("PostgreSQL not available: %v", err)
	}
	return dir
}

var (
	idsOnce sync.Once
	pgUID   int
	pgGID   int
	idsErr  error
)

// postgresIDs looks up the postgres OS user once.
func postgresIDs() (uid, gid int, err error) {
	idsOnce.Do(func() {
		u, err := user.Lookup("postgres")
		if err != nil {
			idsErr = fmt.Errorf("running as root needs a postgres OS user: %w", err)
			return
		}
		pgUID, _ = strconv.Atoi(u.Uid)
		pgGID, _ = strconv.Atoi(u.Gid)
	})
	return pgUID, pgGID, idsErr
}

// ChownToPostgres recursively hands path to the postgres OS user when
// running as root, and does nothing otherwise.
func ChownToPostgres(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := postgresIDs()
	if err != nil {
		return err
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Lchown: a symlink (a tablespace link, say) must not hand over
		// whatever it points at.
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown to postgres: %w", err)
		}
		return nil
	})
}

// TempDir makes a directory that the postgres OS user can read and write,
// removed when the test ends. t.TempDir() won't do when running as root: it
// is root's, mode 0700.
func TempDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove temp dir: %v", err)
		}
	})
	if err := ChownToPostgres(dir); err != nil {
		t.Fatalf("temp dir %s: %v", dir, err)
	}
	return dir
}

// WaitFor polls cond until it returns true, failing the test with what when
// timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// asPostgres makes a command that runs as the postgres OS user when the
// test runs as root (initdb, pg_ctl and postgres refuse root).
func asPostgres(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	// The default working directory (often /root) may be closed to postgres,
	// and initdb complains about it.
	cmd.Dir = os.TempDir()
	if os.Geteuid() == 0 {
		uid, gid, _ := postgresIDs()
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		}
	}
	return cmd
}

// serverEnv is the environment for server processes: the test's own, minus
// what would point PostgreSQL tools or logship at something other than this
// cluster (a developer's PGDATA or LOGSHIP_STORE must not leak into an
// archive_command), plus extra.
func serverEnv(home string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LOGSHIP_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home)
	return append(env, extra...)
}

// run runs cmd and returns its combined output, with the output in the error.
func run(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), err, out.String())
	}
	return out.String(), nil
}

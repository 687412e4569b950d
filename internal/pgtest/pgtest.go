// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb into a
// temporary directory, a free loopback port, a private socket directory, and
// cleanup that stops the server and removes everything.
//
// Tests usually run as root, but initdb and postgres refuse to; every server
// process therefore runs as the "postgres" OS user, and the directories it
// needs are handed to that user. Finding, starting and stopping PostgreSQL
// is package pg/server's, as it is for logship restore --start.
//
// The PostgreSQL version is the one BinDir finds, unless a test names
// another bin directory in Options.BinDir.
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/pg/server"
)

// pollInterval is how often WaitFor re-checks its condition.
const pollInterval = 20 * time.Millisecond

// programs are what a test cluster needs in its bin directory.
var programs = []string{"initdb", "pg_ctl", "postgres"}

// BinDir finds the PostgreSQL bin directory: $LOGSHIP_PG_BIN, then
// `pg_config --bindir` of a pg_config on PATH, then the newest
// /usr/lib/postgresql/*/bin (server.Installed). Not PATH itself: tests
// need programs (pgbench, pg_waldump) that PATH may lack.
func BinDir() (string, error) {
	if dir := os.Getenv("LOGSHIP_PG_BIN"); dir != "" {
		if err := server.CheckBinDir(dir, "", programs...); err != nil {
			return "", fmt.Errorf("LOGSHIP_PG_BIN: %w", err)
		}
		return dir, nil
	}
	dir, err := server.FindBinDir(server.Installed(), "", programs...)
	if err != nil {
		return "", errors.New("no PostgreSQL found: set LOGSHIP_PG_BIN, put pg_config on PATH, or install postgresql")
	}
	return dir, nil
}

// Require returns the PostgreSQL bin directory, or skips the test when
// PostgreSQL is missing. With LOGSHIP_REQUIRE_PG=1 (as CI sets it) a missing
// PostgreSQL fails the test instead, so that CI can't pass by skipping.
func Require(t testing.TB) string {
	t.Helper()
	// testing.Short panics outside go test; the chaos campaign, a plain
	// program, starts clusters too.
	if testing.Testing() && testing.Short() {
		t.Skip("needs PostgreSQL: skipped by -short")
	}
	dir, err := BinDir()
	if err == nil {
		err = checkUser()
	}
	if err != nil {
		failOrSkip(t, err)
	}
	return dir
}

// RequireBinDir is Require for a given bin directory, as a test of another
// PostgreSQL version names it.
func RequireBinDir(t testing.TB, dir string) string {
	t.Helper()
	err := server.CheckBinDir(dir, "", programs...)
	if err == nil {
		err = checkUser()
	}
	if err != nil {
		failOrSkip(t, err)
	}
	return dir
}

func failOrSkip(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
		t.Fatalf("PostgreSQL required (LOGSHIP_REQUIRE_PG=1): %v", err)
	}
	t.Skipf("PostgreSQL not available: %v", err)
}

// checkUser checks, as root, for the postgres OS user the servers run as.
func checkUser() error {
	if _, err := serverUser(); err != nil {
		return err
	}
	return nil
}

// serverUser is the OS user server processes run as: nil for the test's
// own, the postgres user when the test runs as root.
func serverUser() (*server.OSUser, error) {
	if !server.AsRoot() {
		return nil, nil
	}
	u, err := server.PostgresUser()
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres OS user: %w", err)
	}
	return &u, nil
}

// ChownToPostgres recursively hands path to the postgres OS user when
// running as root, and does nothing otherwise.
func ChownToPostgres(path string) error {
	u, err := serverUser()
	if err != nil || u == nil {
		return err
	}
	return u.Chown(path)
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
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Poll calls cond until it holds or timeout passes, and reports whether it
// held; it waits a few milliseconds between calls (never a fixed sleep).
func Poll(timeout time.Duration, cond func() bool) bool {
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

// serverEnv is the environment for server processes: the test's own, minus
// what would point PostgreSQL tools or logship at something other than this
// cluster (a developer's PGDATA or LOGSHIP_STORE must not leak into an
// archive_command), plus extra.
func serverEnv(home string, extra []string) []string {
	return append(server.CleanEnv(home, "PG", "LOGSHIP_"), extra...)
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

package pgtest

import (
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/logship/logship/pg/server"
)

// PG18Env names the bin directory of a PostgreSQL 18 that the version
// matrix runs on besides the default major. .ci/run unpacks one and sets
// it; without it the matrix is the default major alone, so that `make test`
// passes on a machine that has only Debian's PostgreSQL 15.
const PG18Env = "LOGSHIP_TEST_PG18_BIN"

// Version is one PostgreSQL major a matrix test runs on.
type Version struct {
	// Name is the subtest name, "pg15" or "pg18".
	Name string
	// Major is the major version, 15 or 18.
	Major int
	// BinDir is its bin directory; "" in the zero Version, which Start
	// reads as "the one BinDir finds".
	BinDir string
}

// Versions returns the majors a matrix test runs on: the default one
// (BinDir; skipped as Require skips) and, when $LOGSHIP_TEST_PG18_BIN is
// set, PostgreSQL 18 from there. A set variable whose directory lacks the
// programs, or holds another major, fails the test: CI must not pass by
// running one major where it asked for two.
func Versions(t testing.TB) []Version {
	t.Helper()
	def := Require(t)
	vs := []Version{versionOf(t, def)}
	dir := os.Getenv(PG18Env)
	if dir == "" {
		return vs
	}
	if err := server.CheckBinDir(dir, "18", append(programs, "pgbench")...); err != nil {
		t.Fatalf("%s: %v", PG18Env, err)
	}
	if vs[0].Major != 18 {
		vs = append(vs, versionOf(t, dir))
	}
	return vs
}

func versionOf(t testing.TB, dir string) Version {
	t.Helper()
	major, err := binMajor(dir)
	if err != nil {
		t.Fatal(err)
	}
	return Version{Name: "pg" + strconv.Itoa(major), Major: major, BinDir: dir}
}

// majors caches binMajor: postgres --version is a process start, and every
// cluster asks.
var majors sync.Map

// binMajor is the major version of the postgres in dir.
func binMajor(dir string) (int, error) {
	if m, ok := majors.Load(dir); ok {
		return m.(int), nil
	}
	s, _, err := server.Version(dir)
	if err != nil {
		return 0, err
	}
	m, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	majors.Store(dir, m)
	return m, nil
}

// Major is the major version of the cluster's PostgreSQL.
func (c *Cluster) Major(t testing.TB) int {
	t.Helper()
	m, err := binMajor(c.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

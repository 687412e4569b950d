package pgtest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// fatalTB records a Fatal instead of ending the test, so that a test can
// check that Versions fails where it must.
type fatalTB struct {
	testing.TB
	msg string
}

type fatalled struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(fatalled{})
}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalled{})
}

// versions runs pgtest.Versions and returns its result or its Fatal
// message.
func versions(t *testing.T) (vs []pgtest.Version, fatal string) {
	f := &fatalTB{TB: t}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatalled); !ok {
				panic(r)
			}
			fatal = f.msg
		}
	}()
	return pgtest.Versions(f), ""
}

// pg18Dir is where a PostgreSQL 18 is, if anywhere: $LOGSHIP_TEST_PG18_BIN,
// or the pg18 tests' default.
func pg18Dir() string {
	if dir := os.Getenv(pgtest.PG18Env); dir != "" {
		return dir
	}
	return "/tmp/pg18/18/bin"
}

// The matrix is the default major alone without $LOGSHIP_TEST_PG18_BIN, and
// that major and 18 with it; a variable that names no PostgreSQL 18 fails
// rather than skips. (Not parallel: it sets the environment.)
func TestVersions(t *testing.T) {
	def := pgtest.Require(t)
	t.Run("unset", func(t *testing.T) {
		t.Setenv(pgtest.PG18Env, "")
		vs, fatal := versions(t)
		if fatal != "" || len(vs) != 1 || vs[0].BinDir != def || vs[0].Name != fmt.Sprintf("pg%d", vs[0].Major) || vs[0].Major < 15 {
			t.Fatalf("got %+v, fatal %q", vs, fatal)
		}
	})
	t.Run("missing binaries", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv(pgtest.PG18Env, dir)
		vs, fatal := versions(t)
		if !strings.Contains(fatal, pgtest.PG18Env) || !strings.Contains(fatal, dir) {
			t.Fatalf("got %+v, fatal %q; want a failure naming %s", vs, fatal, dir)
		}
	})
	t.Run("another major", func(t *testing.T) {
		t.Setenv(pgtest.PG18Env, def)
		vs, fatal := versions(t)
		if !strings.Contains(fatal, "needs 18") && (len(vs) != 1 || vs[0].Major != 18) {
			t.Fatalf("got %+v, fatal %q; want a failure for a bin dir that is not 18", vs, fatal)
		}
	})
	t.Run("18", func(t *testing.T) {
		dir := pg18Dir()
		if _, err := os.Stat(dir + "/postgres"); err != nil {
			t.Skipf("no PostgreSQL 18 at %s", dir)
		}
		t.Setenv(pgtest.PG18Env, dir)
		vs, fatal := versions(t)
		if fatal != "" || len(vs) != 2 || vs[1] != (pgtest.Version{Name: "pg18", Major: 18, BinDir: dir}) {
			t.Fatalf("got %+v, fatal %q", vs, fatal)
		}
		c := pgtest.Start(t, pgtest.Options{BinDir: vs[1].BinDir})
		if got := c.QueryString(t, "SHOW server_version_num"); !strings.HasPrefix(got, "18") || c.Major(t) != 18 {
			t.Fatalf("server_version_num %s, Major %d", got, c.Major(t))
		}
	})
}

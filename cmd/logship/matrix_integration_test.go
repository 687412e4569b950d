package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// defaultPG is the zero pgtest.Version: the PostgreSQL pgtest.BinDir finds.
// Tests outside the version matrix (fault injection, refusals) run on it
// alone.
var defaultPG pgtest.Version

// onEachPG runs test once per PostgreSQL major of the matrix
// (pgtest.Versions: the default major, and 18 when $LOGSHIP_TEST_PG18_BIN
// is set), as parallel subtests named pg15, pg18. The end-to-end suites run
// through it; unit and fault tests run once.
func onEachPG(t *testing.T, test func(t *testing.T, v pgtest.Version)) {
	t.Helper()
	t.Parallel()
	vs := pgtest.Versions(t)
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			test(t, v)
		})
	}
	if len(vs) == 1 && vs[0].Major != 18 {
		// Shown as skipped, so that a run on one major says so.
		t.Run("pg18", func(t *testing.T) { t.Skipf("%s is not set: PostgreSQL 18 not in the matrix", pgtest.PG18Env) })
	}
}

// matrixPath is the PATH logship runs with: the matrix's PostgreSQL 18 bin
// directory first, so that restore --start finds programs of the data
// directory's major the way a user's PATH would (restore skips a directory
// of another major and goes on to /usr/lib/postgresql).
func matrixPath() string {
	path := os.Getenv("PATH")
	if dir := os.Getenv(pgtest.PG18Env); dir != "" {
		return dir + string(os.PathListSeparator) + path
	}
	return path
}

// binDirFor is the bin directory of the matrix major that runs dataDir, by
// its PG_VERSION; the default one when that cannot be told.
func binDirFor(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if dir := os.Getenv(pgtest.PG18Env); err == nil && dir != "" && strings.TrimSpace(string(b)) == "18" {
		return dir, nil
	}
	return pgtest.BinDir()
}

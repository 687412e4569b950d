package server

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// StartPrograms are the programs that starting and watching a restored
// server needs.
var StartPrograms = []string{"postgres", "pg_ctl", "psql", "pg_controldata"}

// ErrNoBinDir means no candidate directory holds PostgreSQL programs at all.
var ErrNoBinDir = errors.New("no PostgreSQL programs found")

// Candidates lists the directories that may hold PostgreSQL programs, most
// likely first: that of pg_ctl on PATH, then the Installed ones.
func Candidates() []string {
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return append(dirs, Installed()...)
}

// Installed lists where PostgreSQL is installed: `pg_config --bindir` of a
// pg_config on PATH, then /usr/lib/postgresql/*/bin by descending major
// version. Unlike PATH, these directories hold all of an installation's
// programs, not a selection of links to them.
func Installed() []string {
	var dirs []string
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Debian names the directories by major version; compare them as
	// numbers so that 10 sorts after 9.
	sort.Slice(debian, func(i, j int) bool { return debianMajor(debian[i]) > debianMajor(debian[j]) })
	return append(dirs, debian...)
}

func debianMajor(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// FindBinDir returns the first of candidates (Candidates or Installed)
// that passes CheckBinDir. With no candidate at all the error is
// ErrNoBinDir; otherwise it lists why each candidate was refused.
func FindBinDir(candidates []string, major string, progs ...string) (string, error) {
	var problems []string
	for _, c := range candidates {
		err := CheckBinDir(c, major, progs...)
		if err == nil {
			return c, nil
		}
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return "", ErrNoBinDir
	}
	return "", fmt.Errorf("no usable PostgreSQL programs for a version %s data directory: %s", major, strings.Join(problems, "; "))
}

// CheckBinDir checks that dir holds progs and, when major is not "", that
// its postgres is of that major version.
func CheckBinDir(dir, major string, progs ...string) error {
	for _, prog := range progs {
		if _, err := os.Stat(filepath.Join(dir, prog)); err != nil {
			return fmt.Errorf("%s has no %s", dir, prog)
		}
	}
	if major == "" {
		return nil
	}
	got, full, err := Version(dir)
	if err != nil {
		return err
	}
	if got != major {
		return fmt.Errorf("%s is PostgreSQL %s, the data directory needs %s", dir, full, major)
	}
	return nil
}

// Version runs dir/postgres --version and returns the major version ("15")
// and the full one ("15.8").
func Version(dir string) (major, full string, err error) {
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s/postgres --version: %w", dir, err)
	}
	return parseVersion(dir, string(out))
}

// parseVersion reads "postgres (PostgreSQL) 15.8 (Debian 15.8-1)".
func parseVersion(dir, out string) (major, full string, err error) {
	f := strings.Fields(out)
	if len(f) < 3 {
		return "", "", fmt.Errorf("%s/postgres --version printed %q", dir, out)
	}
	major, _, _ = strings.Cut(f[2], ".")
	return major, f[2], nil
}

// DataDirMajor reads the major version of a data directory (PG_VERSION).
func DataDirMajor(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

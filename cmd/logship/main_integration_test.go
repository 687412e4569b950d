package main_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// logshipBin is the binary under test, built once by TestMain into a folder
// the postgres user can read, because PostgreSQL runs it as archive_command.
var logshipBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "logship-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	logshipBin = filepath.Join(dir, "logship")
	build := exec.Command("go", "build", "-o", logshipBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build logship:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// logship runs the binary with args, with no LOGSHIP_* settings inherited.
func logship(t testing.TB, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(logshipBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run logship %v: %v", args, err)
	}
	return r
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGSHIP_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+matrixPath())
}

// mustLogship runs logship and fails the test unless it exits 0.
func mustLogship(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := logship(t, env, args...)
	if r.code != 0 {
		t.Fatalf("logship %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// syntheticSegment writes a WAL segment of 16 MiB with a valid long page
// header for systemID, compressible like real WAL, under dir/name.
func syntheticSegment(t testing.TB, dir, name string, systemID uint64, fill byte) string {
	t.Helper()
	const segSize = 16 << 20
	var tli uint32
	var hi, lo uint64
	fmt.Sscanf(name[:24], "%08X%08X%08X", &tli, &hi, &lo)
	segNo := hi*0x100 + lo
	b := make([]byte, segSize)
	for i := 40; i < len(b); i++ {
		b[i] = byte(i/4096) ^ fill ^ byte(i%7)
	}
	binary.LittleEndian.PutUint16(b[0:], 0xD110) // XLOG_PAGE_MAGIC of PostgreSQL 15
	binary.LittleEndian.PutUint16(b[2:], 0x0002) // XLP_LONG_HEADER
	binary.LittleEndian.PutUint32(b[4:], tli)
	binary.LittleEndian.PutUint64(b[8:], segNo*segSize)
	binary.LittleEndian.PutUint64(b[24:], systemID)
	binary.LittleEndian.PutUint32(b[32:], segSize)
	binary.LittleEndian.PutUint32(b[36:], 8192)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// storeFiles lists every file under dir (relative paths), to prove that a
// refused command wrote nothing.
func storeFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

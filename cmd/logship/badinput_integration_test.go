package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every bad input gets a one-line error naming the problem, exit 2, and
// leaves the store exactly as it was.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	wal := t.TempDir()
	seg := syntheticSegment(t, wal, seg1, 42, 0)
	mustLogship(t, nil, append(flags, "wal-push", seg)...)
	badName := filepath.Join(wal, "00000001000000000000000G")
	os.WriteFile(badName, []byte("x"), 0o644)
	shortSeg := filepath.Join(wal, "000000010000000000000005")
	os.WriteFile(shortSeg, []byte("too short"), 0o644)
	cfgUnknown := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgUnknown, []byte("stor: file:///tmp\n"), 0o644)
	cfgJobTypo := filepath.Join(t.TempDir(), "jobs.yaml")
	os.WriteFile(cfgJobTypo, []byte("jobs:\n  bakup: \"0 1 * * *\"\n"), 0o644)
	cfgGroupTypo := filepath.Join(t.TempDir(), "groups.yaml")
	os.WriteFile(cfgGroupTypo, []byte("groups:\n  g:\n    - source: a\n      conn: x\n"), 0o644)
	before := snapshot(t, dir)

	tests := []struct {
		name string
		args []string
		want string // part of the error
	}{
		{"malformed WAL name", append(flags, "wal-push", badName), "invalid WAL file name"},
		{"not a segment size", append(flags, "wal-push", shortSeg), "segment size"},
		{"bad store URL", []string{"--store", "ftp://host/x", "wal-push", seg}, "bad store URL"},
		{"relative store path", []string{"--store", "file:relative", "catalog", "list"}, "must be absolute"},
		{"missing store folder", []string{"--store", "file://" + filepath.Join(dir, "nope"), "catalog", "list"}, "does not exist"},
		{"missing config file", append(flags, "--config", "/nonexistent/logship.yaml", "catalog", "list"), "/nonexistent/logship.yaml"},
		{"unknown config key", append(flags, "--config", cfgUnknown, "catalog", "list"), `unknown key "stor"`},
		{"unknown key in jobs", append(flags, "--config", cfgJobTypo, "purge", "--dry-run"), "bakup"},
		{"unknown key in groups", append(flags, "--config", cfgGroupTypo, "mark", "m9", "--group", "g"), "conn"},
		{"bad source name", []string{"--store", "file://" + dir, "--source", "a/b", "catalog", "list"}, "invalid source name"},
		{"bad compression", append(flags, "--compression", "lzma", "wal-push", seg), "compression"},
		{"bad level", append(flags, "--compression-level", "99", "wal-push", seg), "compression-level"},
		{"missing argument", append(flags, "wal-push"), "needs 1 argument"},
		{"unknown flag", append(flags, "wal-push", "--bogus", seg), "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := logship(t, nil, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			msg := strings.TrimSpace(r.stderr)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, tt.want)
			}
		})
	}
	if !maps(before, snapshot(t, dir)) {
		t.Fatal("bad input changed the store")
	}
}

// A store folder the archiving user cannot write is a configuration error,
// found before anything is written.
func TestUnwritableStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seg := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	cmd := exec.Command(logshipBin, "--store", "file://"+dir, "wal-push", seg)
	cmd.Env = cleanEnv()
	if os.Geteuid() == 0 {
		// Root writes anywhere; run as nobody, as PostgreSQL runs as its own user.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		os.Chmod(filepath.Dir(seg), 0o755)
		os.Chmod(seg, 0o644)
		os.Chmod(filepath.Dir(dir), 0o755)
	} else {
		os.Chmod(dir, 0o555)
	}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "not writable") {
		t.Fatalf("push to an unwritable store: %v, %q; want exit 2 saying not writable", err, out)
	}
	if files := storeFiles(t, dir); len(files) != 0 {
		t.Fatalf("files written: %v", files)
	}
}

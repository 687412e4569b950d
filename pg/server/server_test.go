package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/pg/server"
)

// fakeBin makes a bin directory whose postgres prints version.
func fakeBin(t *testing.T, version string, progs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range progs {
		script := "#!/bin/sh\nexit 0\n"
		if p == "postgres" {
			script = "#!/bin/sh\necho 'postgres (PostgreSQL) " + version + " (Debian " + version + "-1)'\n"
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckBinDir(t *testing.T) {
	t.Parallel()
	full := fakeBin(t, "15.8", server.StartPrograms...)
	if err := server.CheckBinDir(full, "15", server.StartPrograms...); err != nil {
		t.Errorf("a version 15 directory: %v", err)
	}
	if err := server.CheckBinDir(full, "", server.StartPrograms...); err != nil {
		t.Errorf("any version: %v", err)
	}
	if err := server.CheckBinDir(full, "16", server.StartPrograms...); err == nil || !strings.Contains(err.Error(), "is PostgreSQL 15.8, the data directory needs 16") {
		t.Errorf("version 15 for a 16 directory: %v", err)
	}
	links := fakeBin(t, "15.8", "postgres", "pg_ctl", "initdb")
	if err := server.CheckBinDir(links, "", server.StartPrograms...); err == nil || !strings.Contains(err.Error(), "has no psql") {
		t.Errorf("a directory without psql: %v", err)
	}
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	partial := fakeBin(t, "15.8", "postgres", "pg_ctl")
	v15 := fakeBin(t, "15.8", server.StartPrograms...)
	v16 := fakeBin(t, "16.2", server.StartPrograms...)
	candidates := []string{partial, v16, v15}
	if got, err := server.FindBinDir(candidates, "15", server.StartPrograms...); err != nil || got != v15 {
		t.Errorf("FindBinDir for 15 = %q, %v; want %q", got, err, v15)
	}
	if got, err := server.FindBinDir(candidates, "", server.StartPrograms...); err != nil || got != v16 {
		t.Errorf("FindBinDir for any = %q, %v; want %q", got, err, v16)
	}
	_, err := server.FindBinDir(candidates, "17", server.StartPrograms...)
	if err == nil || !strings.Contains(err.Error(), "version 17") || !strings.Contains(err.Error(), "has no psql") {
		t.Errorf("FindBinDir for 17: %v", err)
	}
	if _, err := server.FindBinDir(nil, "15"); err != server.ErrNoBinDir {
		t.Errorf("no candidates: %v", err)
	}
}

func TestDataDirMajor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("15\n"), 0o600)
	if v, err := server.DataDirMajor(dir); err != nil || v != "15" {
		t.Errorf("DataDirMajor = %q, %v", v, err)
	}
	if _, err := server.DataDirMajor(t.TempDir()); err == nil {
		t.Error("a directory without PG_VERSION has a version")
	}
}

func TestReadPIDFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "postmaster.pid")
	// As PostgreSQL 15 writes it; the status line is padded.
	os.WriteFile(pidFile, []byte(strings.Join([]string{"4242", dir, "1700000000", "5499", "/tmp/s", "127.0.0.1",
		"  5432001     65538", "standby ", ""}, "\n")), 0o600)
	p, err := server.ReadPIDFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != 4242 || p.Port != 5499 || p.SocketDir != "/tmp/s" || p.ListenAddr != "127.0.0.1" || p.Status != "standby" || !p.Ready() {
		t.Errorf("ReadPIDFile = %+v", p)
	}
	// Early in startup only the first lines are there.
	os.WriteFile(pidFile, []byte("4242\n"+dir+"\n"), 0o600)
	if p, err := server.ReadPIDFile(dir); err != server.ErrNotReady || p.PID != 4242 {
		t.Errorf("a short pid file: %+v, %v", p, err)
	}
	os.WriteFile(pidFile, []byte(strings.Repeat("\n", 8)), 0o600)
	if _, ok := server.RunningPID(dir); ok {
		t.Error("a pid file without pid names a running server")
	}
	os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	if pid, ok := server.RunningPID(dir); !ok || pid != os.Getpid() {
		t.Errorf("RunningPID with this process's pid = %d, %v", pid, ok)
	}
	if _, ok := server.RunningPID(t.TempDir()); ok {
		t.Error("no pid file names a running server")
	}
	if !server.Alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}

func TestCommandLines(t *testing.T) {
	t.Parallel()
	srv := server.Server{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/srv/it's here"}
	log := "/srv/it's here/log/logship-start.log"
	tests := []struct {
		name        string
		asRoot      bool
		start, stop string
	}{
		{"user", false,
			`mkdir -p '/srv/it'\''s here/log' && /usr/lib/postgresql/15/bin/pg_ctl -D '/srv/it'\''s here' -l '/srv/it'\''s here/log/logship-start.log' start`,
			`/usr/lib/postgresql/15/bin/pg_ctl -D '/srv/it'\''s here' stop`},
		{"root", true,
			`mkdir -p '/srv/it'\''s here/log' && chown -R postgres: '/srv/it'\''s here' && su postgres -c '/usr/lib/postgresql/15/bin/pg_ctl -D '\''/srv/it'\''\'\'''\''s here'\'' -l '\''/srv/it'\''\'\'''\''s here/log/logship-start.log'\'' start'`,
			`su postgres -c '/usr/lib/postgresql/15/bin/pg_ctl -D '\''/srv/it'\''\'\'''\''s here'\'' stop'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := srv.StartCommand(log, tt.asRoot); got != tt.start {
				t.Errorf("StartCommand\n got %s\nwant %s", got, tt.start)
			}
			if got := srv.StopCommand(tt.asRoot); got != tt.stop {
				t.Errorf("StopCommand\n got %s\nwant %s", got, tt.stop)
			}
		})
	}
	if got := (&server.Server{DataDir: "/d"}).StopCommand(false); got != "pg_ctl -D '/d' stop" {
		t.Errorf("without a bin directory: %s", got)
	}
}

func TestLogSinceAndLastLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "server.log")
	os.WriteFile(path, []byte("LOG: old recovery stopping before x\n"), 0o600)
	start := server.LogSize(path)
	server.AppendFile(path, "LOG: recovery stopping at restore point \"m1\"\nLOG: paused\n")
	text := server.LogSince(path, start)
	if strings.Contains(text, "old") {
		t.Errorf("LogSince read from before the start: %q", text)
	}
	if got := server.LastLine(text, "recovery stopping"); got != `LOG: recovery stopping at restore point "m1"` {
		t.Errorf("LastLine = %q", got)
	}
	if server.LogSize(filepath.Join(t.TempDir(), "none")) != 0 || server.LogSince("/nonexistent", 0) != "" {
		t.Error("a missing log is not empty")
	}
	if got := server.LogSince(path, 1<<40); got != "" {
		t.Errorf("offset past the end: %q", got)
	}
}

package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// signalDeadline bounds how long any command may take to exit after
// SIGTERM or SIGINT: its wind-down (5 s) plus room for a loaded machine.
const signalDeadline = 15 * time.Second

// logshipWithin is logship with a deadline: a command that hangs is
// killed and reported, instead of hanging the test.
func logshipWithin(t *testing.T, d time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, logshipBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("logship %s still ran after %s: killed", strings.Join(args, " "), d)
		r.code = -1
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run logship %v: %v", args, err)
	}
	return r
}

func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// whenReading waits until a process has opened fifo for reading, and
// then holds its write end open without writing, so that the reader stays
// blocked in a read no context reaches.
func whenReading(t *testing.T, fifo string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A non-blocking open for writing fails until there is a reader.
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			t.Cleanup(func() { w.Close() })
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing opened %s for reading: %v", fifo, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// interruptedCmd starts logship with args, waits until it reads blockOn
// (a FIFO), sends sigs and returns how it exited and how long that took.
func interruptedCmd(t *testing.T, blockOn string, sigs []os.Signal, args []string) (result, time.Duration) {
	t.Helper()
	cmd := exec.Command(logshipBin, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	whenReading(t, blockOn)
	sent := time.Now()
	for _, s := range sigs {
		cmd.Process.Signal(s)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(signalDeadline):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("logship %s still ran %s after %v", strings.Join(args, " "), signalDeadline, sigs)
	}
	took := time.Since(sent)
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	}
	return r, took
}

// F13: wal-push given a FIFO refuses it at once (exit 2, nothing stored)
// instead of blocking forever in open(2).
func TestF13_WalPushRefusesNonRegularFiles(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	fifo := mkfifo(t, filepath.Join(t.TempDir(), seg1))
	walDir := t.TempDir()
	os.Mkdir(filepath.Join(walDir, seg1), 0o755)
	for _, tt := range []struct{ path, says string }{
		{fifo, "a FIFO"},
		{filepath.Join(walDir, seg1), "a directory"},
	} {
		r := logshipWithin(t, 20*time.Second, nil, append(flags, "wal-push", tt.path)...)
		msg := strings.TrimSpace(r.stderr)
		if r.code != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, "not a regular file") || !strings.Contains(msg, tt.says) {
			t.Errorf("wal-push %s: exit %d, stderr %q; want 2 and one line saying it is %s, not a regular file", tt.path, r.code, r.stderr, tt.says)
		}
	}
	if files := storeFiles(t, dir); len(files) != 0 {
		t.Errorf("a refused push wrote %v", files)
	}
}

// F13: SIGTERM or SIGINT ends every command within its deadline with
// exit 130, even one blocked where no context reaches: a restore reading a
// backup part that is a FIFO, a command reading its config from a FIFO. A
// second signal ends it at once.
func TestF13_SignalsEndBlockedCommands(t *testing.T) {
	t.Parallel()
	flags := craftedStore(t, pgVersionOnly(t))
	storeDir := strings.TrimPrefix(flags[1], "file://")
	parts, _ := filepath.Glob(filepath.Join(storeDir, "crafted", "backups", "*", "part-000001"))
	if len(parts) != 1 {
		t.Fatalf("backup part of the crafted store: %v", parts)
	}
	os.Remove(parts[0])
	mkfifo(t, parts[0])
	configFIFO := mkfifo(t, filepath.Join(t.TempDir(), "logship.yaml"))

	tests := []struct {
		name    string
		blockOn string
		args    []string
		sigs    []os.Signal
		within  time.Duration
	}{
		{"restore, SIGTERM", parts[0], append(append([]string{}, flags...), "restore", "--target-dir", filepath.Join(t.TempDir(), "data"), "--mark", "m1"),
			[]os.Signal{syscall.SIGTERM}, signalDeadline},
		{"config from a FIFO, SIGINT", configFIFO, []string{"--config", configFIFO, "catalog", "list"},
			[]os.Signal{os.Interrupt}, signalDeadline},
		{"two signals", configFIFO, []string{"--config", configFIFO, "status"},
			// Two of a kind may merge while pending: send two kinds.
			[]os.Signal{syscall.SIGTERM, os.Interrupt}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, took := interruptedCmd(t, tt.blockOn, tt.sigs, tt.args)
			if msg := lastLine(r.stderr); r.code != 130 || took > tt.within || !strings.HasPrefix(msg, "logship: interrupted") {
				t.Errorf("exit %d after %s, stderr %q; want 130 within %s, ending in a line saying interrupted", r.code, took, r.stderr, tt.within)
			}
		})
	}
}

// pgVersionOnly is a backup part holding PG_VERSION alone.
func pgVersionOnly(t *testing.T) []byte {
	return tarOf(t, &tar.Header{Name: "PG_VERSION", Typeflag: tar.TypeReg, Size: 5, Mode: 0o600})
}

// resettingS3 is an endpoint that reads each request and resets the
// connection: the network failing, not the configuration.
func resettingS3(t *testing.T) (flags, env []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var req []byte
			buf := make([]byte, 4096)
			for !bytes.Contains(req, []byte("\r\n\r\n")) {
				n, err := c.Read(buf)
				req = append(req, buf[:n]...)
				if err != nil {
					break
				}
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	flags = []string{"--store", "s3://bucket/reset", "--s3-endpoint", "http://" + l.Addr().String(), "--s3-path-style", "--s3-region", "us-east-1",
		"--s3-request-timeout", "2s", "--source", "t"}
	env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	return flags, env
}

// exitRow is one command line and the exit code the README table gives it.
type exitRow struct {
	name string
	env  []string
	args []string
	code int
	says []string // parts of the one-line error (or of stdout for 0)
	// blockOn, when set, is a FIFO the command blocks on; the row sends
	// SIGTERM once it does.
	blockOn string
}

// F14: every exit code of the README table, for representative commands:
// 0 done; 1 failed (wal-fetch: absent; an S3 connection reset); 2 bad
// arguments, configuration or input, with nothing changed (the CLI
// framework's own errors, negative durations, a file as --target-dir, a
// target past the end of the archive); 130 interrupted; 200 wal-fetch's
// corrupt object or failed store. Every non-zero exit prints one line.
func TestF14_ExitCodeTable(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	wal := t.TempDir()
	seg := syntheticSegment(t, wal, seg1, 42, 0)
	mustLogship(t, nil, append(flags, "wal-push", seg)...)
	other := syntheticSegment(t, t.TempDir(), seg1, 42, 1)
	corruptDir, corruptFlags := newStoreDir(t)
	mustLogship(t, nil, append(corruptFlags, "wal-push", seg)...)
	obj := filepath.Join(corruptDir, "t", "wal", seg1)
	b, _ := os.ReadFile(obj)
	os.Chmod(obj, 0o644)
	b[len(b)/2] ^= 0x40
	os.WriteFile(obj, b, 0o644)
	s3Reset, s3Env := resettingS3(t)
	fifo := mkfifo(t, filepath.Join(t.TempDir(), seg1))
	configFIFO := mkfifo(t, filepath.Join(t.TempDir(), "logship.yaml"))
	aFile := filepath.Join(t.TempDir(), "file")
	os.WriteFile(aFile, []byte("x"), 0o644)

	// A crafted store whose newest segment, 000000010000000000000003, is
	// an object too, stored now.
	crafted := craftedStore(t, pgVersionOnly(t))
	craftedDir := strings.TrimPrefix(crafted[1], "file://")
	os.MkdirAll(filepath.Join(craftedDir, "crafted", "wal"), 0o755)
	os.WriteFile(filepath.Join(craftedDir, "crafted", "wal", "000000010000000000000003"), []byte("x"), 0o644)
	restoreTo := func(args ...string) []string {
		return append(append(append([]string{}, crafted...), "restore", "--target-dir", filepath.Join(t.TempDir(), "data")), args...)
	}
	with := func(base []string, args ...string) []string { return append(append([]string{}, base...), args...) }
	fetchDest := func() string { return filepath.Join(t.TempDir(), "RECOVERYXLOG") }

	rows := []exitRow{
		{name: "version", args: []string{"version"}, code: 0, says: []string{"logship "}},
		{name: "--version", args: []string{"--version"}, code: 0, says: []string{"logship "}},
		{name: "wal-push again", args: with(flags, "wal-push", seg), code: 0},
		{name: "wal-fetch", args: with(flags, "wal-fetch", seg1, fetchDest()), code: 0},

		{name: "wal-fetch absent", args: with(flags, "wal-fetch", "000000010000000000000002", fetchDest()), code: 1},
		{name: "wal-push other content", args: with(flags, "wal-push", other), code: 1},
		{name: "wal-push, S3 resets", env: s3Env, args: with(s3Reset, "wal-push", seg), code: 1},
		{name: "catalog list, S3 resets", env: s3Env, args: with(s3Reset, "catalog", "list"), code: 1},

		{name: "unknown command", args: []string{"bakup"}, code: 2, says: []string{`"bakup"`, "did you mean backup?"}},
		{name: "unknown subcommand", args: []string{"catalog", "lst"}, code: 2, says: []string{`"lst"`, "did you mean list?"}},
		{name: "unknown flag", args: with(flags, "restore", "--target-dri", "x"), code: 2, says: []string{"--target-dri", "did you mean --target-dir?"}},
		{name: "help on an unknown topic", args: []string{"help", "bakup"}, code: 2, says: []string{"bakup"}},
		{name: "missing required flag", args: with(flags, "restore", "--mark", "m1"), code: 2, says: []string{"--target-dir", "logship restore --help"}},
		{name: "bad store URL", args: []string{"--store", "ftp://x/y", "catalog", "list"}, code: 2, says: []string{"bad store URL"}},
		{name: "wal-push a FIFO", args: with(flags, "wal-push", fifo), code: 2, says: []string{"not a regular file"}},
		{name: "target dir is a file", args: with(crafted, "restore", "--target-dir", aFile, "--mark", "m1"), code: 2, says: []string{aFile, "not a directory"}},
		{name: "target dir under a file", args: with(crafted, "restore", "--target-dir", filepath.Join(aFile, "data")), code: 2, says: []string{"not a directory"}},
		{name: "lsn past the archive", args: restoreTo("--lsn", "0/4000000"), code: 2,
			says: []string{"past the end of the archive", "000000010000000000000003", "0/4000000", "--mark latest"}},
		{name: "time past the archive", args: restoreTo("--time", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), code: 2,
			says: []string{"after the newest WAL", "000000010000000000000003", "LSN 0/4000000", "--mark latest", "no target"}},

		{name: "interrupted", args: []string{"--config", configFIFO, "catalog", "list"}, code: 130, says: []string{"interrupted"}, blockOn: configFIFO},

		{name: "wal-fetch corrupt", args: with(corruptFlags, "wal-fetch", seg1, fetchDest()), code: 200},
		{name: "wal-fetch, S3 resets", env: s3Env, args: with(s3Reset, "wal-fetch", seg1, fetchDest()), code: 200},
	}
	rows = append(rows, negativeDurationRows(flags)...)
	before, craftedBefore := snapshot(t, dir), snapshot(t, craftedDir)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var r result
			if row.blockOn != "" {
				r, _ = interruptedCmd(t, row.blockOn, []os.Signal{syscall.SIGTERM}, row.args)
			} else {
				r = logshipWithin(t, time.Minute, row.env, row.args...)
			}
			out := strings.TrimSpace(r.stderr)
			if row.code == 0 {
				out = r.stdout
			}
			if r.code != row.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, row.code, r.stderr)
			}
			if row.code != 0 && (out == "" || strings.Contains(out, "\n") || !strings.HasPrefix(out, "logship: ")) {
				t.Errorf("stderr %q: want one line", r.stderr)
			}
			for _, want := range row.says {
				if !strings.Contains(out, want) {
					t.Errorf("output %q does not say %q", out, want)
				}
			}
		})
	}
	if !maps(before, snapshot(t, dir)) {
		t.Error("the rows changed the store")
	}
	if !maps(craftedBefore, snapshot(t, craftedDir)) {
		t.Error("the refused restores changed the crafted store")
	}
}

// negativeDurationRows: every duration flag refuses a negative value with
// exit 2, in one line naming the flag.
func negativeDurationRows(flags []string) []exitRow {
	var rows []exitRow
	for _, f := range []struct{ cmd, flag string }{
		{"backup", "archive-wait"}, {"mark m1", "wait"}, {"mark m1", "quiesce-timeout"},
		{"purge", "orphan-grace"}, {"restore --target-dir /nonexistent/x", "start-timeout"},
		{"schedule --metrics-listen off", "stop-grace"}, {"schedule --metrics-listen off", "stop-timeout"},
	} {
		args := append(append(append([]string{}, flags...), strings.Fields(f.cmd)...), "--"+f.flag, "-1s")
		rows = append(rows, exitRow{name: "negative --" + f.flag, args: args, code: 2, says: []string{"--" + f.flag, "negative"}})
	}
	return rows
}

// lastLine is the last line of a command's stderr: its error, after any
// log lines.
func lastLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return lines[len(lines)-1]
}

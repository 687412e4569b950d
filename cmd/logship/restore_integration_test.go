package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/restore"
)

// restoreOut is what restore --json prints.
type restoreOut struct {
	Restore struct {
		TargetDir      string `json:"target_dir"`
		RestoreCommand string `json:"restore_command"`
		Plan           struct {
			BackupID string `json:"backup_id"`
			Timeline int    `json:"timeline"`
			LastWAL  string `json:"last_wal"`
			Segments int    `json:"segments"`
		} `json:"plan"`
	} `json:"restore"`
	Reached *struct {
		State    string `json:"state"`
		LSN      string `json:"lsn"`
		Timeline int    `json:"timeline"`
		StopLine string `json:"stop_line"`
		Port     int    `json:"port"`
	} `json:"reached"`
	RTO int64 `json:"rto_ns"`
}

// restored is a server that restore --start left running.
type restored struct {
	dir  string
	port int
}

// backedUpSource starts an archiving cluster with a probe table and a small
// pgbench database, and takes a backup of it.
func backedUpSource(t *testing.T, v pgtest.Version, source string) (c *pgtest.Cluster, storeDir string, flags, pgFlags []string) {
	t.Helper()
	c, storeDir, flags = archivingCluster(t, v, source)
	pgFlags = append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	// The first archived segment creates the source record a backup needs.
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	return c, storeDir, flags, pgFlags
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newTargetDir is a path, not yet created, that the postgres user can reach.
func newTargetDir(t *testing.T) string {
	return filepath.Join(pgtest.TempDir(t, "logship-rs-"), "data")
}

// restoreAndStart runs restore --start on a fresh directory and port, and
// stops the server when the test ends.
func restoreAndStart(t *testing.T, flags []string, args ...string) (restored, restoreOut) {
	t.Helper()
	r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	t.Cleanup(func() { stopServer(t, r.dir) })
	all := append(append([]string{}, flags...), "restore", "--target-dir", r.dir, "--start", "--port", strconv.Itoa(r.port),
		"--start-timeout", "50s", "--json")
	out := mustLogship(t, nil, append(all, args...)...)
	var ro restoreOut
	if err := json.Unmarshal([]byte(out), &ro); err != nil || ro.Reached == nil {
		t.Fatalf("restore --json: %v\n%s", err, out)
	}
	return r, ro
}

// stopServer stops whatever runs on dir, as the postgres user.
func stopServer(t *testing.T, dir string) {
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		return
	}
	bin, err := binDirFor(dir)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "-D", dir, "stop", "-m", "immediate", "-w")
	cmd.Dir = os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("stop server on %s: %v\n%s", dir, err, out)
	}
	if t.Failed() {
		if b, err := os.ReadFile(filepath.Join(dir, "log", "logship-start.log")); err == nil {
			t.Logf("restored server log (%s):\n%s", dir, b)
		}
	}
}

func (r restored) connString() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", r.dir, r.port)
}

func (r restored) query(t testing.TB, sql string, _ ...any) string {
	t.Helper()
	s, err := r.tryQuery(sql)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (r restored) tryQuery(sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.connString())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s string
	err = conn.QueryRow(ctx, sql, pgx.QueryExecModeSimpleProtocol).Scan(&s)
	return s, err
}

const (
	probesSQL  = "SELECT coalesce(string_agg(n::text, ',' ORDER BY n), '') FROM probe"
	historySQL = "SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history"
)

// dataState is what a restore must reproduce exactly.
type dataState struct{ probes, history string }

func stateOf(t *testing.T, query func(testing.TB, string, ...any) string) dataState {
	t.Helper()
	return dataState{probes: query(t, probesSQL), history: query(t, historySQL)}
}

// rfc3339 rewrites PostgreSQL's timestamptz output as RFC 3339.
func rfc3339(t *testing.T, pgTime string) string {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999-07", pgTime)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Format(time.RFC3339Nano)
}

// Interleaved probe rows, pgbench and marks: every restore lands on exactly
// the committed state of its target.
func TestRestoreToMarks(t *testing.T) { onEachPG(t, testRestoreToMarks) }

func testRestoreToMarks(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "marks")
	// Nothing commits between the backup and here: --immediate lands on it.
	want := map[string]dataState{"immediate": stateOf(t, c.QueryString)}
	var atTime, atLSN string
	for i := 1; i <= 3; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "100", "-c", "2")
		name := fmt.Sprintf("m%d", i)
		want[name] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
		if i == 2 {
			// Nothing commits between m2 and this time but autovacuum.
			atTime = c.QueryString(t, "SELECT clock_timestamp()::text")
			want["time"] = want[name]
			want["time rfc3339"] = want[name]
		}
	}
	c.Exec(t, "INSERT INTO probe VALUES (4)")
	atLSN = c.QueryString(t, "SELECT pg_current_wal_lsn()::text")
	want["lsn"] = stateOf(t, c.QueryString)
	c.Pgbench(t, "-n", "-t", "50", "-c", "1")
	c.Exec(t, "INSERT INTO probe VALUES (5)")
	waitArchived(t, c, switchWAL(t, c))
	want["latest"] = want["m3"]
	if want["m1"] == want["m2"] || want["m3"] == want["lsn"] || !strings.HasPrefix(want["lsn"].probes, "1,2,3,4") {
		t.Fatalf("test data does not tell the targets apart: %+v", want)
	}

	tests := []struct {
		name   string
		args   []string
		state  string // reached state
		stopAt string // in the server's "recovery stopping" line
	}{
		{"m1", []string{"--mark", "m1", "--no-archive"}, "promoted", "before WAL location"},
		{"m2", []string{"--mark", "m2", "--no-archive"}, "promoted", "before WAL location"},
		{"m3", []string{"--mark", "m3", "--action", "pause"}, "paused", "before WAL location"},
		{"latest", []string{"--mark", "latest", "--no-archive"}, "promoted", "before WAL location"},
		{"time", []string{"--time", atTime, "--action", "pause"}, "paused", "before commit"},
		{"time rfc3339", []string{"--time", rfc3339(t, atTime), "--action", "pause"}, "paused", "before commit"},
		{"lsn", []string{"--lsn", atLSN, "--no-archive"}, "promoted", "after WAL location"},
		{"immediate", []string{"--immediate", "--no-archive"}, "promoted", "after reaching consistency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, out := restoreAndStart(t, flags, tt.args...)
			if out.Reached.State != tt.state || !strings.Contains(out.Reached.StopLine, tt.stopAt) {
				t.Errorf("reached %+v; want state %s, stopping at %s", *out.Reached, tt.state, tt.stopAt)
			}
			if got := stateOf(t, r.query); got != want[tt.name] {
				t.Errorf("restored data %+v, want %+v", got, want[tt.name])
			}
			if tt.state == "promoted" && (out.Reached.Timeline != 2 || r.query(t, "SELECT pg_is_in_recovery()::text") != "false") {
				t.Errorf("promoted server: timeline %d, in recovery %s", out.Reached.Timeline, r.query(t, "SELECT pg_is_in_recovery()::text"))
			}
			if out.RTO <= 0 || out.Reached.LSN == "" {
				t.Errorf("no RTO or LSN reported: %+v", out)
			}
		})
	}
}

// A standby keeps applying segments shipped after it started.
func TestRestoreStandby(t *testing.T) { onEachPG(t, testRestoreStandby) }

func testRestoreStandby(t *testing.T, v pgtest.Version) {
	c, _, flags, _ := backedUpSource(t, v, "standby")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	waitArchived(t, c, switchWAL(t, c))
	r, out := restoreAndStart(t, flags, "--standby")
	if out.Reached.State != "standby" {
		t.Fatalf("reached %+v, want a standby", *out.Reached)
	}
	waitProbes := func(want string) {
		t.Helper()
		pgtest.WaitFor(t, 40*time.Second, "standby to show probes "+want, func() bool {
			got, err := r.tryQuery(probesSQL)
			return err == nil && got == want
		})
	}
	waitProbes("1")
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	waitArchived(t, c, switchWAL(t, c))
	waitProbes("1,2")
	if got := r.query(t, "SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Errorf("standby left recovery: pg_is_in_recovery = %s", got)
	}
}

// A restored, promoted server ships a new timeline into the same store; a
// mark taken there restores, and so does a mark of the old timeline taken
// after the branch point.
func TestRestoreTimeline(t *testing.T) { onEachPG(t, testRestoreTimeline) }

func testRestoreTimeline(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "tl")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	mustLogship(t, nil, append(pgFlags, "mark", "m2")...)
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	mustLogship(t, nil, append(pgFlags, "mark", "m3")...)

	// Archiving stays on: the promoted server ships timeline 2.
	a, out := restoreAndStart(t, flags, "--mark", "m2")
	if out.Reached.Timeline != 2 || a.query(t, probesSQL) != "1" {
		t.Fatalf("restore to m2: %+v, probes %s", *out.Reached, a.query(t, probesSQL))
	}
	aFlags := append(append([]string{}, flags...), "--pg", a.connString())
	mustSQL(t, a, "INSERT INTO probe VALUES (20)")
	var m4 markRecord
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(aFlags, "mark", "m4", "--json")...)), &m4); err != nil || m4.Timeline != 2 {
		t.Fatalf("mark m4 on the new timeline: %+v %v", m4, err)
	}

	tests := []struct {
		name, mark, probes string
		planTimeline       int
	}{
		{"mark on the new timeline", "m4", "1,20", 2},
		{"old timeline past the branch", "m3", "1,2", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, out := restoreAndStart(t, flags, "--mark", tt.mark, "--no-archive")
			if got := r.query(t, probesSQL); got != tt.probes || out.Restore.Plan.Timeline != tt.planTimeline {
				t.Errorf("restore to %s: probes %s, plan timeline %d; want %s, %d", tt.mark, got, out.Restore.Plan.Timeline, tt.probes, tt.planTimeline)
			}
		})
	}
	t.Run("catalog lists both timelines", func(t *testing.T) {
		var l listing
		if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil {
			t.Fatal(err)
		}
		tlis := map[int]bool{}
		for _, tl := range l.Timelines {
			tlis[tl.Timeline] = true
		}
		if !tlis[1] || !tlis[2] {
			t.Errorf("catalog list timelines %+v, want 1 and 2", l.Timelines)
		}
	})
}

func mustSQL(t *testing.T, r restored, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.connString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// A damaged chain never yields a server that silently stops short: a
// segment missing from the catalog fails the plan before anything is
// written, one that vanishes after planning stops the server, and a corrupt
// one stops recovery through wal-fetch's exit 200.
func TestRestoreBrokenChain(t *testing.T) { onEachPG(t, testRestoreBrokenChain) }

func testRestoreBrokenChain(t *testing.T, v pgtest.Version) {
	c, storeDir, flags, pgFlags := backedUpSource(t, v, "broken")
	for i := 1; i <= 3; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		switchWAL(t, c)
	}
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	var l struct {
		Backups []backupRecord `json:"backups"`
	}
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil || len(l.Backups) != 1 {
		t.Fatalf("catalog list: %v %+v", err, l)
	}
	// The segment after the backup's end: recovery is consistent by then,
	// so only the target check can catch its absence.
	var tli, hi, lo uint32
	fmt.Sscanf(l.Backups[0].EndWAL, "%08X%08X%08X", &tli, &hi, &lo)
	victim := fmt.Sprintf("%08X%08X%08X", tli, hi, lo+1)
	object := filepath.Join(storeDir, "broken", "wal", victim)

	t.Run("shutdown at the mark", func(t *testing.T) {
		_, out := restoreAndStart(t, flags, "--mark", "m1", "--action", "shutdown")
		if out.Reached.State != "shut down" || out.Reached.LSN == "" || !strings.Contains(out.Reached.StopLine, "before WAL location") {
			t.Errorf("reached %+v, want shut down at m1", *out.Reached)
		}
	})

	// Prepared while the chain is whole; started once the segment is gone.
	prepared := newTargetDir(t)
	t.Cleanup(func() { stopServer(t, prepared) })
	out := mustLogship(t, nil, append(flags, "restore", "--target-dir", prepared, "--mark", "m1")...)
	if !strings.Contains(out, "pg_ctl") {
		t.Errorf("restore without --start does not say how to start:\n%s", out)
	}

	t.Run("corrupt segment", func(t *testing.T) {
		b, err := os.ReadFile(object)
		if err != nil {
			t.Fatal(err)
		}
		good := append([]byte{}, b...)
		b[len(b)-100] ^= 0xff
		if err := os.WriteFile(object, b, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(object, good, 0o644)
		dir := newTargetDir(t)
		t.Cleanup(func() { stopServer(t, dir) })
		r := logship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "m1", "--start",
			"--port", strconv.Itoa(freeTCPPort(t)), "--start-timeout", "50s")...)
		if r.code != 1 || !strings.Contains(r.stderr, "exit code 200") || !strings.Contains(r.stderr, victim) {
			t.Fatalf("exit %d, want 1 quoting the server's FATAL about %s and exit code 200:\n%s", r.code, victim, r.stderr)
		}
	})

	if err := os.Remove(object); err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(storeDir, "broken", "catalog", "wal", victim+"~*"))
	for _, rec := range records {
		os.Remove(rec)
	}
	t.Run("missing segment fails the plan", func(t *testing.T) {
		dir := newTargetDir(t)
		r := logship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "m1")...)
		if r.code != 1 || !strings.Contains(r.stderr, victim+" is not in the store") {
			t.Fatalf("exit %d, want 1 naming %s:\n%s", r.code, victim, r.stderr)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Error("the target dir was created for a failed plan")
		}
	})
	t.Run("segment gone after planning", func(t *testing.T) {
		_, err := restore.Start(context.Background(), prepared, restore.StartOptions{PGBin: v.BinDir, Port: freeTCPPort(t), Timeout: 50 * time.Second})
		if !errors.Is(err, restore.ErrRecoveryFailed) || !strings.Contains(err.Error(), "recovery ended before configured recovery target was reached") {
			t.Fatalf("got %v, want the server's FATAL about ending before the target", err)
		}
	})
}

// craftedStore records a backup whose one part holds tarBytes, with a
// manifest restore cannot use, a WAL chain for it (records only) and a mark
// m1, without any PostgreSQL.
func craftedStore(t *testing.T, tarBytes []byte) []string {
	t.Helper()
	return craftedBackup(t, tarBytes, []byte("{}\n{}\n"))
}

func tarOf(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// Bad input changes nothing: hostile tar entries write nothing outside the
// target directory, and refused commands leave it as it was.
func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	reg := func(name string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 5, Mode: 0o600}
	}
	hostile := []struct {
		name string
		tar  []byte
		says string
	}{
		{"dot-dot", tarOf(t, reg("PG_VERSION"), reg("base/../../escaped")), `".." refused`},
		{"absolute", tarOf(t, reg("PG_VERSION"), reg("/tmp/escaped")), "absolute path refused"},
		{"symlink out", tarOf(t, reg("PG_VERSION"), &tar.Header{Name: "pg_tblspc/1", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, reg("pg_tblspc/1/escaped")), "symlink"},
	}
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags := craftedStore(t, tt.tar)
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			r := logship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "m1")...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.says) || !strings.Contains(r.stderr, "--force") {
				t.Fatalf("exit %d, want 1 saying %q and how to retry:\n%s", r.code, tt.says, r.stderr)
			}
			// Only the tar's first entry, and the marker restore leaves
			// in its target.
			marker := filepath.Join("data", restore.MarkerName)
			files := slices.DeleteFunc(storeFiles(t, parent), func(f string) bool { return f == marker })
			if len(files) > 1 {
				t.Errorf("files written: %v", files)
			}
			for _, p := range []string{filepath.Join(parent, "escaped"), "/tmp/escaped"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}

	flags := craftedStore(t, tarOf(t, reg("PG_VERSION")))
	nonEmpty := t.TempDir()
	keep := filepath.Join(nonEmpty, "postgresql.conf")
	os.WriteFile(keep, []byte("keep me\n"), 0o600)
	refusals := []struct {
		name string
		args []string
		dir  string
		says string
	}{
		{"non-empty dir", []string{"--mark", "m1"}, nonEmpty, "--force"},
		{"unknown mark", []string{"--mark", "nope"}, "", `"nope"`},
		{"two targets", []string{"--mark", "m1", "--immediate"}, "", "one target"},
		{"bad time", []string{"--time", "yesterday"}, "", "RFC 3339"},
		{"time without offset", []string{"--time", "2026-11-27 04:00:00"}, "", "UTC offset"},
		{"bad lsn", []string{"--lsn", "12"}, "", "--lsn"},
		{"bad action", []string{"--action", "explode"}, "", "promote, pause or shutdown"},
		{"bad mark name", []string{"--mark", "a/b"}, "", "invalid mark name"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "data")
			}
			r := logship(t, nil, append(append(append([]string{}, flags...), "restore", "--target-dir", dir), tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.says) {
				t.Fatalf("exit %d, want 2 saying %q:\n%s", r.code, tt.says, r.stderr)
			}
			if tt.dir == "" {
				if _, err := os.Stat(dir); err == nil {
					t.Error("target dir created by a refused restore")
				}
			}
		})
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep me\n" || len(storeFiles(t, nonEmpty)) != 1 {
		t.Errorf("non-empty target dir changed: %v", storeFiles(t, nonEmpty))
	}
}

// BenchmarkRestorePgbench measures restore throughput (raw MB/s of the base
// backup, extraction and verification, without recovery) on a pgbench
// database of scale 10 (about 160 MB).
func BenchmarkRestorePgbench(b *testing.B) {
	pgtest.Require(b)
	storeDir := pgtest.TempDir(b, "logship-store-")
	flags := []string{"--store", "file://" + storeDir, "--source", "bench"}
	c := pgtest.Start(b, pgtest.Options{Conf: []string{"archive_mode = on",
		fmt.Sprintf("archive_command = '%s %s wal-push %%p'", logshipBin, strings.Join(flags, " "))}})
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Pgbench(b, "-i", "-s", "10", "-q")
	seg := c.QueryString(b, "SELECT pg_walfile_name(pg_switch_wal())")
	c.WaitFor(b, time.Minute, "archiving", func() bool {
		return c.QueryString(b, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= seg
	})
	var rec backupRecord
	if err := json.Unmarshal([]byte(mustLogship(b, nil, append(pgFlags, "backup", "--fast", "--json")...)), &rec); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rec.RawSize)
	b.ResetTimer()
	for range b.N {
		mustLogship(b, nil, append(flags, "restore", "--target-dir", filepath.Join(b.TempDir(), "data"), "--immediate")...)
	}
}

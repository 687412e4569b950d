package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/internal/pgtest"
)

// restoreOut is what restore --json prints.
type restoreOut struct {
	Restore struct {
		TargetDir string `json:"target_dir"`
		Plan      struct {
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
func backedUpSource(t *testing.T, source string) (*pgtest.Cluster, []string, []string) {
	t.Helper()
	c, _, flags := archivingCluster(t, source)
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	// The first archived segment creates the source record a backup needs.
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	return c, flags, pgFlags
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
	bin, err := pgtest.BinDir()
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

// Interleaved probe rows, pgbench and marks: every restore lands on exactly
// the committed state of its target.
func TestRestoreToMarks(t *testing.T) {
	t.Parallel()
	c, flags, pgFlags := backedUpSource(t, "marks")
	want := map[string]dataState{}
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
		{"m1", []string{"--mark", "m1", "--no-archive"}, "promoted", `restore point "m1"`},
		{"m2", []string{"--mark", "m2", "--no-archive"}, "promoted", `restore point "m2"`},
		{"m3", []string{"--mark", "m3", "--action", "pause"}, "paused", `restore point "m3"`},
		{"latest", []string{"--mark", "latest", "--no-archive"}, "promoted", `restore point "m3"`},
		{"time", []string{"--time", atTime, "--action", "pause"}, "paused", "before commit"},
		{"lsn", []string{"--lsn", atLSN, "--no-archive"}, "promoted", "after WAL location"},
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

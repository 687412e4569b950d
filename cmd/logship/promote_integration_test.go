package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// --on-promote runs once per promoted member, after it accepts writes,
// with the member, mark, LSN, host and port in its environment; a failing
// hook makes failover exit 1 and leaves the promotion in place.
func TestFailoverOnPromote(t *testing.T) { onEachPG(t, testFailoverOnPromote) }

func testFailoverOnPromote(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "prom")
	ok := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	bad := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	for _, r := range []restored{ok, bad} {
		t.Cleanup(func() { stopServer(t, r.dir) })
	}
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	mustLogship(t, nil, append(pgFlags, "mark", "p1")...)
	waitArchived(t, c, switchWAL(t, c))
	for _, r := range []restored{ok, bad} {
		if out, res := standbyOnce(t, flags, "--target-dir", r.dir, "--port", strconv.Itoa(r.port)); res.code != 0 || out.Members[0].Mark != "p1" {
			t.Fatalf("standby: exit %d, %+v\n%s", res.code, out, res.stderr)
		}
	}

	envFile := filepath.Join(t.TempDir(), "env")
	hookCmd := "env | grep ^LOGSHIP_HOOK_ | sort >> " + envFile
	r := logship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", ok.dir, "--on-promote", hookCmd)...)
	if r.code != 0 {
		t.Fatalf("failover with a hook: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	for _, want := range []string{"LOGSHIP_HOOK_JOB=promote\n", "LOGSHIP_HOOK_SOURCE=prom\n", "LOGSHIP_HOOK_MARK=p1\n",
		"LOGSHIP_HOOK_TIMELINE=2\n", "LOGSHIP_HOOK_PORT=" + strconv.Itoa(ok.port) + "\n", "LOGSHIP_HOOK_DATA_DIR=" + ok.dir + "\n",
		"LOGSHIP_HOOK_LSN=", "LOGSHIP_HOOK_HOST=", "LOGSHIP_HOOK_SOCKET_DIR="} {
		if !strings.Contains(env, want) {
			t.Fatalf("hook environment lacks %q:\n%s", want, env)
		}
	}
	if n := strings.Count(env, "LOGSHIP_HOOK_JOB="); n != 1 {
		t.Fatalf("hook ran %d times for one member:\n%s", n, env)
	}
	mustSQL(t, ok, "INSERT INTO probe VALUES (78)")
	checkShippingFrom(t, flags, ok)

	r = logship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", bad.dir, "--on-promote", "echo nope; exit 3")...)
	if r.code != 1 || !strings.Contains(r.stderr, "on-promote hook failed") || !strings.Contains(r.stderr, "member prom") {
		t.Fatalf("failover with a failing hook: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := bad.query(t, "SELECT pg_is_in_recovery()::text"); got != "false" {
		t.Fatalf("after a failing hook the server is in recovery = %s: the promotion was undone", got)
	}
	mustSQL(t, bad, "INSERT INTO probe VALUES (79)")
}

// A scheduled incremental with nothing to build on takes a full backup
// and logs why; the next runs build on it (PostgreSQL 17+).
func TestScheduleIncrementalStartsFull(t *testing.T) {
	c, storeDir, flags, _, _ := archivingCluster18(t, "incrfull")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	bs, d := scheduledIncrementals(t, storeDir, "incrfull", c.ConnString(), 2, func() {
		c.Exec(t, "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now())")
	})
	if bs[0].Incremental() || !bs[1].Incremental() || bs[1].Parent != bs[0].ID {
		t.Errorf("backups %+v; want a full one, then an incremental on it", bs[:2])
	}
	if d.find("taking a full backup instead of an incremental one") == nil {
		t.Errorf("the switch to a full backup was not logged")
	}
	verifyJSON(t, flags, 0)
}

// checkShippingFrom makes the promoted server r ship a segment and checks
// that status and catalog list show it as the source on timeline 2.
func checkShippingFrom(t *testing.T, flags []string, r restored) {
	t.Helper()
	seg := r.query(t, "SELECT pg_walfile_name(pg_switch_wal())")
	pgtest.WaitFor(t, 60*time.Second, "the promoted server archives "+seg, func() bool {
		last, err := r.tryQuery("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return err == nil && last >= seg
	})
	host, _ := os.Hostname()
	var st struct {
		Newest struct {
			Timeline int `json:"timeline"`
			From     *struct {
				Timeline int    `json:"timeline"`
				Host     string `json:"host"`
				DataDir  string `json:"data_dir"`
			} `json:"shipped_from"`
		} `json:"newest_segment"`
	}
	out := mustLogship(t, nil, append(append([]string{}, flags...), "status", "--json")...)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if f := st.Newest.From; st.Newest.Timeline != 2 || f == nil || f.Timeline != 2 || f.Host != host || f.DataDir != r.dir {
		t.Fatalf("status after failover: %s", out)
	}
	if out := mustLogship(t, nil, append(append([]string{}, flags...), "status")...); !strings.Contains(out, "shipping from   "+host+" (data directory "+r.dir+")") {
		t.Fatalf("status does not say who ships:\n%s", out)
	}
	if out := mustLogship(t, nil, append(append([]string{}, flags...), "catalog", "list")...); !strings.Contains(out, "timeline 2 shipped from "+host) {
		t.Fatalf("catalog list does not say who ships timeline 2:\n%s", out)
	}
}

// After a failover the promoted server's first scheduled incremental is a
// full backup on the new timeline (an incremental cannot build across the
// promotion), and the next ones build on it (PostgreSQL 17+).
func TestScheduleIncrementalAfterFailover(t *testing.T) {
	c, storeDir, flags, pgFlags, bin := archivingCluster18(t, "incrfo")
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	mustLogship(t, nil, append(pgFlags, "mark", "f1")...)
	waitArchived(t, c, switchWAL(t, c))
	dr := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	t.Cleanup(func() { stopServer(t, dr.dir) })
	if out, r := standbyOnce(t, flags, "--target-dir", dr.dir, "--port", strconv.Itoa(dr.port), "--pg-bin", bin); r.code != 0 || out.Members[0].Mark != "f1" {
		t.Fatalf("standby: exit %d, %+v\n%s", r.code, out, r.stderr)
	}
	c.Stop(t)
	mustLogship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", dr.dir, "--pg-bin", bin)...)
	mustSQL(t, dr, "INSERT INTO probe VALUES (1)")

	bs, d := scheduledIncrementals(t, storeDir, "incrfo", dr.connString(), 3, func() {
		mustSQL(t, dr, "INSERT INTO probe SELECT coalesce(max(n), 0) + 1 FROM probe")
	})
	if bs[1].Timeline != 2 || bs[1].Incremental() || bs[2].Timeline != 2 || !bs[2].Incremental() || bs[2].Parent != bs[1].ID {
		t.Errorf("backups after the failover %+v; want a full one on timeline 2, then an incremental on it", bs[1:3])
	}
	if l := d.find("taking a full backup instead of an incremental one"); l == nil || !strings.Contains(fmt.Sprint(l), "timeline 2") {
		t.Errorf("the switch to a full backup was not logged with the timeline: %v", l)
	}
}

package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// standbyOut is what standby --once --json prints.
type standbyOut struct {
	Target  string `json:"target"`
	Members []struct {
		Source string `json:"source"`
		Mark   string `json:"mark"`
		LSN    string `json:"lsn"`
		Newest string `json:"newest_mark"`
		Action string `json:"action"`
		Reason string `json:"reason"`
		Port   int    `json:"port"`
	} `json:"members"`
}

// failoverOut is what failover --json prints.
type failoverOut struct {
	Mark    string `json:"mark"`
	Members []struct {
		Source   string `json:"source"`
		Mark     string `json:"mark"`
		LSN      string `json:"lsn"`
		Timeline int    `json:"timeline"`
		Port     int    `json:"port"`
	} `json:"members"`
	RTO int64 `json:"rto_ns"`
}

func standbyOnce(t *testing.T, flags []string, args ...string) (standbyOut, result) {
	t.Helper()
	all := append(append(append([]string{}, flags...), "standby", "--once", "--json", "--start-timeout", "50s"), args...)
	r := logship(t, nil, all...)
	var out standbyOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("standby --once --json: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return out, r
}

// A standby follows its source from mark to mark, paused read-only exactly
// at each; failover promotes a standby at the mark it stands on; a mark it
// cannot reach fails the failover with nothing promoted.
func TestStandbyFollowsMarks(t *testing.T) { onEachPG(t, testStandbyFollowsMarks) }

func testStandbyFollowsMarks(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "follow")
	main := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	at2 := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	for _, r := range []restored{main, at2} {
		t.Cleanup(func() { stopServer(t, r.dir) })
	}
	if out, r := standbyOnce(t, flags, "--target-dir", main.dir); r.code != 1 || !strings.Contains(r.stderr, "no marks yet") {
		t.Fatalf("standby without marks: exit %d, %+v, %s", r.code, out, r.stderr)
	}
	want := map[string]dataState{}
	for i := 1; i <= 3; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "100", "-c", "2")
		name := fmt.Sprintf("m%d", i)
		want[name] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
		// Written after the mark: the standby must not show it.
		c.Exec(t, "INSERT INTO probe VALUES ($1)", 100+i)
		waitArchived(t, c, switchWAL(t, c))

		out, r := standbyOnce(t, flags, "--target-dir", main.dir, "--port", strconv.Itoa(main.port))
		action := map[bool]string{true: "restored", false: "advanced"}[i == 1]
		if r.code != 0 || len(out.Members) != 1 || out.Members[0].Mark != name || out.Members[0].Action != action {
			t.Fatalf("step to %s: exit %d, %+v\n%s", name, r.code, out, r.stderr)
		}
		if got := stateOf(t, main.query); got != want[name] {
			t.Fatalf("standby at %s shows %+v, want %+v", name, got, want[name])
		}
		if ro := main.query(t, "SELECT pg_is_in_recovery()::text || pg_is_wal_replay_paused()::text"); ro != "truetrue" {
			t.Fatalf("standby at %s: in recovery and paused = %s", name, ro)
		}
		if i == 2 {
			if out, r := standbyOnce(t, flags, "--target-dir", at2.dir, "--port", strconv.Itoa(at2.port)); r.code != 0 || out.Members[0].Mark != "m2" {
				t.Fatalf("second standby: exit %d, %+v\n%s", r.code, out, r.stderr)
			}
		}
	}
	if out, r := standbyOnce(t, flags, "--target-dir", main.dir); r.code != 0 || out.Members[0].Action != "unchanged" {
		t.Fatalf("step without a new mark: exit %d, %+v\n%s", r.code, out, r.stderr)
	}

	// As a daemon it advances to a mark shipped while it runs, and shows it
	// in /metrics; SIGTERM stops it cleanly, the server stays up.
	c.Exec(t, "INSERT INTO probe VALUES (4)")
	want["m4"] = stateOf(t, c.QueryString)
	runStandbyDaemon(t, flags, main.dir, func(metrics func() string) {
		mustLogship(t, nil, append(pgFlags, "mark", "m4")...)
		pgtest.WaitFor(t, 90*time.Second, "the daemon at m4", func() bool {
			return strings.Contains(metrics(), `logship_standby_mark_info{lsn=`) && strings.Contains(metrics(), `mark="m4",source="follow"} 1`)
		})
	})
	if got := stateOf(t, main.query); got != want["m4"] {
		t.Fatalf("standby after the daemon shows %+v, want m4's %+v", got, want["m4"])
	}

	// Backwards is out of reach: exit 1, the standby stays paused at m4.
	r := logship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", main.dir, "--mark", "m1")...)
	if r.code != 1 || !strings.Contains(r.stderr, "no member was promoted") {
		t.Fatalf("failover to a mark behind: exit %d, %s", r.code, r.stderr)
	}
	if got := main.query(t, "SELECT pg_is_in_recovery()::text"); got != "true" || stateOf(t, main.query) != want["m4"] {
		t.Fatalf("after a refused failover the standby is in recovery = %s, data %+v", got, stateOf(t, main.query))
	}

	// The second standby stands on m2 while m4 exists: failover promotes at m2.
	r = logship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", at2.dir, "--json")...)
	var fo failoverOut
	if err := json.Unmarshal([]byte(r.stdout), &fo); r.code != 0 || err != nil {
		t.Fatalf("failover: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if fo.Mark != "m2" || len(fo.Members) != 1 || fo.Members[0].Timeline != 2 || fo.RTO <= 0 {
		t.Fatalf("failover reached %+v", fo)
	}
	if got := stateOf(t, at2.query); got != want["m2"] {
		t.Fatalf("promoted server shows %+v, want m2's %+v", got, want["m2"])
	}
	mustSQL(t, at2, "INSERT INTO probe VALUES (999)")
	r = logship(t, nil, append(append([]string{}, flags...), "failover", "--target-dir", at2.dir)...)
	if r.code != 1 || !strings.Contains(r.stderr, "promoted already") {
		t.Fatalf("second failover: exit %d, %s", r.code, r.stderr)
	}
}

// Two sources with group marks: the standby pair stands on one mark; with
// one member's shipping stopped neither advances, and the step says why;
// failover to a mark a member cannot reach promotes nobody, failover at
// the common mark promotes both there.
func TestStandbyGroup(t *testing.T) { onEachPG(t, testStandbyGroup) }

func testStandbyGroup(t *testing.T, v pgtest.Version) {
	pgtest.Require(t)
	storeDir := pgtest.TempDir(t, "logship-store-")
	both := make([]groupSource, 2)
	for i, name := range []string{"orders", "payments"} {
		s := groupSource{name: name, flags: []string{"--store", "file://" + storeDir, "--source", name}}
		s.c = archivingClusterOn(t, v, s.flags, nil)
		s.c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
		waitArchived(t, s.c, switchWAL(t, s.c))
		mustLogship(t, nil, append(s.pgFlags(), "backup", "--fast")...)
		both[i] = s
	}
	config := filepath.Join(t.TempDir(), "logship.yaml")
	yaml := "store: file://" + storeDir + "\ngroups:\n  billing:\n"
	for _, s := range both {
		yaml += "    - source: " + s.name + "\n      pg: \"" + s.c.ConnString() + "\"\n"
	}
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	global := []string{"--config", config}
	dir := pgtest.TempDir(t, "logship-sb-")
	port := freeTCPPort(t)
	members := []restored{{filepath.Join(dir, "orders"), port}, {filepath.Join(dir, "payments"), port + 1}}
	for _, m := range members {
		t.Cleanup(func() { stopServer(t, m.dir) })
	}
	groupArgs := []string{"--target-dir", dir, "--group", "billing", "--port", strconv.Itoa(port)}
	insert := func(n int) {
		for _, s := range both {
			s.c.Exec(t, "INSERT INTO probe VALUES ($1)", n)
		}
	}
	probes := func(want string) {
		t.Helper()
		for i, m := range members {
			if got := m.query(t, probesSQL); got != want {
				t.Fatalf("member %s shows probes %q, want %q", both[i].name, got, want)
			}
		}
	}
	for i, mark := range []string{"g1", "g2"} {
		insert(i + 1)
		mustLogship(t, nil, append(global, "mark", mark, "--group", "billing")...)
		insert(100 + i)
		out, r := standbyOnce(t, global, groupArgs...)
		if r.code != 0 || out.Target != mark || len(out.Members) != 2 || out.Members[0].Mark != mark || out.Members[1].Mark != mark {
			t.Fatalf("group step to %s: exit %d, %+v\n%s", mark, r.code, out, r.stderr)
		}
		probes(map[string]string{"g1": "1", "g2": "1,2,100"}[mark])
	}

	// payments stops shipping: g3 is recorded on both but payments cannot
	// reach it, so neither member moves.
	payments := both[1]
	payments.c.Exec(t, "ALTER SYSTEM SET archive_command = 'false'")
	payments.c.Exec(t, "SELECT pg_reload_conf()")
	insert(3)
	if r := logship(t, nil, append(global, "mark", "g3", "--group", "billing", "--wait", "2s")...); r.code == 0 {
		t.Fatalf("group mark with payments not shipping succeeded:\n%s", r.stdout)
	}
	out, r := standbyOnce(t, global, groupArgs...)
	if r.code != 1 || out.Target != "g3" {
		t.Fatalf("held step: exit %d, %+v\n%s", r.code, out, r.stderr)
	}
	for i, m := range out.Members {
		if m.Mark != "g2" || m.Action != "held" || m.Reason == "" {
			t.Fatalf("member %d after a held step: %+v", i, m)
		}
	}
	if !strings.Contains(out.Members[1].Reason, "missing from the store") {
		t.Fatalf("payments does not say why it is held: %q", out.Members[1].Reason)
	}
	if !strings.Contains(out.Members[0].Reason, "held back") {
		t.Fatalf("orders does not say it is held back: %q", out.Members[0].Reason)
	}
	probes("1,2,100")

	r = logship(t, nil, append(append(global, "failover"), append(groupArgs[:4:4], "--mark", "g3")...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "no member was promoted") {
		t.Fatalf("failover to an unreachable mark: exit %d, %s", r.code, r.stderr)
	}
	for i, m := range members {
		if got := m.query(t, "SELECT pg_is_in_recovery()::text"); got != "true" {
			t.Fatalf("member %s was promoted by a failed failover", both[i].name)
		}
	}

	r = logship(t, nil, append(append(global, "failover", "--json"), groupArgs[:4]...)...)
	var fo failoverOut
	if err := json.Unmarshal([]byte(r.stdout), &fo); r.code != 0 || err != nil {
		t.Fatalf("group failover: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if fo.Mark != "g2" || len(fo.Members) != 2 || fo.Members[0].Mark != "g2" || fo.Members[1].Mark != "g2" || fo.RTO <= 0 {
		t.Fatalf("group failover reached %+v", fo)
	}
	probes("1,2,100")
	for _, m := range members {
		mustSQL(t, m, "INSERT INTO probe VALUES (999)")
	}
}

// runStandbyDaemon runs standby as a daemon on dir with a fast interval,
// calls during with a reader of its /metrics, then stops it with SIGTERM
// and expects exit 0.
func runStandbyDaemon(t *testing.T, flags []string, dir string, during func(metrics func() string)) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	cmd := exec.Command(logshipBin, append(append([]string{}, flags...), "standby", "--target-dir", dir,
		"--interval", "500ms", "--metrics-listen", addr)...)
	cmd.Env = cleanEnv()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	metrics := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	during(metrics)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("standby daemon: %v\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("standby daemon did not stop after SIGTERM\n%s", errb.String())
	}
}

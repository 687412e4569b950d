package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

var (
	pushBinOnce sync.Once
	pushBinPath string
	pushBinErr  error
)

// pushBin is logship-push, built beside the logship under test, where it
// looks for logship.
func pushBin(t testing.TB) string {
	t.Helper()
	pushBinOnce.Do(func() {
		pushBinPath = filepath.Join(filepath.Dir(logshipBin), "logship-push")
		out, err := exec.Command("go", "build", "-o", pushBinPath, "../logship-push").CombinedOutput()
		if err != nil {
			pushBinErr = fmt.Errorf("build logship-push: %v\n%s", err, out)
		}
	})
	if pushBinErr != nil {
		t.Fatal(pushBinErr)
	}
	return pushBinPath
}

// residentCluster starts a cluster whose archive_command is logship-push
// into the store of flags, backed up once so that it can be restored.
func residentCluster(t *testing.T, v pgtest.Version, flags []string) (*pgtest.Cluster, []string) {
	t.Helper()
	pgtest.Require(t)
	archive := fmt.Sprintf("archive_command = '%s %s %%p'", pushBin(t), strings.Join(flags, " "))
	c := pgtest.Start(t, pgtest.Options{BinDir: v.BinDir, Conf: []string{"archive_mode = on", archive, "wal_keep_size = '2GB'"}})
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	return c, pgFlags
}

func residentDir(c *pgtest.Cluster) string {
	return filepath.Join(c.DataDir, "pg_wal", "logship-resident")
}

// residentPID is the pid in the resident's lock file, 0 if none is alive.
func residentPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "lock"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// checkArchivedDurable checks invariant 1 from PostgreSQL's side: every
// file its archiver counts as archived (.done) is recorded, every stored
// WAL object is recorded, and the catalog has as many files as the
// archiver archived (each once).
func checkArchivedDurable(t *testing.T, c *pgtest.Cluster, storeDir, source string, flags []string) {
	t.Helper()
	var l listing
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json", "--wal")...)), &l); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, w := range l.WAL {
		recorded[w.Name] = true
	}
	status, _ := os.ReadDir(filepath.Join(c.DataDir, "pg_wal", "archive_status"))
	done := 0
	for _, e := range status {
		if n, ok := strings.CutSuffix(e.Name(), ".done"); ok {
			done++
			if !recorded[n] {
				t.Errorf("PostgreSQL archived %s (.done) but the catalog has no record of it", n)
			}
		}
	}
	interrupted := 0
	for _, f := range storeFiles(t, storeDir) {
		n, ok := strings.CutPrefix(f, source+"/wal/")
		switch {
		case !ok:
		case strings.HasPrefix(n, ".tmp."):
			interrupted++ // a write killed before its rename: never an object
		case !recorded[n]:
			t.Errorf("object %s stored without a record", n)
		}
	}
	if interrupted > 0 {
		t.Logf("%d writes were interrupted by a kill", interrupted)
	}
	archived, _ := strconv.Atoi(c.QueryString(t, "SELECT archived_count FROM pg_stat_archiver"))
	if done < 5 || len(l.WAL) != archived {
		t.Errorf("catalog lists %d files, PostgreSQL archived %d (%d .done files)", len(l.WAL), archived, done)
	}
}

// restoreExact marks the cluster's state, and restores the mark on a new
// server: the data must be exactly the state marked.
func restoreExact(t *testing.T, c *pgtest.Cluster, flags, pgFlags []string) {
	t.Helper()
	c.Exec(t, "INSERT INTO probe VALUES (1000)")
	want := stateOf(t, c.QueryString)
	mustLogship(t, nil, append(pgFlags, "mark", "end")...)
	waitArchived(t, c, switchWAL(t, c))
	r, _ := restoreAndStart(t, flags, "--mark", "end", "--no-archive")
	if got := stateOf(t, r.query); got != want {
		t.Errorf("restored data %+v, want %+v", got, want)
	}
}

// PostgreSQL archives through logship-push under pgbench: a resident is
// started on demand and serves the calls; everything the archiver counts
// as archived is stored and recorded, and a restore is exact.
func TestResidentArchive(t *testing.T) {
	v := pgtest.Versions(t)[0]
	storeDir := pgtest.TempDir(t, "logship-store-")
	flags := []string{"--store", "file://" + storeDir, "--source", "rs"}
	c, pgFlags := residentCluster(t, v, flags)
	for i := range 8 {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "100", "-c", "2")
		switchWAL(t, c)
	}
	waitArchived(t, c, switchWAL(t, c))
	if failed := c.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Errorf("pg_stat_archiver.failed_count = %s\n%s", failed, c.Log())
	}
	if residentPID(residentDir(c)) == 0 {
		t.Errorf("no resident serves %s", residentDir(c))
	}
	checkArchivedDurable(t, c, storeDir, "rs", flags)
	restoreExact(t, c, flags, pgFlags)
}

// The resident is killed with SIGKILL at random moments while PostgreSQL
// archives through it (at least 20 times): the archiver's calls start
// new residents (or push directly), nothing it counts as archived is
// missing from the store, and a restore is exact.
func TestResidentKilled(t *testing.T) {
	v := pgtest.Versions(t)[0]
	storeDir := pgtest.TempDir(t, "logship-store-")
	flags := []string{"--store", "file://" + storeDir, "--source", "rk"}
	c, pgFlags := residentCluster(t, v, flags)
	dir := residentDir(c)
	var kills atomic.Int32
	stop := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		last := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for kills.Load() < 20 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pid := residentPID(dir)
			if pid == 0 || pid == last {
				continue
			}
			// A random moment of its life: starting, idle, pushing.
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rand.IntN(150)) * time.Millisecond):
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				kills.Add(1)
			}
			last = pid
		}
	}()
	deadline := time.Now().Add(4 * time.Minute)
	for i := 0; kills.Load() < 20 && time.Now().Before(deadline); i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "40", "-c", "2")
		switchWAL(t, c)
	}
	close(stop)
	<-killerDone
	if n := kills.Load(); n < 20 {
		t.Fatalf("killed the resident %d times in 4 minutes, want 20", n)
	}
	waitArchived(t, c, switchWAL(t, c))
	t.Logf("%d kills; archiver: %s", kills.Load(), c.QueryString(t, "SELECT archived_count || ' archived, ' || failed_count || ' failed' FROM pg_stat_archiver"))
	checkArchivedDurable(t, c, storeDir, "rk", flags)
	restoreExact(t, c, flags, pgFlags)
}

// Two primaries archive at the same time into one store, each with its
// own resident, each file into its own source.
func TestResidentTwoPrimaries(t *testing.T) {
	v := pgtest.Versions(t)[0]
	storeDir := pgtest.TempDir(t, "logship-store-")
	var cs []*pgtest.Cluster
	var fl [][]string
	for _, src := range []string{"pa", "pb"} {
		flags := []string{"--store", "file://" + storeDir, "--source", src}
		c, _ := residentCluster(t, v, flags)
		cs, fl = append(cs, c), append(fl, flags)
	}
	// Turn about: each archiver and resident works while the other
	// cluster is loaded.
	for range 5 {
		for _, c := range cs {
			c.Pgbench(t, "-n", "-t", "100", "-c", "2")
			switchWAL(t, c)
		}
	}
	for i, c := range cs {
		waitArchived(t, c, switchWAL(t, c))
		if residentPID(residentDir(c)) == 0 {
			t.Errorf("no resident serves %s", residentDir(c))
		}
		src := fl[i][3]
		checkArchivedDurable(t, c, storeDir, src, fl[i])
		var l listing
		json.Unmarshal([]byte(mustLogship(t, nil, append(fl[i], "catalog", "list", "--json")...)), &l)
		if sysid := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()"); l.Source.SystemID != sysid {
			t.Errorf("source %s records system %s, its cluster is %s", src, l.Source.SystemID, sysid)
		}
	}
}

// syntheticWALDir is a pg_wal with n synthetic segments marked ready.
func syntheticWALDir(t *testing.T, n int) (string, []string) {
	t.Helper()
	pgwal := filepath.Join(t.TempDir(), "pg_wal")
	os.MkdirAll(filepath.Join(pgwal, "archive_status"), 0o755)
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("0000000100000000000000%02X", i)
		syntheticSegment(t, pgwal, name, 42, byte(i))
		os.WriteFile(filepath.Join(pgwal, "archive_status", name+".ready"), nil, 0o644)
		names = append(names, name)
	}
	return pgwal, names
}

// runPush runs logship-push like the archiver, with no LOGSHIP_* settings.
func runPush(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(pushBin(t), args...)
	cmd.Env = cleanEnv()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// startForeground runs `logship FLAGS resident --wal-dir DIR EXTRA...` as
// systemd would, and waits until it listens.
func startForeground(t *testing.T, flags []string, pgwal string, extra ...string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(logshipBin, append(append(append([]string{}, flags...), "resident", "--wal-dir", pgwal), extra...)...)
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	pgtest.WaitFor(t, 30*time.Second, "the resident listens", func() bool {
		_, err := os.Stat(filepath.Join(pgwal, "logship-resident", "sock"))
		return err == nil
	})
	return cmd, exited
}

// A resident of an older binary answers stale and leaves once its pushes
// are done; the client starts a resident of its own binary, which serves.
func TestResidentStaleReplaced(t *testing.T) {
	_, flags := newStoreDir(t)
	pgwal, names := syntheticWALDir(t, 3)
	old, exited := startForeground(t, flags, pgwal, "--build-id", "an-old-build")
	if r := runPush(t, append(flags, filepath.Join(pgwal, names[0]))...); r.code != 0 {
		t.Fatalf("logship-push: exit %d: %s", r.code, r.stderr)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the stale resident did not leave")
	}
	pgtest.WaitFor(t, 30*time.Second, "a new resident", func() bool {
		pid := residentPID(filepath.Join(pgwal, "logship-resident"))
		return pid != 0 && pid != old.Process.Pid
	})
	for _, n := range names[1:] {
		if r := runPush(t, append(flags, filepath.Join(pgwal, n))...); r.code != 0 {
			t.Fatalf("logship-push %s: exit %d: %s", n, r.code, r.stderr)
		}
	}
	for _, n := range names {
		dest := filepath.Join(t.TempDir(), n)
		mustLogship(t, nil, append(flags, "wal-fetch", n, dest)...)
		if !sameFile(t, filepath.Join(pgwal, n), dest) {
			t.Fatalf("%s does not round-trip", n)
		}
	}
}

// When no resident can serve, logship-push pushes by itself: a resident
// folder that cannot be made, a resident of other settings (which stays),
// and bad input gets wal-push's own exit code.
func TestResidentFallback(t *testing.T) {
	_, flags := newStoreDir(t)
	pgwal, names := syntheticWALDir(t, 3)
	os.WriteFile(filepath.Join(pgwal, "logship-resident"), []byte("in the way"), 0o600)
	if r := runPush(t, append(flags, filepath.Join(pgwal, names[0]))...); r.code != 0 {
		t.Fatalf("logship-push with no place for a resident: exit %d: %s", r.code, r.stderr)
	}
	mustLogship(t, nil, append(flags, "wal-fetch", names[0], filepath.Join(t.TempDir(), "x"))...)
	os.Remove(filepath.Join(pgwal, "logship-resident"))

	other := append(append([]string{}, flags...), "--compression-level", "3")
	_, exited := startForeground(t, other, pgwal)
	if r := runPush(t, append(flags, filepath.Join(pgwal, names[1]))...); r.code != 0 {
		t.Fatalf("logship-push beside a resident of other settings: exit %d: %s", r.code, r.stderr)
	}
	mustLogship(t, nil, append(flags, "wal-fetch", names[1], filepath.Join(t.TempDir(), "x"))...)
	select {
	case err := <-exited:
		t.Fatalf("a resident started by hand left for a client of other settings: %v", err)
	default:
	}

	os.WriteFile(filepath.Join(pgwal, "notwal"), []byte("x"), 0o600)
	if r := runPush(t, append(other, filepath.Join(pgwal, "notwal"))...); r.code != 2 || !strings.Contains(r.stderr, "notwal") {
		t.Fatalf("logship-push of a file that is not WAL: exit %d (%s), want 2", r.code, r.stderr)
	}
	if r := runPush(t); r.code != 2 {
		t.Fatalf("logship-push without arguments: exit %d (%s), want 2", r.code, r.stderr)
	}
}

// residentsOf lists the live resident processes serving pgwal.
func residentsOf(pgwal string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "\x00resident\x00") || !strings.Contains(string(b), "\x00"+pgwal+"\x00") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}

// Clients racing to start a resident end with one resident, and each
// gets its file pushed.
func TestResidentRacingStarts(t *testing.T) {
	_, flags := newStoreDir(t)
	pgwal, names := syntheticWALDir(t, 6)
	codes := make(chan result, len(names))
	for _, n := range names {
		go func() { codes <- runPush(t, append(flags, filepath.Join(pgwal, n))...) }()
	}
	for range names {
		if r := <-codes; r.code != 0 {
			t.Fatalf("logship-push: exit %d: %s", r.code, r.stderr)
		}
	}
	pgtest.WaitFor(t, 30*time.Second, "one resident", func() bool { return len(residentsOf(pgwal)) == 1 })
	for _, n := range names {
		mustLogship(t, nil, append(flags, "wal-fetch", n, filepath.Join(t.TempDir(), n))...)
	}
}

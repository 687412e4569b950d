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
	for _, f := range storeFiles(t, storeDir) {
		if n, ok := strings.CutPrefix(f, source+"/wal/"); ok && !recorded[n] {
			t.Errorf("object %s stored without a record", n)
		}
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

package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// heldBackup is a logship backup paused once its parts and manifest are
// stored (LOGSHIP_TEST_HOLD_BACKUP), before it waits for its WAL and
// records itself.
type heldBackup struct {
	cmd        *exec.Cmd
	marker, id string
	stderr     bytes.Buffer
}

func startHeldBackup(t *testing.T, storeDir, source string, pgFlags []string) *heldBackup {
	t.Helper()
	h := &heldBackup{marker: filepath.Join(t.TempDir(), "held")}
	before := backupDirs(t, storeDir, source)
	h.cmd = exec.Command(logshipBin, append(pgFlags, "backup", "--fast")...)
	h.cmd.Env = append(cleanEnv(), "LOGSHIP_TEST_HOLD_BACKUP="+h.marker)
	h.cmd.Stderr = &h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	pgtest.WaitFor(t, 2*time.Minute, "the backup to store its parts and pause", func() bool {
		_, err := os.Stat(h.marker)
		return err == nil
	})
	for _, id := range backupDirs(t, storeDir, source) {
		if !strings.Contains(" "+strings.Join(before, " ")+" ", " "+id+" ") {
			h.id = id
		}
	}
	if h.id == "" {
		t.Fatal("the paused backup wrote no backups/<id>/ folder")
	}
	return h
}

// finish lets the backup go on and returns its exit code.
func (h *heldBackup) finish(t *testing.T) int {
	t.Helper()
	if err := os.Remove(h.marker); err != nil {
		t.Fatal(err)
	}
	err := h.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func backupDirs(t *testing.T, storeDir, source string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(storeDir, source, "backups"))
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

func dirFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// F5: purge with a short --orphan-grace deleted the parts of a backup still
// running; the backup then recorded itself, exited 0, and verify called it
// broken. On PostgreSQL 15, end to end: a running backup holds a lease
// that purge respects, whatever the grace; a backup whose parts vanish
// anyway (removed by hand here) refuses to record itself and exits
// non-zero; negative durations are refused with exit 2; no lease is left.
func TestF5_PurgeDuringBackup(t *testing.T) {
	t.Parallel()
	const source = "f5"
	c, storeDir, flags := archivingCluster(t, defaultPG, source)
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)

	for _, grace := range []string{"-1s", "-24h"} {
		r := logship(t, nil, append(flags, "purge", "--keep-backups", "1", "--orphan-grace", grace)...)
		if r.code != 2 || !strings.Contains(r.stderr, "orphan-grace") {
			t.Errorf("purge --orphan-grace %s: exit %d, want 2 naming orphan-grace; %s", grace, r.code, r.stderr)
		}
	}

	h := startHeldBackup(t, storeDir, source, pgFlags)
	parts := dirFiles(filepath.Join(storeDir, source, "backups", h.id))
	if len(parts) == 0 {
		t.Fatal("the paused backup stored nothing")
	}
	if leases := dirFiles(filepath.Join(storeDir, source, "catalog", "leases")); len(leases) == 0 {
		t.Fatal("the running backup holds no lease")
	}
	out := mustLogship(t, nil, append(flags, "purge", "--keep-backups", "1", "--orphan-grace", "0s")...)
	if !strings.Contains(out, "backup "+h.id+" is running") {
		t.Errorf("purge does not say it spared the running backup %s:\n%s", h.id, out)
	}
	if got := dirFiles(filepath.Join(storeDir, source, "backups", h.id)); strings.Join(got, " ") != strings.Join(parts, " ") {
		t.Fatalf("purge touched the running backup: %v, was %v", got, parts)
	}
	if code := h.finish(t); code != 0 {
		t.Fatalf("the backup purge spared: exit %d\n%s", code, h.stderr.String())
	}
	verifyJSON(t, flags, 0)

	// A backup whose objects are gone when it is about to record itself
	// (here deleted by hand) says so and records nothing.
	h = startHeldBackup(t, storeDir, source, pgFlags)
	dir := filepath.Join(storeDir, source, "backups", h.id)
	if err := os.Remove(filepath.Join(dir, "part-000001")); err != nil {
		t.Fatal(err)
	}
	if code := h.finish(t); code == 0 || !strings.Contains(h.stderr.String(), "part-000001") {
		t.Fatalf("a backup missing a part: exit %d, want non-zero naming it\n%s", code, h.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(storeDir, source, "catalog", "backups", h.id+".json")); !os.IsNotExist(err) {
		t.Fatalf("the backup with a part missing is recorded (stat: %v)", err)
	}
	if leases := dirFiles(filepath.Join(storeDir, source, "catalog", "leases")); len(leases) != 0 {
		t.Fatalf("leases left behind: %v", leases)
	}
}

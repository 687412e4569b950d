package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// F2: a restore point of the same name made by hand before the logship
// mark must not stop the restore early: the mark restores to exactly its
// recorded LSN, whatever the action.
func TestF2_HandMadeRestorePointBeforeMark(t *testing.T) {
	t.Parallel()
	c, _, flags, pgFlags := backedUpSource(t, defaultPG, "f2")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	c.QueryString(t, "SELECT pg_create_restore_point('m1')::text")
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	var m markRecord
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(pgFlags, "mark", "m1", "--json")...)), &m); err != nil {
		t.Fatal(err)
	}
	c.Exec(t, "INSERT INTO probe VALUES (3)")
	waitArchived(t, c, switchWAL(t, c))

	t.Run("promote", func(t *testing.T) {
		t.Parallel()
		r, out := restoreAndStart(t, flags, "--mark", "m1", "--no-archive")
		if got := r.query(t, probesSQL); got != "1,2" {
			t.Errorf("restored probes %q, want 1,2: the restore stopped at the hand-made restore point", got)
		}
		if out.Reached.State != "promoted" || out.Reached.Timeline != 2 || !strings.Contains(out.Reached.StopLine, `before WAL location (LSN) "`+m.LSN+`"`) {
			t.Errorf("reached %+v; want promoted on timeline 2, stopping before %s", *out.Reached, m.LSN)
		}
	})
	t.Run("pause, text output", func(t *testing.T) {
		t.Parallel()
		dir := newTargetDir(t)
		t.Cleanup(func() { stopServer(t, dir) })
		port := freeTCPPort(t)
		out := mustLogship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "m1", "--action", "pause",
			"--start", "--port", strconv.Itoa(port), "--start-timeout", "50s")...)
		if !strings.Contains(out, "restored to mark m1 at LSN "+m.LSN) {
			t.Errorf("output does not name the mark and its LSN:\n%s", out)
		}
		r := restored{dir: dir, port: port}
		if got := r.query(t, probesSQL); got != "1,2" {
			t.Errorf("restored probes %q, want 1,2", got)
		}
		if got := r.query(t, "SELECT pg_last_wal_replay_lsn()::text"); got != m.LSN {
			t.Errorf("paused at %s, want exactly the mark's %s", got, m.LSN)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		t.Parallel()
		_, out := restoreAndStart(t, flags, "--mark", "m1", "--action", "shutdown")
		if out.Reached.State != "shut down" || !strings.Contains(out.Reached.StopLine, m.LSN) {
			t.Errorf("reached %+v; want shut down before %s", *out.Reached, m.LSN)
		}
	})
	t.Run("without --start", func(t *testing.T) {
		t.Parallel()
		out := mustLogship(t, nil, append(flags, "restore", "--target-dir", newTargetDir(t), "--mark", "m1")...)
		if !strings.Contains(out, "checked against the target only with --start") {
			t.Errorf("restore without --start does not say the stop goes unchecked:\n%s", out)
		}
	})
}

// F2: a restore that stops anywhere but the mark's LSN fails loudly, the
// server stopped and never promoted. A mark recorded 8 bytes short of its
// record's end makes recovery stop one record boundary past it.
func TestF2_StopAwayFromMarkFailsLoudly(t *testing.T) {
	t.Parallel()
	c, storeDir, flags, pgFlags := backedUpSource(t, defaultPG, "f2miss")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	var m markRecord
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(pgFlags, "mark", "m1", "--json")...)), &m); err != nil {
		t.Fatal(err)
	}
	lsn, err := pg.ParseLSN(m.LSN)
	if err != nil {
		t.Fatal(err)
	}
	cat := openCatalog(t, storeDir, "f2miss")
	ctx := context.Background()
	skewed := catalog.Mark{Name: "skewed", LSN: lsn - 8, Timeline: 1, Time: time.Now().UTC(), Source: "f2miss"}
	if err := cat.ReserveMark(ctx, skewed.Name); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddMark(ctx, skewed); err != nil {
		t.Fatal(err)
	}

	dir := newTargetDir(t)
	t.Cleanup(func() { stopServer(t, dir) })
	r := logship(t, nil, append(flags, "restore", "--target-dir", dir, "--mark", "skewed", "--start",
		"--port", strconv.Itoa(freeTCPPort(t)), "--start-timeout", "50s")...)
	if r.code != 1 || !strings.Contains(r.stderr, "recovery stopped away from its target") || !strings.Contains(r.stderr, skewed.LSN.String()) {
		t.Fatalf("exit %d, want 1 saying recovery stopped away from %s:\nstdout:\n%s\nstderr:\n%s", r.code, skewed.LSN, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		t.Error("the server was left running after missing its target")
	}
	// Paused, checked, never promoted: no new timeline went to the store.
	if found, _ := filepath.Glob(filepath.Join(storeDir, "f2miss", "*", "00000002*")); len(found) > 0 {
		t.Errorf("a timeline 2 was shipped into the store: %v", found)
	}
}

// killMark runs mark NAME, stops it at the hold point at (see
// shipper/mark_hold.go) and kills it with SIGKILL there.
func killMark(t *testing.T, pgFlags []string, name, at string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "holding")
	cmd := exec.Command(logshipBin, append(append([]string{}, pgFlags...), "mark", name)...)
	cmd.Env = append(cleanEnv(), "LOGSHIP_TEST_HOLD_IN_MARK="+marker, "LOGSHIP_TEST_HOLD_IN_MARK_AT="+at)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, 30*time.Second, "mark to reach "+at, func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// F10: a mark killed between reserving its name and recording it does not
// burn the name: the rerun takes the reservation over and says so, and the
// mark it makes restores exactly, also when the killed run had already made
// a restore point of that name.
func TestF10_KilledMarkRerun(t *testing.T) {
	t.Parallel()
	c, _, flags, pgFlags := backedUpSource(t, defaultPG, "f10")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	killMark(t, pgFlags, "reserved", "reserved")
	killMark(t, pgFlags, "made", "made")
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	for _, name := range []string{"reserved", "made"} {
		r := logship(t, nil, append(pgFlags, "mark", name)...)
		if r.code != 0 || !strings.Contains(r.stderr, "took over an interrupted reservation of "+name) {
			t.Errorf("rerun of mark %s: exit %d, want 0 saying it took over the reservation:\n%s%s", name, r.code, r.stdout, r.stderr)
		}
		if r := logship(t, nil, append(pgFlags, "mark", name)...); r.code != 2 || !strings.Contains(r.stderr, "already has a mark") {
			t.Errorf("third mark %s: exit %d, want 2, already has a mark:\n%s", name, r.code, r.stderr)
		}
	}
	c.Exec(t, "INSERT INTO probe VALUES (3)")
	waitArchived(t, c, switchWAL(t, c))
	// The killed run made a restore point "made" before probe 2; the
	// recorded mark is after it.
	r, _ := restoreAndStart(t, flags, "--mark", "made", "--no-archive")
	if got := r.query(t, probesSQL); got != "1,2" {
		t.Errorf("restore to the rerun mark: probes %q, want 1,2", got)
	}
}

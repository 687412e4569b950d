package main_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/drill"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/restore"
	"github.com/logship/logship/schedule"
)

// drillReport is what drill --format json prints.
type drillReport struct {
	SchemaVersion int     `json:"schema_version"`
	OK            bool    `json:"ok"`
	Mark          string  `json:"mark"`
	RTOSeconds    float64 `json:"rto_seconds"`
	Cleaned       bool    `json:"cleaned"`
	Checks        []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Skipped bool   `json:"skipped"`
		Message string `json:"message"`
	} `json:"checks"`
}

func (r drillReport) failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c.Name+": "+c.Message)
		}
	}
	return out
}

// noDrillLeft fails unless scratch is empty and no process names a path
// under it.
func noDrillLeft(t *testing.T, scratch string) {
	t.Helper()
	ents, err := os.ReadDir(scratch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("drill left %s behind", filepath.Join(scratch, e.Name()))
		if pids := drill.ProcessesNaming(filepath.Join(scratch, e.Name(), "data")); len(pids) > 0 {
			t.Errorf("drill left processes %v running", pids)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), scratch) {
			t.Errorf("drill left a process behind: %s: %q", p, b)
		}
	}
}

func drillJSON(t *testing.T, flags []string, scratch string, wantCode int, args ...string) drillReport {
	t.Helper()
	all := append(append([]string{}, flags...), "drill", "--format", "json", "--scratch-dir", scratch, "--start-timeout", "50s")
	res := logship(t, nil, append(all, args...)...)
	if res.code != wantCode {
		t.Fatalf("drill %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, res.code, wantCode, res.stdout, res.stderr)
	}
	var r drillReport
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("drill --format json: %v\n%s", err, res.stdout)
	}
	if r.SchemaVersion != 1 || !r.Cleaned {
		t.Errorf("drill report: schema_version %d, cleaned %v", r.SchemaVersion, r.Cleaned)
	}
	noDrillLeft(t, scratch)
	return r
}

func TestDrill(t *testing.T) { onEachPG(t, testDrill) }

func testDrill(t *testing.T, v pgtest.Version) {
	c, storeDir, flags, pgFlags := backedUpSource(t, v, "drill")
	c.Exec(t, "INSERT INTO probe VALUES (1), (2)")
	c.Exec(t, "CREATE DATABASE shop")
	gap := switchWAL(t, c) // the segment a broken store loses, between backup and mark
	waitArchived(t, c, gap)
	c.Exec(t, "INSERT INTO probe VALUES (3)")
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	c.Exec(t, "INSERT INTO probe VALUES (4)")
	scratch := pgtest.TempDir(t, "logship-drill-scratch-")
	checks := filepath.Join(t.TempDir(), "checks.sql")
	writeChecks := func(expect string) {
		sql := "-- the rows before m1\n" + probesSQL + ";\n-- expect: " + expect + "\n-- database: shop\nSELECT current_database();\n-- expect: shop\n"
		if err := os.WriteFile(checks, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	writeChecks("1,2,3")
	r := drillJSON(t, flags, scratch, 0, "--check-sql", checks, "--amcheck")
	if !r.OK || r.Mark != "m1" || r.RTOSeconds <= 0 || len(r.failed()) > 0 {
		t.Fatalf("healthy drill: %+v", r)
	}
	names := map[string]bool{}
	for _, ch := range r.Checks {
		names[ch.Name] = true
	}
	for _, want := range []string{"connect postgres", "connect shop", "catalog shop", "amcheck postgres", "sql line 5: SELECT current_database();"} {
		if !names[want] {
			t.Errorf("healthy drill lacks check %q: %+v", want, r.Checks)
		}
	}

	t.Run("junit parses", func(t *testing.T) {
		res := logship(t, nil, append(flags, "drill", "--format", "junit", "--scratch-dir", scratch, "--mark", "m1")...)
		var s struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		}
		if err := xml.Unmarshal([]byte(res.stdout), &s); err != nil || res.code != 0 || s.Failures != 0 || s.Tests != len(s.Cases) || s.Tests < 5 {
			t.Fatalf("junit: exit %d, %v, %+v\n%s", res.code, err, s, res.stdout)
		}
		noDrillLeft(t, scratch)
	})

	t.Run("check result differs", func(t *testing.T) {
		writeChecks("1,2,3,4")
		r := drillJSON(t, flags, scratch, 1, "--check-sql", checks)
		if f := r.failed(); len(f) != 1 || !strings.Contains(f[0], `expected "1,2,3,4"`) {
			t.Fatalf("failed checks %v", f)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		os.WriteFile(checks, []byte("SELECT 1;\n"), 0o644)
		for _, args := range [][]string{{"--check-sql", checks}, {"--mark", "nope"}, {"--format", "xml"}} {
			if res := logship(t, nil, append(append(flags, "drill", "--scratch-dir", scratch), args...)...); res.code != 2 {
				t.Errorf("drill %v: exit %d, want 2\n%s", args, res.code, res.stderr)
			}
		}
		noDrillLeft(t, scratch)
	})

	t.Run("server cannot start", func(t *testing.T) {
		// Its port is taken on every address: PostgreSQL exits at once.
		port := freeTCPPort(t)
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := drillJSON(t, flags, scratch, 1, "--port", strconv.Itoa(port))
		if f := r.failed(); len(f) != 1 || !strings.HasPrefix(f[0], "start: ") {
			t.Fatalf("failed checks %v", f)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		cmd := exec.Command(logshipBin, append(append([]string{}, flags...), "drill", "--scratch-dir", scratch)...)
		cmd.Env = cleanEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the restored server runs, then stop the drill.
		c.WaitFor(t, 60*time.Second, "drill server started", func() bool {
			pids, _ := filepath.Glob(filepath.Join(scratch, "logship-drill-*", "data", "postmaster.pid"))
			return len(pids) > 0
		})
		cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Errorf("drill after SIGTERM: %v, want exit 130", err)
		}
		noDrillLeft(t, scratch)
	})

	t.Run("scheduled job", func(t *testing.T) {
		// In process: the PostgreSQL of this subtest's major, not PATH's.
		job := schedule.DrillJob(openCatalog(t, storeDir, "drill"), "@daily", drill.Options{ScratchDir: scratch, Amcheck: true, PGBin: v.BinDir,
			RestoreCommand: restore.FetchCommand(logshipBin, "--store", "file://"+storeDir, "--source", "drill")})
		if err := job.Run(context.Background(), slog.New(slog.DiscardHandler)); err != nil || job.Name != "drill" {
			t.Fatalf("drill job %s: %v", job.Name, err)
		}
		noDrillLeft(t, scratch)
	})

	// Drills promote with archiving off: no new timeline reaches the store.
	for _, f := range storeFiles(t, storeDir) {
		if strings.HasPrefix(filepath.Base(f), "00000002") {
			t.Errorf("a drill shipped %s into the store", f)
		}
	}

	t.Run("segment missing before the mark", func(t *testing.T) {
		var lost []string
		filepath.Walk(filepath.Join(storeDir, "drill", "wal"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.HasPrefix(filepath.Base(p), gap) {
				lost = append(lost, p)
			}
			return nil
		})
		if len(lost) != 1 {
			t.Fatalf("segment %s in the store: %v", gap, lost)
		}
		if err := os.Remove(lost[0]); err != nil {
			t.Fatal(err)
		}
		r := drillJSON(t, flags, scratch, 1)
		if r.OK || len(r.failed()) == 0 {
			t.Fatalf("drill with %s missing: %+v", gap, r)
		}
		t.Logf("failed as it should: %v", r.failed())
	})
}

package main_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

type checkResult struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix"`
	Warning bool   `json:"warning"`
}

func checkJSON(t *testing.T, flags []string, wantCode int) map[string]checkResult {
	t.Helper()
	r := logship(t, nil, append(append([]string{}, flags...), "check", "--json")...)
	var doc struct {
		Checks []checkResult `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("check --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != wantCode {
		t.Fatalf("check: exit %d, want %d\n%s", r.code, wantCode, r.stdout)
	}
	out := map[string]checkResult{}
	for _, c := range doc.Checks {
		out[c.Name] = c
	}
	return out
}

// check on a configured cluster: every check ok. With archive_command
// unset, that check fails with a fix and the exit code is 1.
func TestCheck(t *testing.T) { onEachPG(t, testCheck) }

func testCheck(t *testing.T, v pgtest.Version) {
	c, storeDir, flags := archivingCluster(t, v, "chk")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	waitArchived(t, c, switchWAL(t, c))

	results := checkJSON(t, pgFlags, 0)
	for _, name := range []string{"connection", "wal_level", "archive_mode", "archive_command", "archiver",
		"replication", "store writable", "system identifier"} {
		r, ok := results[name]
		if !ok || !r.OK {
			t.Errorf("check %q: %+v", name, r)
		}
	}
	if len(results) != 8 {
		t.Errorf("%d checks, want 8: %+v", len(results), results)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "chk", "check")); err == nil {
		if left := storeFiles(t, filepath.Join(storeDir, "chk", "check")); len(left) > 0 {
			t.Errorf("probe objects left behind: %v", left)
		}
	}
	text := mustLogship(t, nil, append(pgFlags, "check")...)
	if !strings.Contains(text, "ok      archive_command") || strings.Contains(text, "FAILED") {
		t.Errorf("check text:\n%s", text)
	}

	c.Exec(t, "ALTER SYSTEM SET archive_command = ''")
	c.Exec(t, "SELECT pg_reload_conf()")
	c.WaitFor(t, 30*time.Second, "archive_command reload", func() bool {
		return c.QueryString(t, "SHOW archive_command") == ""
	})
	results = checkJSON(t, pgFlags, 1)
	ac := results["archive_command"]
	if ac.OK || !strings.Contains(ac.Fix, "ALTER SYSTEM SET archive_command") || !strings.Contains(ac.Fix, "wal-push %p") {
		t.Fatalf("archive_command check: %+v", ac)
	}
	for name, r := range results {
		if name != "archive_command" && !r.OK {
			t.Errorf("check %q failed too: %+v", name, r)
		}
	}
	r := logship(t, nil, append(pgFlags, "check")...)
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED  archive_command") || !strings.Contains(r.stdout, "fix: ALTER SYSTEM") {
		t.Fatalf("check text: exit %d\n%s", r.code, r.stdout)
	}

	// Another cluster's source, and an unreachable source.
	other := checkJSON(t, []string{"--store", "file://" + storeDir, "--source", "chk", "--pg", "host=/nonexistent port=1 connect_timeout=2"}, 1)
	if other["connection"].OK || other["store writable"].OK != true {
		t.Errorf("unreachable source: %+v", other)
	}
}

type statusOut struct {
	RPOSeconds    *float64 `json:"rpo_seconds"`
	StoreOK       bool     `json:"store_reachable"`
	Time          time.Time
	NewestSegment *struct {
		Name       string    `json:"name"`
		ShippedAt  time.Time `json:"shipped_at"`
		AgeSeconds float64   `json:"age_seconds"`
	} `json:"newest_segment"`
	NewestBackup *struct {
		ID string `json:"id"`
	} `json:"newest_backup"`
	NewestMark *struct {
		Name string `json:"name"`
	} `json:"newest_mark"`
	Segments int `json:"segments"`
	Archiver *struct {
		ArchivedCount   int64  `json:"archived_count"`
		LastArchivedWAL string `json:"last_archived_wal"`
		Failing         bool   `json:"failing"`
	} `json:"archiver"`
	ArchiverError string `json:"archiver_error"`
}

// status --json parses, and its RPO is the age of the newest segment.
func TestStatus(t *testing.T) { onEachPG(t, testStatus) }

func testStatus(t *testing.T, v pgtest.Version) {
	c, storeDir, flags := archivingCluster(t, v, "st")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	last := switchWAL(t, c)
	waitArchived(t, c, last)

	before := time.Now()
	out := mustLogship(t, nil, append(pgFlags, "status", "--json")...)
	after := time.Now()
	var st statusOut
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !st.StoreOK || st.NewestSegment == nil || st.RPOSeconds == nil || st.NewestBackup == nil || st.NewestMark == nil || st.Archiver == nil {
		t.Fatalf("status: %s", out)
	}
	if st.NewestSegment.Name != last || st.Archiver.LastArchivedWAL != last || st.NewestMark.Name != "m1" || st.Archiver.Failing {
		t.Fatalf("status: newest segment %s, archiver's last %s, want %s; mark %s", st.NewestSegment.Name,
			st.Archiver.LastArchivedWAL, last, st.NewestMark.Name)
	}
	// The RPO is the age of the newest segment's object in the store.
	fi, err := os.Stat(filepath.Join(storeDir, "st", "wal", last))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := before.Sub(fi.ModTime()).Seconds(), after.Sub(fi.ModTime()).Seconds()
	if *st.RPOSeconds != st.NewestSegment.AgeSeconds || *st.RPOSeconds < lo-0.01 || *st.RPOSeconds > hi+0.01 ||
		math.Abs(st.NewestSegment.ShippedAt.Sub(fi.ModTime()).Seconds()) > 0.001 {
		t.Fatalf("RPO %v s, segment age %v s; the object is %.3f to %.3f s old", *st.RPOSeconds, st.NewestSegment.AgeSeconds, lo, hi)
	}

	// Without --pg there is no archiver section; text output names the RPO.
	var noPG statusOut
	json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "status", "--json")...)), &noPG)
	if noPG.Archiver != nil || noPG.ArchiverError != "" || noPG.RPOSeconds == nil {
		t.Errorf("status without --pg: %+v", noPG)
	}
	text := mustLogship(t, nil, append(pgFlags, "status")...)
	for _, want := range []string{"RPO", last, "m1", "archiver"} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
	// An unreachable source is reported, not fatal.
	var down statusOut
	json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "--pg", "host=/nonexistent port=1 connect_timeout=2", "status", "--json")...)), &down)
	if down.ArchiverError == "" || !down.StoreOK {
		t.Errorf("status with the source down: %+v", down)
	}
}

package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A mistyped --source is an error naming the sources the store has, for
// every reading command, and none of them writes anything; logship
// sources lists them.
func TestUnknownSourceIsAnError(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	before := snapshot(t, dir)
	typo := []string{"--store", "file://" + dir, "--source", "tt"}
	for _, args := range [][]string{{"status"}, {"catalog", "list"}, {"catalog", "show", seg1}} {
		r := logship(t, nil, append(append([]string{}, typo...), args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, `unknown source "tt"`) || !strings.Contains(r.stderr, "has t (see logship sources)") {
			t.Errorf("%s with an unknown source: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	// check probes the store (and finds no PostgreSQL): no folder for "tt".
	logship(t, nil, append(append([]string{}, typo...), "--pg", "host=/nonexistent port=1", "check")...)
	if !maps(before, snapshot(t, dir)) {
		t.Errorf("reading commands changed the store: %v", storeFiles(t, dir))
	}

	text := mustLogship(t, nil, append(typo, "sources")...)
	if !strings.Contains(text, "t  ") || !strings.Contains(text, "42") {
		t.Errorf("sources:\n%s", text)
	}
	var got struct {
		SchemaVersion int `json:"schema_version"`
		Sources       []struct {
			Name     string `json:"name"`
			SystemID string `json:"system_id"`
		} `json:"sources"`
	}
	out := mustLogship(t, nil, append(typo, "sources", "--json")...)
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.SchemaVersion != 1 || len(got.Sources) != 1 ||
		got.Sources[0].Name != "t" || got.Sources[0].SystemID != "42" {
		t.Errorf("sources --json: %v\n%s", err, out)
	}
	empty := t.TempDir()
	if out := mustLogship(t, nil, "--store", "file://"+empty, "sources"); !strings.Contains(out, "no sources") {
		t.Errorf("sources of an empty store: %s", out)
	}
	r := logship(t, nil, "--store", "file://"+empty, "status")
	if r.code != 2 || !strings.Contains(r.stderr, "has no sources yet") {
		t.Errorf("status on an empty store: exit %d\n%s", r.code, r.stderr)
	}
}

// status exits 1 when the RPO is over --max-rpo.
func TestStatusMaxRPO(t *testing.T) {
	t.Parallel()
	_, flags := newStoreDir(t)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	mustLogship(t, nil, append(flags, "status", "--max-rpo", "1h")...)
	r := logship(t, nil, append(flags, "status", "--max-rpo", "1ns")...)
	if r.code != 1 || !strings.Contains(r.stderr, "over --max-rpo 1ns") {
		t.Errorf("status over --max-rpo: exit %d\n%s", r.code, r.stderr)
	}
	r = logship(t, nil, append(flags, "status", "--json", "--max-rpo", "1ns")...)
	var st struct {
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 1 || len(st.Problems) != 1 {
		t.Errorf("status --json over --max-rpo: exit %d, %v\n%s", r.code, err, r.stdout)
	}
}

// status exits 1 while the archiver is failing, and 0 again once it
// archives.
func TestStatusArchiverFailing(t *testing.T) {
	t.Parallel()
	c, _, flags := archivingCluster(t, defaultPG, "stfail")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "status")...)

	good := c.QueryString(t, "SHOW archive_command")
	setArchiveCommand(t, c, "false")
	switchWAL(t, c)
	c.WaitFor(t, 60*time.Second, "an archive failure", func() bool {
		return c.QueryString(t, "SELECT failed_count FROM pg_stat_archiver") != "0"
	})
	r := logship(t, nil, append(pgFlags, "status")...)
	if r.code != 1 || !strings.Contains(r.stderr, "archiving is failing") || !strings.Contains(r.stdout, "FAILING") {
		t.Errorf("status while archiving fails: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	setArchiveCommand(t, c, good)
	switchWAL(t, c) // wakes the archiver, which otherwise waits up to a minute
	c.WaitFor(t, 90*time.Second, "archiving again", func() bool {
		return c.QueryString(t, "SELECT (last_archived_time > last_failed_time)::text FROM pg_stat_archiver") == "true"
	})
	if r := logship(t, nil, append(pgFlags, "status")...); r.code != 0 {
		t.Errorf("status after the archiver recovered: exit %d\n%s", r.code, r.stderr)
	}
}

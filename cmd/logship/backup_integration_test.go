package main_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store/file"
)

type backupRecord struct {
	ID       string `json:"id"`
	Timeline int    `json:"timeline"`
	StartWAL string `json:"start_wal"`
	EndWAL   string `json:"end_wal"`
	EndLSN   string `json:"end_lsn"`
	RawSize  int64  `json:"raw_size"`
	Parts    []struct {
		Key    string `json:"key"`
		SHA256 string `json:"sha256"`
	} `json:"parts"`
}

type markRecord struct {
	Name     string `json:"name"`
	LSN      string `json:"lsn"`
	Timeline int    `json:"timeline"`
}

// A backup is recorded only with its WAL shipped; a mark is recorded and
// shipped, and a second mark of the same name is refused.
func TestBackupAndMark(t *testing.T) { onEachPG(t, testBackupAndMark) }

func testBackupAndMark(t *testing.T, v pgtest.Version) {
	c, storeDir, flags := archivingCluster(t, v, "bk")
	pgFlags := append(flags, "--pg", c.ConnString())
	c.Pgbench(t, "-i", "-s", "2", "-q")
	switchWAL(t, c)

	var b backupRecord
	out := mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--json")...)
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, out)
	}
	if len(b.Parts) == 0 || b.RawSize < 20<<20 || b.Timeline != 1 {
		t.Fatalf("backup record looks wrong: %+v", b)
	}
	checkStoredManifest(t, c, storeDir, "bk", b.ID)

	var m markRecord
	out = mustLogship(t, nil, append(pgFlags, "mark", "m1", "--json")...)
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("mark --json: %v\n%s", err, out)
	}
	if m.Name != "m1" || m.LSN == "" || m.Timeline != 1 {
		t.Fatalf("mark record looks wrong: %+v", m)
	}
	// The mark's segment is in the store when mark returns.
	mustLogship(t, nil, append(flags, "catalog", "show", c.QueryString(t, "SELECT pg_walfile_name($1::pg_lsn)", m.LSN))...)

	r := logship(t, nil, append(pgFlags, "mark", "m1")...)
	if r.code != 2 || !strings.Contains(r.stderr, "already has a mark") {
		t.Fatalf("duplicate mark: exit %d, %q", r.code, r.stderr)
	}
	for _, bad := range []string{"latest", "has space", "a/b", strings.Repeat("x", 70)} {
		if r := logship(t, nil, append(pgFlags, "mark", bad)...); r.code != 2 {
			t.Errorf("mark %q: exit %d, want 2; %s", bad, r.code, r.stderr)
		}
	}

	var l struct {
		Backups []backupRecord `json:"backups"`
		Marks   []markRecord   `json:"marks"`
	}
	json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l)
	if len(l.Backups) != 1 || l.Backups[0].ID != b.ID || len(l.Marks) != 1 || l.Marks[0].LSN != m.LSN {
		t.Fatalf("catalog list: %+v", l)
	}

	// The store alone is enough: with every catalog object gone, rebuild
	// brings back the same backups, marks and WAL records.
	before := mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)
	if err := os.RemoveAll(filepath.Join(storeDir, "bk", "catalog")); err != nil {
		t.Fatal(err)
	}
	mustLogship(t, nil, append(flags, "catalog", "rebuild")...)
	after := mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)
	if stripCreated(before) != stripCreated(after) {
		t.Fatalf("catalog after rebuild differs:\nbefore %s\nafter  %s", before, after)
	}
	if r := logship(t, nil, append(pgFlags, "mark", "m1")...); r.code != 2 {
		t.Fatalf("after rebuild the mark name m1 is free again: exit %d", r.code)
	}
	mustLogship(t, nil, append(flags, "verify")...)
}

// stripCreated drops the source record's creation time, which a rebuild
// cannot know.
func stripCreated(listing string) string {
	var v map[string]any
	json.Unmarshal([]byte(listing), &v)
	if src, ok := v["source"].(map[string]any); ok {
		delete(src, "created")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// checkStoredManifest reads backup id's backup_manifest back from the store
// as restore does: version 1 up to PostgreSQL 16, version 2 from 17 with
// the cluster's own System-Identifier.
func checkStoredManifest(t *testing.T, c *pgtest.Cluster, storeDir, source, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := file.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, source)
	b, err := cat.FindBackup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cat.OpenManifest(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	raw, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pg.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	sysid := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()")
	want := pg.ManifestHead{Version: 1}
	if c.Major(t) >= 17 {
		id, _ := strconv.ParseUint(sysid, 10, 64)
		want = pg.ManifestHead{Version: 2, SystemID: id, HasSystemID: true}
	}
	if m.Head() != want || b.SystemID != want.SystemID && want.HasSystemID {
		t.Fatalf("stored manifest of PostgreSQL %d: %+v, want %+v (record's system %d)", c.Major(t), m.Head(), want, b.SystemID)
	}
}

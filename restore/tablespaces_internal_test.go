package restore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/catalog"
)

func TestParseTablespaceMap(t *testing.T) {
	m, err := ParseTablespaceMap([]string{"/a/=/b", "/c=/d/e/.."})
	if err != nil || m["/a"] != "/b" || m["/c"] != "/d" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range [][]string{{"a=/b"}, {"/a=b"}, {"/a"}, {"/a=/b", "/a/=/c"}} {
		if _, err := ParseTablespaceMap(bad); !errors.Is(err, ErrBadTablespaceMap) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPlanTablespaces(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	busy := filepath.Join(root, "busy")
	if err := os.MkdirAll(filepath.Join(busy, "PG_18_202506291"), 0o700); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	b := catalog.Backup{ID: "x", Tablespaces: []catalog.BackupTablespace{{OID: 16390, Location: busy}, {OID: 16391, Location: "/nonexistent/ts"}}}

	if _, err := planTablespaces(b, nil, data, ""); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("original path in use: %v", err)
	}
	got, err := planTablespaces(b, map[string]string{busy: empty}, data, "")
	if err != nil || len(got) != 2 || got[0].Dest != empty || got[1].Dest != "/nonexistent/ts" || got[0].prefix() != "pg_tblspc/16390/" {
		t.Errorf("mapped: %+v %v", got, err)
	}
	for name, m := range map[string]map[string]string{
		"unknown":     {busy: empty, "/other": "/x"},
		"twice":       {busy: "/same", "/nonexistent/ts": "/same"},
		"inside data": {busy: filepath.Join(data, "ts")},
	} {
		if _, err := planTablespaces(b, m, data, ""); !errors.Is(err, ErrBadTablespaceMap) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A directory of a running server (pid 1 is always alive).
	if err := os.WriteFile(filepath.Join(empty, "postmaster.pid"), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := planTablespaces(b, map[string]string{busy: filepath.Join(empty, "ts")}, data, ""); !errors.Is(err, ErrUnsafeTarget) {
		t.Errorf("inside a running server's directory: %v", err)
	}
	// Invariant 10: never into the store, not even through a tablespace.
	storeRoot := filepath.Join(root, "store")
	if err := os.Mkdir(storeRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := planTablespaces(b, map[string]string{busy: filepath.Join(storeRoot, "ts")}, data, storeRoot); !errors.Is(err, ErrUnsafeTarget) {
		t.Errorf("inside the store's folder: %v", err)
	}
}

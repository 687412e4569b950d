package main_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// goldenDir holds a store written by logship 2bd7851 (see its README).
const goldenDir = "../../testdata/golden-store"

// A store written by an earlier release lists and verifies unchanged: the
// same listing, verify green (deep too). The copy is read, never the
// fixture; if this fails, today's code broke compatibility with stores users
// already have. It needs no PostgreSQL.
func TestGoldenStore(t *testing.T) {
	t.Parallel()
	storeDir := t.TempDir()
	copyGoldenStore(t, storeDir)
	flags := []string{"--store", "file://" + storeDir, "--source", "golden"}

	want, err := os.ReadFile(filepath.Join(goldenDir, "list.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(mustLogship(t, nil, append(flags, "catalog", "list")...), "file://"+storeDir, "STORE")
	if got != string(want) {
		t.Errorf("catalog list:\n%s\nwant (testdata/golden-store/list.txt):\n%s", got, want)
	}

	var wantJSON, gotJSON any
	b, err := os.ReadFile(filepath.Join(goldenDir, "list.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &wantJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json", "--wal")...)), &gotJSON); err != nil {
		t.Fatal(err)
	}
	for _, d := range jsonSubset("", wantJSON, gotJSON) {
		t.Errorf("catalog list --json --wal: %s", d)
	}
	// Without --wal, the same document without the WAL records.
	var short map[string]any
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &short); err != nil {
		t.Fatal(err)
	}
	if _, ok := short["wal"]; ok {
		t.Error("catalog list --json lists the WAL records without --wal")
	}
	delete(wantJSON.(map[string]any), "wal")
	for _, d := range jsonSubset("", wantJSON, short) {
		t.Errorf("catalog list --json: %s", d)
	}

	mustLogship(t, nil, append(flags, "verify")...)
	mustLogship(t, nil, append(flags, "verify", "--deep")...)
}

// Every mark of a store written by an earlier release restores to exactly
// the rows committed before it, on the PostgreSQL major that wrote it.
func TestGoldenStoreRestores(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	// wal-fetch runs as the postgres user: the copy must be its to read.
	storeDir := pgtest.TempDir(t, "logship-golden-")
	copyGoldenStore(t, storeDir)
	if err := pgtest.ChownToPostgres(storeDir); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--store", "file://" + storeDir, "--source", "golden"}
	for _, tt := range []struct {
		name   string
		args   []string
		probes string
	}{
		{"m1", []string{"--mark", "m1"}, "1,2,3"},
		{"m2", []string{"--mark", "m2"}, "1,2,3,4,5"},
		{"latest", []string{"--mark", "latest"}, "1,2,3,4,5"},
		{"end of archive", nil, "1,2,3,4,5,6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, out := restoreAndStart(t, flags, append(tt.args, "--no-archive")...)
			if out.Reached.State != "promoted" || out.Restore.Plan.BackupID != "20261201T165604.654Z" {
				t.Errorf("reached %+v from backup %s", *out.Reached, out.Restore.Plan.BackupID)
			}
			if got := r.query(t, probesSQL); got != tt.probes {
				t.Errorf("probe rows %q, want %q", got, tt.probes)
			}
		})
	}
}

// copyGoldenStore copies the golden source into the store folder dir, so
// that nothing a test does (verify --deep records its progress) touches
// testdata.
func copyGoldenStore(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(goldenDir, "golden")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(goldenDir, p)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy golden store: %v", err)
	}
}

// jsonSubset lists where got lacks a value of want: every key of every
// object in want must be in got with an equal value (got may have more
// keys, since consumers ignore unknown fields); arrays must match element
// by element.
func jsonSubset(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, jsonSubset(path+"."+k, wv, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %d elements", path, got, len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, jsonSubset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
}

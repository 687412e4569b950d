package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// F11: wal-push stored garbage .history and .backup files create-only, for
// good, and verify then called the store broken. They are refused now
// (exit 2, naming the fault) and nothing is stored; PostgreSQL 15's own
// history files still go through.
func TestF11_WALPushRefusesGarbageHistoryFiles(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	before := storeFiles(t, dir)
	src := t.TempDir()
	for _, tt := range []struct{ name, content, want string }{
		{"00000002.history", "garbage\n", "invalid timeline history"},
		{"00000002.history", "", "names no parent timeline"},
		{"00000002.history", "2\t0/8000A0\tno recovery target specified\n", "names timeline 2 as a parent"},
		{"000000010000000000000002.00000028.backup", "garbage\n", "invalid backup history file"},
		{"000000010000000000000002.00000028.backup", "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n", "no STOP WAL LOCATION"},
	} {
		p := filepath.Join(src, tt.name)
		if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := logship(t, nil, append(flags, "wal-push", p)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, tt.name) {
			t.Errorf("wal-push of %s holding %q: exit %d, stderr %q; want exit 2 naming the file and %q", tt.name, tt.content, r.code, r.stderr, tt.want)
		}
	}
	if after := storeFiles(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("refused pushes changed the store: %v, was %v", after, before)
	}
	for _, name := range []string{"00000002.history", "00000003.history"} {
		mustLogship(t, nil, append(flags, "wal-push", filepath.Join("..", "..", "testdata", "pg", "15", name))...)
	}
}

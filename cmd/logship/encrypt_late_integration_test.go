package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// TestEncryptionTurnedOnLater: a source claimed by clear pushes, then an
// encrypted push (which writes the create-only catalog/encrypted marker):
// from then on a clear wal-push or backup is refused (exit 2, nothing
// stored) unless --allow-plaintext, as if the first push had been
// encrypted.
func TestEncryptionTurnedOnLater(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	_, rcp, _ := newIdentity(t)
	c := pgtest.Start(t, pgtest.Options{BinDir: defaultPG.BinDir, Conf: []string{"wal_keep_size = '2GB'"}})
	var segs []string
	for i := 0; i < 4; i++ {
		segs = append(segs, switchWAL(t, c))
	}
	storeDir := pgtest.TempDir(t, "logship-store-")
	base := []string{"--store", "file://" + storeDir, "--source", "late"}
	push := func(seg string, extra ...string) result {
		args := append(append(append([]string{}, base...), extra...), "wal-push", filepath.Join(c.DataDir, "pg_wal", seg))
		return logship(t, nil, args...)
	}
	mustOK := func(r result, what string) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
		}
	}
	mustOK(push(segs[0]), "clear push")
	mustOK(push(segs[1]), "second clear push")
	marker := filepath.Join(storeDir, "late", "catalog", "encrypted")
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("clear pushes wrote %s (%v)", marker, err)
	}
	mustOK(push(segs[2], "--encrypt-to", rcp), "encrypted push")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the encrypted push left no marker: %v", err)
	}

	before := storeFiles(t, storeDir)
	for _, args := range [][]string{
		append(append([]string{}, base...), "wal-push", filepath.Join(c.DataDir, "pg_wal", segs[3])),
		append(append([]string{}, base...), "--pg", c.ConnString(), "backup", "--fast"),
	} {
		r := logship(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--allow-plaintext") {
			t.Errorf("%v without recipients after an encrypted push: exit %d, want 2 naming --allow-plaintext\n%s", args, r.code, r.stderr)
		}
	}
	if after := storeFiles(t, storeDir); len(after) != len(before) {
		t.Errorf("refused commands changed the store: %d files, then %d", len(before), len(after))
	}
	mustOK(push(segs[3], "--allow-plaintext"), "clear push with --allow-plaintext")
}

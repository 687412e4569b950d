package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logship/logship/crypt"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/object"
)

// Rotation: objects sealed for A, then A and B, then B only. With both
// identities every mark restores data-exact; verify --deep with A alone
// names exactly the objects that only B opens, and exits 1.
func TestEncryptionRotation(t *testing.T) { onEachPG(t, testEncryptionRotation) }

func testEncryptionRotation(t *testing.T, v pgtest.Version) {
	idA, rcpA, _ := newIdentity(t)
	idB, rcpB, _ := newIdentity(t)
	both := filepath.Join(pgtest.TempDir(t, "logship-key-"), "both.txt")
	a, _ := os.ReadFile(idA)
	b, _ := os.ReadFile(idB)
	if err := os.WriteFile(both, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pgtest.ChownToPostgres(both); err != nil {
		t.Fatal(err)
	}
	storeDir := pgtest.TempDir(t, "logship-store-")
	base := []string{"--store", "file://" + storeDir, "--source", "rot"}
	phases := [][]string{{"--encrypt-to", rcpA}, {"--encrypt-to", rcpA, "--encrypt-to", rcpB}, {"--encrypt-to", rcpB}}
	c := archivingClusterOn(t, v, append(append([]string{}, base...), phases[0]...), nil)
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	want := map[string]dataState{}
	for i, ph := range phases {
		ship := append(append([]string{}, base...), ph...)
		if i > 0 {
			c.Exec(t, fmt.Sprintf("ALTER SYSTEM SET archive_command = '%s %s wal-push %%p'", logshipBin, strings.Join(ship, " ")))
			c.Exec(t, "SELECT pg_reload_conf()")
		}
		// The segment closed here is pushed with this phase's recipients
		// (a reload applies before the archiver's next file).
		waitArchived(t, c, switchWAL(t, c))
		mustLogship(t, nil, append(ship, "--pg", c.ConnString(), "backup", "--fast")...)
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i+1)
		c.Pgbench(t, "-n", "-t", "100", "-c", "2")
		name := fmt.Sprintf("m%d", i+1)
		want[name] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(ship, "--pg", c.ConnString(), "mark", name)...)
		waitArchived(t, c, switchWAL(t, c))
	}

	// What only B opens, from the stored headers.
	fpB := crypt.Fingerprint(rcpB)
	var onlyB []string
	for _, rel := range storeFiles(t, storeDir) {
		if !strings.HasPrefix(rel, "rot/wal/") && filepath.Base(rel) != "backup_manifest" {
			continue
		}
		f, err := os.Open(filepath.Join(storeDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		h, err := object.ReadHeader(f)
		f.Close()
		if err != nil || !h.Encrypted() {
			t.Fatalf("%s: %v, encrypted %v", rel, err, h.Encrypted())
		}
		if slices.Equal(h.Recipients(), []string{fpB}) {
			onlyB = append(onlyB, rel)
		}
	}
	if len(onlyB) < 2 {
		t.Fatalf("objects only B opens: %v; want WAL and a backup", onlyB)
	}

	rep := verifyJSON(t, append(append([]string{}, base...), "--identity-file", idA), 1, "--deep")
	var named []string
	for _, p := range rep.Problems {
		if p.Code == "no-identity" {
			named = append(named, p.Object)
		} else if p.Severity == "error" {
			t.Errorf("verify with A: unexpected problem %s %s: %s", p.Code, p.Object, p.Message)
		}
	}
	slices.Sort(named)
	slices.Sort(onlyB)
	if !slices.Equal(named, onlyB) {
		t.Errorf("verify with A names %v, want exactly the objects only B opens: %v", named, onlyB)
	}
	verifyJSON(t, append(append([]string{}, base...), "--identity-file", both), 0, "--deep")
	list := mustLogship(t, nil, append(base, "catalog", "list")...)
	if !strings.Contains(list, crypt.Fingerprint(rcpA)+", "+fpB) || !strings.Contains(list, "recipients "+fpB+"\n") {
		t.Errorf("catalog list does not show the backups' recipients:\n%s", list)
	}

	read := append(append([]string{}, base...), "--identity-file", both)
	for _, name := range []string{"m1", "m2", "m3"} {
		r, _ := restoreAndStart(t, read, "--mark", name, "--no-archive")
		if got := stateOf(t, r.query); got != want[name] {
			t.Errorf("restore to %s: data %+v, want %+v", name, got, want[name])
		}
	}
}

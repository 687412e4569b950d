package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logshipReadOnly runs logship in a mount namespace of its own where
// storeDir is a read-only bind mount: what a DR site's read-only copy of the
// store looks like. Mode bits would not do: root writes through them.
func logshipReadOnly(t *testing.T, storeDir string, args ...string) result {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("no mount namespace here: %v", err)
	}
	sh := append([]string{"-m", "sh", "-c", `mount --bind -o ro "$0" "$0" && exec "$@"`, storeDir, logshipBin}, args...)
	cmd := exec.Command("unshare", sh...)
	cmd.Env = cleanEnv()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run logship %v: %v", args, err)
	}
	return r
}

// F6: every reading command works on a read-only store (wal-fetch, restore,
// catalog list, verify --deep --no-record); a writing one says the store is
// not writable, and nothing in the store changes.
func TestF6_ReadOnlyStoreServesReadingCommands(t *testing.T) {
	t.Parallel()
	c, storeDir, flags, pgFlags := backedUpSource(t, defaultPG, "readonly")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	seg := switchWAL(t, c)
	waitArchived(t, c, seg)
	before := snapshot(t, storeDir)

	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	target := filepath.Join(t.TempDir(), "data")
	reading := [][]string{
		{"wal-fetch", seg, dest},
		{"catalog", "list"},
		{"verify", "--deep", "--no-record"},
		{"restore", "--target-dir", target, "--mark", "m1"},
	}
	for _, args := range reading {
		r := logshipReadOnly(t, storeDir, append(append([]string{}, flags...), args...)...)
		if r.code != 0 {
			t.Errorf("%s on a read-only store: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "PG_VERSION")); err != nil {
		t.Errorf("restore wrote no data directory: %v", err)
	}
	sysID, err := strconv.ParseUint(c.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	seg2 := syntheticSegment(t, t.TempDir(), "0000000100000000000000F0", sysID, 0)
	r := logshipReadOnly(t, storeDir, append(append([]string{}, flags...), "wal-push", seg2)...)
	if r.code != 2 || !strings.Contains(r.stderr, "not writable") {
		t.Errorf("wal-push to a read-only store: exit %d, want 2 saying not writable:\n%s", r.code, r.stderr)
	}
	if !maps(before, snapshot(t, storeDir)) {
		t.Error("the read-only store changed")
	}
}

package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/restore"
	"github.com/logship/logship/store/file"
)

// missingFrom lists the files of before that are gone from after.
func missingFrom(before, after []string) []string {
	var gone []string
	for _, f := range before {
		if !slices.Contains(after, f) {
			gone = append(gone, f)
		}
	}
	return gone
}

// F1: restore --force with a --target-dir that is the file store, holds
// it, lies inside it (directly or through a symlink), or is the running
// source's data directory is refused with exit 2 and deletes nothing: the
// store still restores.
func TestF1_ForceNeverDeletesTheStore(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	holder := pgtest.TempDir(t, "logship-f1-")
	storeDir := filepath.Join(holder, "store")
	if err := os.Mkdir(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pgtest.ChownToPostgres(storeDir); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--store", "file://" + storeDir, "--source", "f1"}
	c := archivingClusterOn(t, defaultPG, flags, nil)
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(append([]string{}, flags...), "--pg", c.ConnString(), "backup", "--fast")...)
	link := filepath.Join(pgtest.TempDir(t, "logship-f1-link-"), "link")
	if err := os.Symlink(storeDir, link); err != nil {
		t.Fatal(err)
	}
	before := storeFiles(t, storeDir)
	targets := []struct{ dir, says string }{
		{storeDir, "is the store's folder"},
		{link, "is the store's folder"},
		{holder, "holds the store's folder"},
		{filepath.Join(storeDir, "f1"), "inside the store's folder"},
		{filepath.Join(link, "f1", "new"), "inside the store's folder"},
		{c.DataDir, "running"},
		{filepath.Join(c.DataDir, "base"), "lies inside " + c.DataDir},
	}
	for _, tt := range targets {
		r := logship(t, nil, append(append([]string{}, flags...), "restore", "--target-dir", tt.dir, "--force")...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.says) {
			t.Errorf("--target-dir %s --force: exit %d, want 2 saying %q:\n%s", tt.dir, r.code, tt.says, r.stderr)
		}
	}
	if gone := missingFrom(before, storeFiles(t, storeDir)); len(gone) > 0 {
		t.Fatalf("refused restores deleted from the store: %v", gone)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
		t.Fatalf("source data directory damaged: %v", err)
	}
	c.QueryString(t, "SELECT count(*) FROM probe")
	r, _ := restoreAndStart(t, flags, "--immediate")
	if got := r.query(t, "SELECT count(*) FROM probe"); got != "0" {
		t.Errorf("restored probe rows %q", got)
	}
	if _, err := os.Stat(filepath.Join(r.dir, restore.MarkerName)); err != nil {
		t.Errorf("restore marker: %v", err)
	}
	// A base backup of the restored, promoted server leaves the marker out,
	// so that restoring that backup does not trip on it.
	out := pgtest.TempDir(t, "logship-f1-bb-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bb := c.Command(ctx, "pg_basebackup", "-h", r.dir, "-p", strconv.Itoa(r.port), "-D", filepath.Join(out, "bb"), "-Ft", "-Xnone")
	if b, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup of the restored server: %v\n%s", err, b)
	}
	f, err := os.Open(filepath.Join(out, "bb", "base.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for tr := tar.NewReader(f); ; {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h.Name, "logship_restore") {
			t.Errorf("base backup of a restored cluster holds %s", h.Name)
		}
	}
}

// F9: restore --force on a folder that holds a running cluster's data
// directory (not the folder itself) is refused with exit 2, and the server
// keeps running; once stopped, the cluster is still refused: no logship
// restore wrote it.
func TestF9_ForceNeverDeletesARunningClusterInside(t *testing.T) {
	t.Parallel()
	c, _, flags, _ := backedUpSource(t, defaultPG, "f9")
	parent := filepath.Dir(c.DataDir)
	args := append(append([]string{}, flags...), "restore", "--target-dir", parent, "--force")
	r := logship(t, nil, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "running on "+c.DataDir) {
		t.Fatalf("exit %d, want 2 naming the running server on %s:\n%s", r.code, c.DataDir, r.stderr)
	}
	if got := c.QueryString(t, "SELECT count(*) FROM probe"); got != "0" {
		t.Errorf("source probe rows %q", got)
	}
	c.Stop(t)
	r = logship(t, nil, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "no logship restore wrote") || !strings.Contains(r.stderr, c.DataDir) {
		t.Fatalf("stopped: exit %d, want 2 naming the data directory %s:\n%s", r.code, c.DataDir, r.stderr)
	}
	for _, f := range []string{"PG_VERSION", "global/pg_control", "postgresql.conf"} {
		if _, err := os.Stat(filepath.Join(c.DataDir, f)); err != nil {
			t.Errorf("source data directory damaged: %v", err)
		}
	}
}

// Issue 15 item 6: after a restore is interrupted (Ctrl-C), a rerun says the
// directory holds an unfinished restore of which backup, and to rerun with
// --force, which then restores.
func TestInterruptedRestoreSaysWhatToRun(t *testing.T) {
	t.Parallel()
	_, storeDir, flags, _ := backedUpSource(t, defaultPG, "intr")
	st, err := file.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	backups, err := catalog.New(st, "intr").Backups(context.Background())
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups: %v %v", backups, err)
	}
	b := backups[0]
	// The last part becomes a FIFO: the restore blocks opening it, after it
	// has begun writing, until it is interrupted.
	last := filepath.Join(storeDir, b.Parts[len(b.Parts)-1].Key)
	saved := last + ".saved"
	if err := os.Rename(last, saved); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(last, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := newTargetDir(t)
	restoreArgs := append(append([]string{}, flags...), "restore", "--target-dir", dir, "--immediate")
	cmd := exec.Command(logshipBin, restoreArgs...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, restore.MarkerName)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no %s after a minute:\n%s", marker, stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted restore: %v, want exit 130:\n%s", err, stderr.String())
	}
	os.Remove(last)
	if err := os.Rename(saved, last); err != nil {
		t.Fatal(err)
	}

	r := logship(t, nil, restoreArgs...)
	want := "holds an unfinished logship restore (backup " + b.ID
	if r.code != 2 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "rerun with --force") {
		t.Fatalf("rerun: exit %d, want 2 saying %q and to rerun with --force:\n%s", r.code, want, r.stderr)
	}
	mustLogship(t, nil, append(restoreArgs, "--force")...)
	if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), `"finished"`) {
		t.Errorf("marker after the rerun: %v %s", err, b)
	}
}

package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/restore"
)

// TestRecoveryConfigRestoresToMark runs the building blocks together against real
// servers: a base backup streamed into ExtractTar, VerifyManifest, SyncTree, then
// WriteRecoveryConfig with a mark, and PostgreSQL must stop exactly at the mark. The
// source carries a stale recovery_target_xid in postgresql.auto.conf, and the archive
// is reached through a path with a quote in it, so the test also fails if stale
// targets are not neutralized or if the two layers of quoting are wrong.
func TestRecoveryConfigRestoresToMark(t *testing.T) {
	arch := pgtest.TempDir(t, "logship-arch-*")
	src := pgtest.Start(t, pgtest.Options{Conf: []string{
		"archive_mode = on",
		"archive_command = 'test ! -f " + arch + "/%f && cp %p " + arch + "/%f'",
	}})
	src.Exec(t, "ALTER SYSTEM SET recovery_target_xid = '4242'")
	src.Exec(t, "CREATE TABLE t (id int)")

	dir := pgtest.TempDir(t, "logship-restore-*")
	_, files := backupInto(t, src, dir)

	src.Exec(t, "INSERT INTO t VALUES (1)")
	src.Exec(t, "SELECT pg_create_restore_point('mark 1')")
	src.Exec(t, "INSERT INTO t VALUES (2)")
	last := src.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	src.WaitFor(t, time.Minute, "segment "+last+" archived", func() bool {
		_, err := os.Stat(filepath.Join(arch, last))
		return err == nil
	})

	if err := restore.SyncTree(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("nothing extracted")
	}

	quoted := filepath.Join(pgtest.TempDir(t, "logship-link-*"), `it's \ here`)
	if err := os.Symlink(arch, quoted); err != nil {
		t.Fatal(err)
	}
	err := restore.WriteRecoveryConfig(dir, restore.RecoverySettings{
		RestoreCommand: "cp " + restore.QuoteShellArg(quoted) + "/%f %p",
		Target:         restore.RecoveryTarget{Name: "mark 1", Action: "promote"},
	})
	if err != nil {
		t.Fatal(err)
	}

	dst := pgtest.StartExisting(t, dir, pgtest.Options{Conf: []string{"archive_mode = off"}})
	dst.WaitFor(t, 2*time.Minute, "promotion", func() bool {
		if !dst.Running() {
			t.Fatalf("restored server exited:\n%s", dst.Log())
		}
		return dst.QueryString(t, "SELECT pg_is_in_recovery()") == "f"
	})
	if got := dst.QueryString(t, "SELECT string_agg(id::text, ',') FROM t"); got != "1" {
		t.Errorf("rows after restore to mark: %q, want 1", got)
	}
	if log := dst.Log(); !strings.Contains(log, `recovery stopping at restore point "mark 1"`) {
		t.Errorf("server log does not show the stop at the mark:\n%s", log)
	}
}

package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/restore"
)

// pg18Bin is the PostgreSQL 18 bin directory of $LOGSHIP_TEST_PG18_BIN; the
// test is skipped without it, unless LOGSHIP_REQUIRE_PG=1. It also becomes
// LOGSHIP_PG_BIN, which pgtest's helpers (stopping a restored server) use,
// so tests calling it must not run in parallel.
func pg18Bin(t *testing.T) string {
	t.Helper()
	pgtest.Require(t)
	bin := os.Getenv("LOGSHIP_TEST_PG18_BIN")
	if bin == "" {
		if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
			t.Fatal("PostgreSQL 18 required (LOGSHIP_REQUIRE_PG=1): set LOGSHIP_TEST_PG18_BIN")
		}
		t.Skip("no PostgreSQL 18: set LOGSHIP_TEST_PG18_BIN")
	}
	t.Setenv("LOGSHIP_PG_BIN", bin)
	return bin
}

// archivingCluster18 is archivingCluster on PostgreSQL 18 with WAL
// summaries on, as incremental backups need; conf comes last and wins.
func archivingCluster18(t *testing.T, source string, conf ...string) (c *pgtest.Cluster, storeDir string, flags, pgFlags []string, bin string) {
	t.Helper()
	bin = pg18Bin(t)
	storeDir = pgtest.TempDir(t, "logship-store-")
	flags = []string{"--store", "file://" + storeDir, "--source", source}
	archive := fmt.Sprintf("archive_command = '%s %s wal-push %%p'", logshipBin, strings.Join(flags, " "))
	c = pgtest.Start(t, pgtest.Options{BinDir: bin, Conf: append([]string{
		"archive_mode = on", archive, "wal_keep_size = '2GB'", "summarize_wal = on",
	}, conf...)})
	pgFlags = append(append([]string{}, flags...), "--pg", c.ConnString())
	return c, storeDir, flags, pgFlags, bin
}

// Full, writes, m1, incremental, writes, m2, incremental, writes, m3: every
// mark restores data-exact from its chain. With a part of the first
// incremental gone, verify names it, a restore to m3 fails before writing
// anything, a restore to m1 (from the full backup) still works; purge
// keeps the ancestors of the newest backup.
func TestIncrementalChain(t *testing.T) {
	c, storeDir, flags, pgFlags, bin := archivingCluster18(t, "incr")
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	if res := logship(t, nil, append(pgFlags, "check")...); !strings.Contains(res.stdout, "summarize_wal = on") {
		t.Errorf("check does not report summarize_wal:\n%s", res.stdout)
	}
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	want := map[string]dataState{}
	for i := 1; i <= 3; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "200", "-c", "2")
		c.Exec(t, "DELETE FROM pgbench_history WHERE aid % 7 = $1", i)
		switch i {
		case 1: // a database and a table that the next backup no longer has
			c.Exec(t, "CREATE DATABASE gone")
			c.Exec(t, "CREATE TABLE dropped AS SELECT g FROM generate_series(1, 10000) g")
			c.Exec(t, "CREATE TABLE truncated AS SELECT g FROM generate_series(1, 10000) g")
		case 2:
			c.Exec(t, "DROP DATABASE gone")
			c.Exec(t, "DROP TABLE dropped")
			c.Exec(t, "TRUNCATE truncated")
			c.Exec(t, "INSERT INTO truncated VALUES (1)")
		}
		name := fmt.Sprintf("m%d", i)
		want[name] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
		if i < 3 {
			out := mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--incremental")...)
			if !strings.Contains(out, "incremental backup") {
				t.Fatalf("backup --incremental said: %s", out)
			}
		}
	}
	waitArchived(t, c, switchWAL(t, c))

	bs, err := openCatalog(t, storeDir, "incr").Backups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].Incremental() || !bs[1].Incremental() || bs[1].Parent != bs[0].ID || bs[2].Parent != bs[1].ID {
		t.Fatalf("backup records: %+v", bs)
	}
	if bs[2].StoredSize >= bs[0].StoredSize {
		t.Errorf("incremental stored %d bytes, the full one %d", bs[2].StoredSize, bs[0].StoredSize)
	}
	pgBin := []string{"--pg-bin", bin, "--no-archive"}
	for i, m := range []string{"m1", "m2", "m3"} {
		r, out := restoreAndStart(t, flags, append([]string{"--mark", m}, pgBin...)...)
		if out.Restore.Plan.BackupID != bs[i].ID {
			t.Errorf("%s: restored from backup %s, want %s", m, out.Restore.Plan.BackupID, bs[i].ID)
		}
		if got := stateOf(t, r.query); got != want[m] {
			t.Errorf("%s: restored data %+v, want %+v (backup %s)", m, got, want[m], out.Restore.Plan.BackupID)
		}
		if label := readFileOf(t, r.dir+"/backup_label.old"); strings.Contains(label, "INCREMENTAL") {
			t.Errorf("%s: the rebuilt backup_label kept INCREMENTAL lines:\n%s", m, label)
		}
		stopServer(t, r.dir)
	}

	mustLogship(t, nil, append(append([]string{}, flags...), "verify", "--deep")...)
	compareWithCombinebackup(t, c, storeDir, "incr", flags, "m3", bs)

	// Purge keeps the chain of the newest backup.
	plan := purgeJSON(t, flags, "--keep-backups", "1", "--dry-run")
	backups, _ := plan.actions()
	for _, b := range bs {
		if backups[b.ID] != "keep" {
			t.Errorf("purge --keep-backups 1 would %s backup %s, an ancestor of the newest", backups[b.ID], b.ID)
		}
	}

	// Lose a part of the first incremental.
	if err := os.Remove(storeDir + "/incr/backups/" + bs[1].ID + "/part-000001"); err != nil {
		t.Fatal(err)
	}
	res := logship(t, nil, append(append([]string{}, flags...), "verify", "--format", "json")...)
	if res.code != 1 {
		t.Fatalf("verify exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
	}
	var rep verifyReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	named := false
	for _, p := range rep.Problems {
		if p.Code == catalog.CodeBadAncestor && strings.Contains(p.Message, bs[1].ID) && strings.Contains(p.Message, bs[2].ID) {
			named = true
		}
	}
	if !named {
		t.Errorf("verify does not name the damaged ancestor %s of %s: %+v", bs[1].ID, bs[2].ID, rep.Problems)
	}
	dir := newTargetDir(t)
	res = logship(t, nil, append(append([]string{}, flags...), "restore", "--target-dir", dir, "--mark", "m3")...)
	if res.code != 1 || !strings.Contains(res.stderr, bs[1].ID) {
		t.Errorf("restore to m3 with a part of %s gone: exit %d\n%s", bs[1].ID, res.code, res.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the failed restore created %s: %v", dir, err)
	}
	r, _ := restoreAndStart(t, flags, append([]string{"--mark", "m1"}, pgBin...)...)
	if got := stateOf(t, r.query); got != want["m1"] {
		t.Errorf("m1 after the damage: restored data %+v, want %+v", got, want["m1"])
	}
}

// --incremental on PostgreSQL 15 is refused with exit 2.
func TestIncrementalRefusedOn15(t *testing.T) {
	t.Parallel()
	_, _, _, pgFlags := backedUpSource(t, defaultPG, "incr15")
	res := logship(t, nil, append(pgFlags, "backup", "--fast", "--incremental")...)
	if res.code != 2 || !strings.Contains(res.stderr, "PostgreSQL 17") {
		t.Fatalf("backup --incremental on 15: exit %d\n%s", res.code, res.stderr)
	}
}

func readFileOf(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// compareWithCombinebackup rebuilds backup bs[len-1]'s chain with restore
// (no start) and checks every file against what pg_combinebackup makes of
// the same backups extracted side by side.
func compareWithCombinebackup(t *testing.T, c *pgtest.Cluster, storeDir, source string, flags []string, mark string, bs []catalog.Backup) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cat := openCatalog(t, storeDir, source)
	work := pgtest.TempDir(t, "combine-")
	var dirs []string
	for i, b := range bs {
		d := filepath.Join(work, fmt.Sprint(i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		var readers []io.Reader
		for _, p := range b.Parts {
			o, err := cat.OpenPart(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			readers = append(readers, o)
		}
		if _, err := restore.ExtractTar(ctx, io.MultiReader(readers...), d); err != nil {
			t.Fatal(err)
		}
		o, err := cat.OpenManifest(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		man, err := io.ReadAll(o)
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "backup_manifest"), man, 0o600); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	want := filepath.Join(work, "want")
	if err := pgtest.ChownToPostgres(work); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Command(ctx, "pg_combinebackup", append([]string{"-o", want}, dirs...)...).CombinedOutput(); err != nil {
		t.Fatalf("pg_combinebackup: %v\n%s", err, out)
	}
	got := newTargetDir(t)
	mustLogship(t, nil, append(append([]string{}, flags...), "restore", "--mark", mark, "--target-dir", got)...)
	files := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				out[rel+"/"] = nil // directories must match too
				return nil
			}
			switch rel {
			case "backup_manifest", "postgresql.auto.conf", "recovery.signal", "standby.signal", "postgresql.conf", "tablespace_map", restore.MarkerName:
				return nil // recovery settings; a manifest of its own; links instead of a map; logship's restore marker
			}
			out[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := files(want), files(got)
	for p, wb := range w {
		if gb, ok := g[p]; !ok {
			t.Errorf("%s: missing from the restored directory", p)
		} else if !bytes.Equal(wb, gb) {
			t.Errorf("%s: %d bytes differ from pg_combinebackup's %d", p, len(gb), len(wb))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: not in pg_combinebackup's output", p)
		}
	}
	if len(w) < 900 {
		t.Errorf("only %d files compared", len(w))
	}
}

// The schedule daemon's incremental job takes incremental backups, each on
// top of the one before.
func TestScheduleIncremental(t *testing.T) {
	c, storeDir, flags, pgFlags, _ := archivingCluster18(t, "incrsched")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	bs, d := scheduledIncrementals(t, storeDir, "incrsched", c.ConnString(), 3, func() {
		c.Exec(t, "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now())")
	})
	for i, b := range bs[1:] {
		if !b.Incremental() || b.Parent != bs[i].ID {
			t.Errorf("backup %s: kind %q, parent %q; want incremental on %s", b.ID, b.Kind, b.Parent, bs[i].ID)
		}
	}
	if d.find("job succeeded") == nil {
		t.Errorf("no successful incremental run logged")
	}
	verifyJSON(t, flags, 0)
}

// The preconditions, each refused with exit 2 and what to do: no parent,
// summarize_wal off, an unknown parent. (Summaries that aged out could not
// be simulated: deleted summary files were rebuilt from the WAL still in
// pg_wal; the server's refusal is wrapped as basebackup.ErrParentUnusable.)
func TestIncrementalPreconditions(t *testing.T) {
	c, _, _, pgFlags, _ := archivingCluster18(t, "incrpre", "summarize_wal = off")
	waitArchived(t, c, switchWAL(t, c))
	incr := append(append([]string{}, pgFlags...), "backup", "--fast", "--incremental")
	if r := logship(t, nil, append(pgFlags, "check")...); !strings.Contains(r.stdout, "ALTER SYSTEM SET summarize_wal = on") {
		t.Errorf("check does not say how to turn summarize_wal on:\n%s", r.stdout)
	}
	if r := logship(t, nil, incr...); r.code != 2 || !strings.Contains(r.stderr, "full backup first") {
		t.Errorf("no parent: exit %d\n%s", r.code, r.stderr)
	}
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	if r := logship(t, nil, incr...); r.code != 2 || !strings.Contains(r.stderr, "summarize_wal = on") {
		t.Errorf("summarize_wal off: exit %d\n%s", r.code, r.stderr)
	}
	if r := logship(t, nil, append(incr, "--parent", "nosuch")...); r.code != 2 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("unknown parent: exit %d\n%s", r.code, r.stderr)
	}
}

// scheduledIncrementals runs logship schedule with only the incremental job
// (every second) for source in storeDir against the server at conn, calling
// write before each look, until the catalog holds at least n backups; it
// stops the daemon and returns them, with the daemon for its log.
func scheduledIncrementals(t *testing.T, storeDir, source, conn string, n int, write func()) ([]catalog.Backup, *daemon) {
	t.Helper()
	cfg := writeConfig(t, fmt.Sprintf(`store: file://%s
source: %s
pg: "%s"
log-format: json
jobs:
  backup: "off"
  incremental: "* * * * * *"
  backup-fast: true
  mark: "off"
  verify: "off"
  metrics-listen: "off"
`, storeDir, source, conn))
	d := startDaemon(t, "--config", cfg, "schedule")
	cat := openCatalog(t, storeDir, source)
	var bs []catalog.Backup
	pgtest.WaitFor(t, 120*time.Second, fmt.Sprintf("%d scheduled backups", n), func() bool {
		write()
		var err error
		bs, err = cat.Backups(context.Background())
		return err == nil && len(bs) >= n
	})
	_ = d.cmd.Process.Signal(os.Interrupt)
	<-d.done
	return bs, d
}

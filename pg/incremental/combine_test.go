package incremental_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/incremental"
)

// startPG18 starts a PostgreSQL 18 cluster with WAL summarization, from
// $LOGSHIP_TEST_PG18_BIN (default /tmp/pg18/18/bin); the test is skipped
// when it is missing, unless LOGSHIP_REQUIRE_PG=1.
func startPG18(t *testing.T) *pgtest.Cluster {
	bin := os.Getenv("LOGSHIP_TEST_PG18_BIN")
	if bin == "" {
		bin = "/tmp/pg18/18/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_combinebackup")); err != nil {
		if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL 18 required (LOGSHIP_REQUIRE_PG=1): %v", err)
		}
		t.Skipf("no PostgreSQL 18 (set LOGSHIP_TEST_PG18_BIN): %v", err)
	}
	t.Setenv("LOGSHIP_PG_BIN", bin)
	return pgtest.Start(t, pgtest.Options{Conf: []string{"summarize_wal = on"}})
}

func runPG(t *testing.T, c *pgtest.Cluster, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := c.Command(ctx, prog, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
}

// TestCombineLikePgCombinebackup takes a full backup and two incrementals of
// a PostgreSQL 18 cluster, with growth, updates, a truncation, a dropped and
// a new table between them, rebuilds the newest with the package (oldest
// first, as a restore reads a chain) and compares every file with
// pg_combinebackup's output.
func TestCombineLikePgCombinebackup(t *testing.T) {
	c := startPG18(t)
	dir := pgtest.TempDir(t, "combine")
	full, inc1, inc2, want := filepath.Join(dir, "full"), filepath.Join(dir, "inc1"), filepath.Join(dir, "inc2"), filepath.Join(dir, "want")

	c.Exec(t, "CREATE TABLE grow AS SELECT g AS x, repeat('a', 200) AS pad FROM generate_series(1, 20000) g")
	c.Exec(t, "CREATE TABLE shrink AS SELECT g AS x, repeat('b', 200) AS pad FROM generate_series(1, 20000) g")
	c.Exec(t, "CREATE TABLE doomed AS SELECT g AS x FROM generate_series(1, 1000) g")
	c.Exec(t, "CHECKPOINT")
	runPG(t, c, "pg_basebackup", "-D", full, "-c", "fast")

	c.Exec(t, "INSERT INTO grow SELECT g, repeat('c', 200) FROM generate_series(1, 20000) g")
	c.Exec(t, "UPDATE grow SET x = -x WHERE x % 1000 = 0")
	c.Exec(t, "DELETE FROM shrink WHERE x > 2000")
	c.Exec(t, "VACUUM shrink") // truncates the heap
	c.Exec(t, "DROP TABLE doomed")
	runPG(t, c, "pg_basebackup", "-D", inc1, "-c", "fast", "--incremental="+filepath.Join(full, "backup_manifest"))

	c.Exec(t, "UPDATE grow SET x = x + 1 WHERE x % 777 = 0")
	c.Exec(t, "INSERT INTO shrink SELECT g, repeat('d', 200) FROM generate_series(1, 500) g")
	c.Exec(t, "CREATE TABLE fresh AS SELECT g AS x FROM generate_series(1, 5000) g")
	runPG(t, c, "pg_basebackup", "-D", inc2, "-c", "fast", "--incremental="+filepath.Join(inc1, "backup_manifest"))

	runPG(t, c, "pg_combinebackup", "-o", want, full, inc1, inc2)

	got := filepath.Join(t.TempDir(), "got")
	copyTree(t, full, got)
	var labels []incremental.Label
	for i, b := range []string{full, inc1, inc2} {
		raw, err := os.ReadFile(filepath.Join(b, "backup_label"))
		if err != nil {
			t.Fatal(err)
		}
		l, err := incremental.ParseLabel(raw)
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, l)
		if i > 0 {
			applyBackup(t, b, got, i == 2)
		}
	}
	if err := incremental.CheckChain(labels); err != nil {
		t.Fatal(err)
	}
	if err := incremental.CheckChain([]incremental.Label{labels[0], labels[2]}); err == nil {
		t.Error("a chain with a gap passed CheckChain")
	}

	compareTrees(t, want, got, 900)
}

// applyBackup applies the backup at src onto the data directory dst as a
// restore would: full files replace, incremental files are applied, files
// the backup lacks are removed.
func applyBackup(t *testing.T, src, dst string, newest bool) {
	t.Helper()
	m := readManifest(t, src)
	for _, f := range m.Files {
		target, isInc := incremental.Target(f.Path, false)
		in, err := os.Open(filepath.Join(src, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dst, target)
		switch {
		case isInc:
			o, err := os.OpenFile(out, os.O_RDWR, 0)
			if err != nil {
				t.Fatalf("%s: no older version: %v", f.Path, err)
			}
			if _, err := incremental.Apply(o, in, newest); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
		case f.Path == "backup_label":
			raw, err := io.ReadAll(in)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, out, incremental.StripLabel(raw))
		default:
			raw, err := io.ReadAll(in)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, out, raw)
		}
		in.Close()
	}
	removeUnlisted(t, dst, m)
}

func readManifest(t *testing.T, dir string) *pg.Manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "backup_manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := pg.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareTrees compares every regular file of want and got, but
// backup_manifest, which pg_combinebackup writes anew, and pg_wal, which it
// takes from the newest backup (logship's backups carry no WAL).
func compareTrees(t *testing.T, want, got string, minFiles int) {
	t.Helper()
	files := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "backup_manifest" || strings.HasPrefix(rel, "pg_wal/") {
				return nil
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
		gb, ok := g[p]
		switch {
		case !ok:
			t.Errorf("%s: missing", p)
		case !bytes.Equal(wb, gb):
			t.Errorf("%s: %d bytes differ from pg_combinebackup's %d", p, len(gb), len(wb))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: not in pg_combinebackup's output", p)
		}
	}
	if len(w) < minFiles {
		t.Errorf("only %d files compared", len(w))
	}
	if bytes.Contains(g["backup_label"], []byte("INCREMENTAL")) {
		t.Errorf("backup_label kept INCREMENTAL lines:\n%s", g["backup_label"])
	}
}

package basebackup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/basebackup"
)

// startPG18 starts a PostgreSQL 18 cluster with WAL summarization from
// $LOGSHIP_TEST_PG18_BIN (default /tmp/pg18/18/bin); the test is skipped
// when it is missing, unless LOGSHIP_REQUIRE_PG=1.
func startPG18(t *testing.T) *pgtest.Cluster {
	bin := os.Getenv("LOGSHIP_TEST_PG18_BIN")
	if bin == "" {
		bin = "/tmp/pg18/18/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_verifybackup")); err != nil {
		if os.Getenv("LOGSHIP_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL 18 required (LOGSHIP_REQUIRE_PG=1): %v", err)
		}
		t.Skipf("no PostgreSQL 18 (set LOGSHIP_TEST_PG18_BIN): %v", err)
	}
	t.Setenv("LOGSHIP_PG_BIN", bin)
	return pgtest.Start(t, pgtest.Options{Conf: []string{"summarize_wal = on"}})
}

// backupTo takes a backup with RunArchives into dir as pg_basebackup -Ft
// would lay it out: one tar per archive, and backup_manifest.
func backupTo(t *testing.T, c *pgtest.Cluster, dir string, opts basebackup.Options) (basebackup.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.FastCheckpoint = true
	res, err := basebackup.RunArchives(ctx, c.ConnString(), opts, func(a basebackup.Archive) (io.WriteCloser, error) {
		return os.Create(filepath.Join(dir, a.Name))
	}, nil)
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(dir, "backup_manifest"), res.Manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pgtest.ChownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// tarFiles reads a tar file's regular files' names and, for those named in
// keep, their content.
func tarFiles(t *testing.T, path string, keep ...string) (names []string, content map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	content = map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, content
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		names = append(names, hdr.Name)
		for _, k := range keep {
			if hdr.Name == k {
				content[k], _ = io.ReadAll(tr)
			}
		}
	}
}

func verifyBackup(t *testing.T, c *pgtest.Cluster, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// -n: the backup holds no WAL; WAL reaches the store by archiving.
	if out, err := c.Command(ctx, "pg_verifybackup", "-n", dir).CombinedOutput(); err != nil {
		t.Fatalf("pg_verifybackup %s: %v\n%s", dir, err, out)
	}
}

// TestPostgreSQL18 takes a full backup of an 18 cluster with a tablespace,
// then an incremental one on top of it, and has pg_verifybackup check both
// as the tar-format backups they are.
func TestPostgreSQL18(t *testing.T) {
	c := startPG18(t)
	loc := pgtest.TempDir(t, "logship-tblspc-*")
	c.Exec(t, "CREATE TABLESPACE extra LOCATION '"+loc+"'")
	c.Exec(t, "CREATE TABLE far TABLESPACE extra AS SELECT g AS x FROM generate_series(1, 50000) g")
	c.Exec(t, "CREATE TABLE near AS SELECT g AS x FROM generate_series(1, 50000) g")
	oid, _ := strconv.ParseUint(c.QueryString(t, "SELECT oid FROM pg_tablespace WHERE spcname = 'extra'"), 10, 32)
	sysID := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()")

	fullDir := pgtest.TempDir(t, "full-*")
	full, err := backupTo(t, c, fullDir, basebackup.Options{Label: "full"})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Archives) != 2 || full.Archives[0].TablespaceOID != uint32(oid) || full.Archives[0].Location != loc ||
		full.Archives[0].Name != fmt.Sprintf("%d.tar", oid) || full.Archives[1].Name != "base.tar" || full.Archives[1].TablespaceOID != 0 {
		t.Fatalf("archives %+v, want the tablespace %d (%s), then base.tar", full.Archives, oid, loc)
	}
	if full.Archives[0].Bytes+full.Archives[1].Bytes != full.TarBytes || full.IncrementalFrom != 0 {
		t.Errorf("archive bytes %+v, tar bytes %d, incremental from %s", full.Archives, full.TarBytes, full.IncrementalFrom)
	}
	m, err := pg.ParseManifest(full.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || strconv.FormatUint(m.SystemID, 10) != sysID || strconv.FormatUint(full.SystemID, 10) != sysID {
		t.Errorf("manifest version %d, system id %d; server %s, result %d", m.Version, m.SystemID, sysID, full.SystemID)
	}
	// TABLESPACE_MAP: the map instead of a link in pg_tblspc.
	names, content := tarFiles(t, filepath.Join(fullDir, "base.tar"), "tablespace_map")
	if want := fmt.Sprintf("%d %s\n", oid, loc); string(content["tablespace_map"]) != want {
		t.Errorf("tablespace_map %q, want %q", content["tablespace_map"], want)
	}
	spcNames, _ := tarFiles(t, filepath.Join(fullDir, full.Archives[0].Name))
	for _, n := range spcNames {
		if _, ok := m.File(full.Archives[0].ManifestPrefix() + n); !ok {
			t.Errorf("tablespace file %s not in the manifest as %s", n, full.Archives[0].ManifestPrefix()+n)
		}
	}
	if len(spcNames) == 0 || len(names) < 900 {
		t.Errorf("%d files in the tablespace, %d in base", len(spcNames), len(names))
	}
	verifyBackup(t, c, fullDir)

	c.Exec(t, "UPDATE far SET x = -x WHERE x % 100 = 0")
	c.Exec(t, "UPDATE near SET x = -x WHERE x % 100 = 0")
	incDir := pgtest.TempDir(t, "inc-*")
	inc, err := backupTo(t, c, incDir, basebackup.Options{Label: "inc", IncrementalFrom: full.Manifest})
	if err != nil {
		t.Fatal(err)
	}
	if inc.IncrementalFrom != full.StartLSN || len(inc.Archives) != 2 {
		t.Errorf("incremental from %s (full started at %s), archives %+v", inc.IncrementalFrom, full.StartLSN, inc.Archives)
	}
	for _, a := range inc.Archives {
		names, content := tarFiles(t, filepath.Join(incDir, a.Name), "backup_label")
		n := 0
		for _, name := range names {
			if strings.Contains(name, "/INCREMENTAL.") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s holds no incremental file", a.Name)
		}
		if a.TablespaceOID == 0 && !bytes.Contains(content["backup_label"], []byte("INCREMENTAL FROM LSN: "+full.StartLSN.String()+"\n")) {
			t.Errorf("backup_label:\n%s", content["backup_label"])
		}
	}
	if inc.TarBytes*2 > full.TarBytes {
		t.Errorf("incremental backup of %d bytes, the full one %d", inc.TarBytes, full.TarBytes)
	}
	verifyBackup(t, c, incDir)

	t.Run("refusals", func(t *testing.T) {
		other := bytes.Replace(full.Manifest, []byte(`"System-Identifier": `+sysID), []byte(`"System-Identifier": 12345`), 1)
		v1 := regexp.MustCompile(`"PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": \d+,`).ReplaceAll(full.Manifest, []byte(`"PostgreSQL-Backup-Manifest-Version": 1,`))
		otherTLI := bytes.Replace(full.Manifest, []byte(`{ "Timeline": 1,`), []byte(`{ "Timeline": 7,`), 1)
		for name, tt := range map[string]struct {
			parent   []byte
			want     string
			unusable bool
		}{
			"other cluster":  {resum(t, other), "system identifier 12345, the server's is " + sysID, true},
			"version 1":      {resum(t, v1), "manifest is version 1", true},
			"other timeline": {resum(t, otherTLI), "timeline 7 found in manifest, but not in this server's history", true},
			"bad manifest":   {other, "does not match its content", false},
			"empty manifest": {[]byte{}, "parent backup", false},
		} {
			_, err := basebackup.RunArchives(context.Background(), c.ConnString(), basebackup.Options{IncrementalFrom: tt.parent, FastCheckpoint: true},
				func(basebackup.Archive) (io.WriteCloser, error) { return nil, errors.New("no backup expected") }, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, basebackup.ErrParentUnusable) != tt.unusable {
				t.Errorf("%s: error %v, want one with %q (parent unusable: %v)", name, err, tt.want, tt.unusable)
			}
		}
		c.Exec(t, "ALTER SYSTEM SET summarize_wal = off")
		c.Exec(t, "SELECT pg_reload_conf()")
		c.WaitFor(t, time.Minute, "summarize_wal off", func() bool { return c.QueryString(t, "SHOW summarize_wal") == "off" })
		_, err := basebackup.RunArchives(context.Background(), c.ConnString(), basebackup.Options{IncrementalFrom: full.Manifest},
			func(basebackup.Archive) (io.WriteCloser, error) { return nil, errors.New("no backup expected") }, nil)
		if err == nil || !strings.Contains(err.Error(), "summarize_wal = on") {
			t.Errorf("summarize_wal off: %v", err)
		}
	})
}

// resum rewrites a manifest's own checksum after an edit.
func resum(t *testing.T, m []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(m, []byte("\"Manifest-Checksum\""))
	if i < 0 {
		t.Fatal("no Manifest-Checksum")
	}
	return fmt.Appendf(m[:i:i], "\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256(m[:i]))
}

// TestRunArchivesPostgreSQL15 checks the tablespace archives on 15, and that
// an incremental backup is refused there.
func TestRunArchivesPostgreSQL15(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	if v := c.QueryString(t, "SHOW server_version_num"); v >= "170000" {
		t.Skipf("server %s is not 15 or 16", v)
	}
	loc := pgtest.TempDir(t, "logship-tblspc-*")
	c.Exec(t, "CREATE TABLESPACE extra LOCATION '"+loc+"'")
	c.Exec(t, "CREATE TABLE far TABLESPACE extra AS SELECT 1 AS x")
	dir := t.TempDir()
	res, err := backupTo(t, c, dir, basebackup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Archives) != 2 || res.Archives[0].Location != loc || res.Archives[1].Name != "base.tar" {
		t.Fatalf("archives %+v", res.Archives)
	}
	m, err := pg.ParseManifest(res.Manifest)
	if err != nil || m.Version != 1 || m.HasSystemID {
		t.Fatalf("manifest %v, %v", m, err)
	}
	names, _ := tarFiles(t, filepath.Join(dir, res.Archives[0].Name))
	for _, n := range names {
		if _, ok := m.File(res.Archives[0].ManifestPrefix() + n); !ok {
			t.Errorf("tablespace file %s not in the manifest", n)
		}
	}
	_, err = basebackup.RunArchives(context.Background(), c.ConnString(), basebackup.Options{IncrementalFrom: res.Manifest},
		func(basebackup.Archive) (io.WriteCloser, error) { return nil, errors.New("no backup expected") }, nil)
	if err == nil || !strings.Contains(err.Error(), "needs PostgreSQL 17 or later") {
		t.Errorf("incremental on 15: %v", err)
	}
}

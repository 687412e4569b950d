package incremental_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/basebackup"
	"github.com/logship/logship/pg/incremental"
)

// TestRestoreFromTarStreams is the restore path: a full backup and two
// incrementals taken with pg/basebackup, kept as tar streams the way the
// store keeps them; the full one is extracted, then each incremental's tar is
// read once, front to back, applying INCREMENTAL.<name> members in place.
// pg_combinebackup, given the same backups extracted, must produce the same
// files.
func TestRestoreFromTarStreams(t *testing.T) {
	c := startPG18(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	take := func(parent []byte) (basebackup.Result, []byte) {
		var tarBuf bytes.Buffer
		res, err := basebackup.RunArchives(ctx, c.ConnString(), basebackup.Options{FastCheckpoint: true, IncrementalFrom: parent}, mainArchive(&tarBuf), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res, tarBuf.Bytes()
	}
	c.Exec(t, "CREATE TABLE a AS SELECT g AS x, repeat('a', 100) AS pad FROM generate_series(1, 30000) g")
	c.Exec(t, "CREATE TABLE b AS SELECT g AS x FROM generate_series(1, 30000) g")
	full, fullTar := take(nil)
	c.Exec(t, "UPDATE a SET x = -x WHERE x % 50 = 0")
	c.Exec(t, "DELETE FROM b WHERE x > 100")
	c.Exec(t, "VACUUM b")
	inc1, inc1Tar := take(full.Manifest)
	c.Exec(t, "INSERT INTO b SELECT g FROM generate_series(1, 3000) g")
	c.Exec(t, "DROP TABLE a")
	inc2, inc2Tar := take(inc1.Manifest)

	// pg_combinebackup's result from the extracted backups.
	dir := pgtest.TempDir(t, "streams-*")
	var dirs []string
	for i, b := range []struct {
		res basebackup.Result
		tar []byte
	}{{full, fullTar}, {inc1, inc1Tar}, {inc2, inc2Tar}} {
		d := filepath.Join(dir, string(rune('0'+i)))
		extract(t, bytes.NewReader(b.tar), d, nil)
		writeFile(t, filepath.Join(d, "backup_manifest"), b.res.Manifest)
		dirs = append(dirs, d)
	}
	want := filepath.Join(dir, "want")
	if err := pgtest.ChownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	runPG(t, c, "pg_combinebackup", append([]string{"-o", want}, dirs...)...)

	got := filepath.Join(t.TempDir(), "got")
	extract(t, bytes.NewReader(fullTar), got, nil)
	for i, b := range []struct {
		res basebackup.Result
		tar []byte
	}{{inc1, inc1Tar}, {inc2, inc2Tar}} {
		newest := i == 1
		m, err := pg.ParseManifest(b.res.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		extract(t, bytes.NewReader(b.tar), got, func(name string, r io.Reader) (bool, error) {
			target, ok := incremental.Target(name, false)
			if ok {
				f, err := os.OpenFile(filepath.Join(got, target), os.O_RDWR, 0)
				if err != nil {
					return true, err
				}
				defer f.Close()
				_, err = incremental.Apply(f, r, newest)
				return true, err
			}
			if name == "backup_label" && newest {
				raw, err := io.ReadAll(r)
				if err != nil {
					return true, err
				}
				return true, os.WriteFile(filepath.Join(got, name), incremental.StripLabel(raw), 0o600)
			}
			return false, nil
		})
		removeUnlisted(t, got, m)
	}
	compareTrees(t, want, got, 900)
}

// extract writes a tar stream's directories and regular files under dir.
// special, if not nil, may take a regular file over (returning true).
func extract(t *testing.T, r io.Reader, dir string, special func(name string, r io.Reader) (bool, error)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(filepath.Clean(hdr.Name), "./")
		p := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if special != nil {
				done, err := special(name, tr)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if done {
					continue
				}
			}
			raw, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, raw)
		default:
			t.Fatalf("%s: unexpected tar entry type %q", name, hdr.Typeflag)
		}
	}
}

// removeUnlisted deletes the files that the backup's manifest does not list,
// its incremental files counting as the files they stand for.
func removeUnlisted(t *testing.T, dir string, m *pg.Manifest) {
	t.Helper()
	keep := map[string]bool{}
	for _, f := range m.Files {
		target, _ := incremental.Target(f.Path, false)
		keep[target] = true
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !keep[rel] && !pg.ManifestIgnored(rel) {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mainArchive takes the main data directory's archive of a backup without
// tablespaces into w.
func mainArchive(w io.Writer) basebackup.OpenArchive {
	return func(a basebackup.Archive) (io.WriteCloser, error) {
		if a.TablespaceOID != 0 {
			return nil, fmt.Errorf("unexpected tablespace archive %s", a.Name)
		}
		return nopWriteCloser{w}, nil
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

package incremental_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/basebackup"
	"github.com/logship/logship/pg/incremental"
)

// memArchive keeps an archive in memory.
type memArchive struct {
	basebackup.Archive
	buf bytes.Buffer
}

func (a *memArchive) Write(p []byte) (int, error) { return a.buf.Write(p) }
func (*memArchive) Close() error                  { return nil }

// TestRestoreTablespace rebuilds a full and an incremental backup of a
// cluster with a tablespace from the archives RunArchives sends, the
// tablespace's archive into its own directory, and compares both
// directories with pg_combinebackup's.
func TestRestoreTablespace(t *testing.T) {
	c := startPG18(t)
	loc := pgtest.TempDir(t, "tblspc-*")
	c.Exec(t, "CREATE TABLESPACE extra LOCATION '"+loc+"'")
	c.Exec(t, "CREATE TABLE far TABLESPACE extra AS SELECT g AS x FROM generate_series(1, 40000) g")
	// Hint bits set now, not by the scan of the update below: with data
	// checksums (the default since 18) the first setting WAL-logs every page,
	// and the server sends a file whole when most of its blocks changed.
	c.Exec(t, "VACUUM far")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	take := func(parent []byte) (basebackup.Result, []*memArchive) {
		var archives []*memArchive
		res, err := basebackup.RunArchives(ctx, c.ConnString(), basebackup.Options{FastCheckpoint: true, IncrementalFrom: parent},
			func(a basebackup.Archive) (io.WriteCloser, error) {
				archives = append(archives, &memArchive{Archive: a})
				return archives[len(archives)-1], nil
			}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res, archives
	}
	full, fullArchives := take(nil)
	c.Exec(t, "UPDATE far SET x = -x WHERE x < 1000")
	inc, incArchives := take(full.Manifest)

	// pg_combinebackup wants plain backups: the tablespace in a directory
	// of its own, linked from pg_tblspc.
	dir := pgtest.TempDir(t, "tsrestore-*")
	var dirs []string
	for i, b := range []struct {
		res      basebackup.Result
		archives []*memArchive
	}{{full, fullArchives}, {inc, incArchives}} {
		d := filepath.Join(dir, fmt.Sprint(i))
		for _, a := range b.archives {
			if a.TablespaceOID == 0 {
				extract(t, bytes.NewReader(a.buf.Bytes()), d, nil)
				continue
			}
			ts := filepath.Join(dir, fmt.Sprintf("%d-ts", i))
			extract(t, bytes.NewReader(a.buf.Bytes()), ts, nil)
			if err := os.MkdirAll(filepath.Join(d, "pg_tblspc"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(ts, filepath.Join(d, "pg_tblspc", fmt.Sprint(a.TablespaceOID))); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(d, "backup_manifest"), b.res.Manifest)
		dirs = append(dirs, d)
	}
	want, wantTS := filepath.Join(dir, "want"), filepath.Join(dir, "want-ts")
	if err := pgtest.ChownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	runPG(t, c, "pg_combinebackup", "-T", filepath.Join(dir, "1-ts")+"="+wantTS, "-o", want, dirs[0], dirs[1])

	got, tsApplied := t.TempDir(), 0
	gotMain, gotTS := filepath.Join(got, "main"), filepath.Join(got, "ts")
	for i, archives := range [][]*memArchive{fullArchives, incArchives} {
		m, err := pg.ParseManifest([]*basebackup.Result{&full, &inc}[i].Manifest)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range archives {
			root, inTablespace := gotMain, a.TablespaceOID != 0
			if inTablespace {
				root = gotTS
			}
			extract(t, bytes.NewReader(a.buf.Bytes()), root, func(name string, r io.Reader) (bool, error) {
				target, ok := incremental.Target(name, inTablespace)
				if !ok {
					if name == "backup_label" && i == 1 {
						raw, err := io.ReadAll(r)
						if err != nil {
							return true, err
						}
						return true, os.WriteFile(filepath.Join(root, name), incremental.StripLabel(raw), 0o600)
					}
					return false, nil
				}
				f, err := os.OpenFile(filepath.Join(root, target), os.O_RDWR, 0)
				if err != nil {
					return true, err
				}
				defer f.Close()
				if inTablespace {
					tsApplied++
				}
				_, err = incremental.Apply(f, r, i == 1)
				return true, err
			})
		}
		removeUnlisted(t, gotMain, m)
	}
	// The tablespace_map names the server's location; pg_combinebackup's
	// output has a link in pg_tblspc instead, and ours the map.
	os.Remove(filepath.Join(gotMain, "tablespace_map"))
	os.Remove(filepath.Join(want, "tablespace_map"))
	compareTrees(t, want, gotMain, 900)
	compareTrees(t, wantTS, gotTS, 1)
	if tsApplied == 0 {
		t.Error("no incremental file in the tablespace's archive")
	}
}

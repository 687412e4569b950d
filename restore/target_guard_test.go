package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/restore"
)

// treeOf lists every path beneath dir, to show that a refusal touched
// nothing.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// fakeCluster makes dir look like a PostgreSQL data directory; with pid, a
// postmaster.pid naming it.
func fakeCluster(t *testing.T, dir string, pid int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "global"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("15\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "global", "pg_control"), []byte("control"), 0o600)
	if pid != 0 {
		os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(strconv.Itoa(pid)+"\n"+dir+"\n"), 0o600)
	}
}

// F1: a target that is, holds or lies inside the file store's folder is
// refused with or without --force, and the store is left as it was.
func TestF1_TargetNeverTheStore(t *testing.T) {
	t.Parallel()
	tarBytes, manifest := dataDirTar(t)
	fb := storeBackup(t, tarBytes, 1<<20, manifest)
	holder := t.TempDir()
	store := filepath.Join(holder, "store")
	if err := os.Rename(fb.storeDir, store); err != nil {
		t.Fatal(err)
	}
	// The catalog keeps the old root: point it back there by a symlink,
	// so that the store's own root is reached through one.
	if err := os.Symlink(store, fb.storeDir); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(store, link)
	before := treeOf(t, store)
	for _, dir := range []string{fb.storeDir, store, link, holder, filepath.Join(store, "rs"), filepath.Join(store, "new", "pgdata")} {
		for _, force := range []bool{false, true} {
			_, err := restore.Run(context.Background(), fb.cat, planOf(fb.b), restore.Options{TargetDir: dir, RestoreCommand: testFetchCommand, Force: force})
			if !errors.Is(err, restore.ErrUnsafeTarget) || !strings.Contains(err.Error(), "store") {
				t.Errorf("target %s, force %v: got %v, want ErrUnsafeTarget naming the store", dir, force, err)
			}
		}
	}
	if after := treeOf(t, store); !slices.Equal(before, after) {
		t.Fatalf("store changed:\nbefore %v\nafter  %v", before, after)
	}
}

// --force clears a previous restore target, and a folder without a cluster,
// never a cluster logship did not restore, nor a target inside a cluster.
func TestForceClearsOnlyWhatRestoreWrote(t *testing.T) {
	t.Parallel()
	tarBytes, manifest := dataDirTar(t)
	fb := storeBackup(t, tarBytes, 1<<20, manifest)
	run := func(dir string, force bool) error {
		_, err := restore.Run(context.Background(), fb.cat, planOf(fb.b), restore.Options{TargetDir: dir, RestoreCommand: testFetchCommand, Force: force})
		return err
	}

	t.Run("previous restore target", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pgdata")
		if err := run(dir, false); err != nil {
			t.Fatal(err)
		}
		err := run(dir, false)
		if !errors.Is(err, restore.ErrNotEmpty) || !strings.Contains(err.Error(), "holds a logship restore of backup "+fb.b.ID) {
			t.Fatalf("got %v, want ErrNotEmpty naming the finished restore", err)
		}
		os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("999999999\n"), 0o600) // dead
		if err := run(dir, true); err != nil {
			t.Fatal(err)
		}
	})
	foreign := []struct {
		name string
		make func(t *testing.T, dir string)
		says string
	}{
		{"cluster", func(t *testing.T, dir string) { fakeCluster(t, dir, 0) }, "no logship restore wrote"},
		{"cluster beneath", func(t *testing.T, dir string) { fakeCluster(t, filepath.Join(dir, "a", "pgdata"), 0) }, "no logship restore wrote"},
		{"running cluster", func(t *testing.T, dir string) { fakeCluster(t, dir, os.Getpid()) }, "running"},
		{"F9 running cluster beneath", func(t *testing.T, dir string) { fakeCluster(t, filepath.Join(dir, "a", "pgdata"), os.Getpid()) }, "running"},
		{"restore target holding another cluster", func(t *testing.T, dir string) {
			if err := run(dir, true); err != nil {
				t.Fatal(err)
			}
			fakeCluster(t, filepath.Join(dir, "base", "other"), 0)
		}, "no logship restore wrote"},
	}
	for _, tt := range foreign {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			tt.make(t, dir)
			before := treeOf(t, dir)
			err := run(dir, true)
			if !errors.Is(err, restore.ErrUnsafeTarget) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v, want ErrUnsafeTarget saying %q", err, tt.says)
			}
			if after := treeOf(t, dir); !slices.Equal(before, after) {
				t.Fatalf("target changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	t.Run("inside a cluster", func(t *testing.T) {
		cluster := filepath.Join(t.TempDir(), "pgdata")
		fakeCluster(t, cluster, 0)
		for _, dir := range []string{filepath.Join(cluster, "base"), filepath.Join(cluster, "new", "x")} {
			os.MkdirAll(filepath.Join(cluster, "base", "1"), 0o700)
			err := run(dir, true)
			if !errors.Is(err, restore.ErrUnsafeTarget) || !strings.Contains(err.Error(), "lies inside "+cluster) {
				t.Errorf("%s: got %v, want ErrUnsafeTarget naming %s", dir, err, cluster)
			}
		}
		if _, err := os.Stat(filepath.Join(cluster, "base", "1")); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(cluster, "new")); err == nil {
			t.Error("a target was created inside the cluster")
		}
	})
}

// Issue 15 item 6: a target left by a failed or interrupted restore is
// named as such, with what to run.
func TestUnfinishedRestoreSaysWhatToRun(t *testing.T) {
	t.Parallel()
	tarBytes, manifest := dataDirTar(t)
	fb := storeBackup(t, tarBytes, 64<<10, manifest)
	os.Remove(filepath.Join(fb.storeDir, fb.b.Parts[3].Key))
	dir := filepath.Join(t.TempDir(), "pgdata")
	run := func(force bool) error {
		_, err := restore.Run(context.Background(), fb.cat, planOf(fb.b), restore.Options{TargetDir: dir, RestoreCommand: testFetchCommand, Force: force})
		return err
	}
	if err := run(false); !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
	err := run(false)
	want := "holds an unfinished logship restore (backup " + fb.b.ID
	if !errors.Is(err, restore.ErrNotEmpty) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rerun with --force") {
		t.Fatalf("got %v, want ErrNotEmpty saying %q and to rerun with --force", err, want)
	}
	// --force may clear it: it is a restore target, though incomplete.
	if err := run(true); !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("got %v, want ErrIncomplete again (the part is still missing)", err)
	}
}

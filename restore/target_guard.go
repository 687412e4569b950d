package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/pg/server"
)

// ErrUnsafeTarget means the target directory is, holds or lies inside
// something a restore must never write into or clear: the store, a
// running server's data directory, or a PostgreSQL data directory that no
// logship restore wrote. Nothing was touched.
var ErrUnsafeTarget = errors.New("unsafe target directory")

// MarkerName is the file, relative to the target directory, that a restore
// leaves: it proves later that the directory is a logship restore target,
// which --force may clear, and tells an interrupted restore from a
// finished one. It lives in pg_wal, whose contents PostgreSQL leaves out of
// base backups and pg_verifybackup does not check, and where the server
// ignores a file that is not named like WAL: a backup of a restored and
// promoted cluster does not carry it, and its restore does not trip on it.
const MarkerName = "pg_wal/logship_restore.json"

// restoreMarker is what MarkerName holds.
type restoreMarker struct {
	Backup   string    `json:"backup"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"` // zero: interrupted or failed
}

// writeMarker records in dir the restore of backup begun at started;
// finished is zero until the restore is complete.
func writeMarker(dir, backup string, started, finished time.Time) error {
	b, err := json.Marshal(restoreMarker{Backup: backup, Started: started.UTC(), Finished: finished.UTC()})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, filepath.FromSlash(MarkerName))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", MarkerName, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", MarkerName, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", MarkerName, err)
	}
	return nil
}

// readMarker reads dir's marker; ok is false when there is none or it is
// unreadable (then dir is not proven to be a restore target).
func readMarker(dir string) (restoreMarker, bool) {
	var m restoreMarker
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(MarkerName)))
	if err != nil || len(b) > 64<<10 || json.Unmarshal(b, &m) != nil || m.Backup == "" {
		return m, false
	}
	return m, true
}

// notEmptyError says why a non-empty dir is refused without --force, and
// what to do: an unfinished restore is named as such.
func notEmptyError(dir string, entries []os.DirEntry) error {
	if m, ok := readMarker(dir); ok {
		if m.Finished.IsZero() {
			return fmt.Errorf("%w: %s holds an unfinished logship restore (backup %s, started %s; interrupted or failed): rerun with --force to start over",
				ErrNotEmpty, dir, m.Backup, m.Started.Format(time.RFC3339))
		}
		return fmt.Errorf("%w: %s holds a logship restore of backup %s (finished %s): choose another directory, or add --force to replace it",
			ErrNotEmpty, dir, m.Backup, m.Finished.Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %s holds %d entries (%s, ...); choose an empty directory, or add --force to delete its contents",
		ErrNotEmpty, dir, len(entries), entries[0].Name())
}

// realPath resolves the symlinks of p, which need not exist: those of its
// longest existing prefix, with the rest appended.
func realPath(p string) string {
	p = filepath.Clean(p)
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(append([]string{p}, rest...)...)
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// liesIn reports whether p is dir or lies beneath it; both are clean and
// resolved (tablespace_guard's within resolves them itself).
func liesIn(p, dir string) bool {
	if p == dir || dir == "/" {
		return true
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// isDataDir reports whether dir holds a PostgreSQL cluster: PG_VERSION and
// global/pg_control. A PG_VERSION alone (a copy begun and abandoned) is not.
func isDataDir(dir string) bool {
	_, err1 := os.Stat(filepath.Join(dir, "PG_VERSION"))
	_, err2 := os.Stat(filepath.Join(dir, "global", "pg_control"))
	return err1 == nil && err2 == nil
}

// guardPlace refuses, whether or not the directory exists or --force was
// given, a target (real: symlinks resolved) that is, holds or lies inside
// the store's folder (storeRoot, "" for a store without one), or lies
// inside a PostgreSQL data directory or a running server's.
func guardPlace(dir, real, storeRoot string) error {
	if storeRoot != "" {
		root := realPath(storeRoot)
		switch {
		case real == root:
			return fmt.Errorf("%w: %s is the store's folder: choose a directory outside it", ErrUnsafeTarget, dir)
		case liesIn(real, root):
			return fmt.Errorf("%w: %s lies inside the store's folder %s: choose a directory outside it", ErrUnsafeTarget, dir, root)
		case liesIn(root, real):
			return fmt.Errorf("%w: %s holds the store's folder %s: choose a directory outside it", ErrUnsafeTarget, dir, root)
		}
	}
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		if pid, ok := server.RunningPID(p); ok {
			return fmt.Errorf("%w: %s lies inside %s, the data directory of a running PostgreSQL server (pid %d): choose a directory outside it", ErrUnsafeTarget, dir, p, pid)
		}
		if isDataDir(p) {
			return fmt.Errorf("%w: %s lies inside %s, a PostgreSQL data directory: choose a directory outside it", ErrUnsafeTarget, dir, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// guardClear decides whether --force may empty real (dir as the user gave
// it): only when no server runs on it or anywhere beneath it, and it is a
// previous logship restore target or holds no PostgreSQL data directory
// at all. Symlinks beneath it are not followed: clearing removes the links
// only.
func guardClear(dir, real string) error {
	_, marked := readMarker(real)
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("target directory: %w (nothing was deleted)", err)
		}
		if !d.IsDir() {
			return nil
		}
		if pid, ok := server.RunningPID(p); ok {
			return fmt.Errorf("%w: a PostgreSQL server (pid %d) is running on %s, in %s: choose another directory, or, if it is an old restore you mean to replace, stop that server first", ErrUnsafeTarget, pid, p, dir)
		}
		if isDataDir(p) && !(marked && p == real) {
			return fmt.Errorf("%w: --force clears only a previous logship restore target or a folder without a PostgreSQL cluster, and %s holds one that no logship restore wrote (%s, with PG_VERSION and global/pg_control; no %s): if it is no longer needed, delete it yourself; else choose another directory",
				ErrUnsafeTarget, dir, p, MarkerName)
		}
		return nil
	})
}

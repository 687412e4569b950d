// Package file is the local-folder store backend, the embedded default.
//
// Objects are plain files under a root folder. Writes go to a hidden temporary
// name in the target folder, are fsynced, and are then hard-linked into place:
// link(2) fails if the name exists, which makes create-only writes atomic even
// between processes, and the link either exists whole or not at all.
package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/logship/logship/store"
)

// tempPrefix starts the names of files being written. List never reports
// them; a crash can leave one behind, and purge may delete old ones.
const tempPrefix = ".tmp."

// Store keeps objects as files under Root.
type Store struct {
	Root string
	// like is what new files and folders get: the owner and mode of Root
	// (see Open). Nil leaves both to the process (umask, its own user).
	like *likeRoot
}

// likeRoot makes everything written into the store look like the store
// folder itself, whoever writes: root running backup or a restore test in
// a postgres-owned store must not leave files that the archiver (the
// postgres user) then cannot read, delete or purge.
type likeRoot struct {
	uid, gid int
	chown    bool        // only root may give files away
	dirMode  fs.FileMode // Root's permission bits (and setgid)
	fileMode fs.FileMode // the same without x, and never writable by others
}

func newLikeRoot(fi fs.FileInfo) *likeRoot {
	l := &likeRoot{uid: -1, gid: -1,
		dirMode:  fi.Mode() & (fs.ModePerm | fs.ModeSetgid),
		fileMode: fi.Mode().Perm() &^ 0o113}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		l.uid, l.gid, l.chown = int(st.Uid), int(st.Gid), true
	}
	return l
}

// apply gives a file or folder just created the store's owner and mode.
func (l *likeRoot) apply(f interface {
	Chown(int, int) error
	Chmod(fs.FileMode) error
}, dir bool) error {
	if l == nil {
		return nil
	}
	if l.chown {
		if err := f.Chown(l.uid, l.gid); err != nil {
			return err
		}
	}
	if dir {
		return f.Chmod(l.dirMode)
	}
	return f.Chmod(l.fileMode)
}

var _ store.Store = (*Store)(nil)

// ParseURL turns file:///abs/path (or a plain absolute path) into a folder.
func ParseURL(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") {
		return filepath.Clean(raw), nil
	}
	// Messages show the URL redacted: a pasted user:password@ or ?token=
	// must not reach logs.
	shown := store.RedactURL(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("%w: bad store URL %q: want file:///absolute/path or s3://bucket/prefix", store.ErrConfig, shown)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: bad store URL %q: a file URL holds no user or password", store.ErrConfig, shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return "", fmt.Errorf("%w: bad store URL %q: a file URL takes no query or fragment", store.ErrConfig, shown)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%w: bad store URL %q: a file URL has no host; write file:///%s%s", store.ErrConfig, shown, u.Host, u.Path)
	}
	if strings.Contains(u.Path, "://") {
		// file:/://user:secret@host: another URL pasted into this one.
		return "", fmt.Errorf("%w: bad store URL %q: the path holds \"://\"; want file:///absolute/path", store.ErrConfig, shown)
	}
	if u.Path == "" || !filepath.IsAbs(u.Path) {
		return "", fmt.Errorf("%w: bad store URL %q: the path must be absolute (file:///var/lib/logship)", store.ErrConfig, shown)
	}
	return filepath.Clean(u.Path), nil
}

// Open checks that root is an existing folder this user can read. It writes
// nothing, and does not ask for write access: reading commands (wal-fetch,
// restore, catalog list, verify --no-record) must work on a read-only copy,
// as a DR site often mounts it. A write into a folder this user cannot
// write fails with a configuration error (see notWritable).
func Open(root string) (*Store, error) {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: store folder %s does not exist: create it (mkdir -p %s) or fix --store", store.ErrConfig, root, root)
	case err != nil:
		return nil, fmt.Errorf("%w: store folder %s: %v", store.ErrConfig, root, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("%w: store %s is not a folder: fix --store", store.ErrConfig, root)
	}
	if err := syscall.Access(root, 0x4|0x1); err != nil { // R_OK|X_OK
		return nil, fmt.Errorf("%w: store folder %s is not readable by this user: fix its owner or mode", store.ErrConfig, root)
	}
	return &Store{Root: root, like: newLikeRoot(fi)}, nil
}

func (s *Store) String() string { return "file://" + s.Root }

func (s *Store) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.Root, filepath.FromSlash(key)), nil
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("invalid store key %q", key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." || strings.HasPrefix(el, tempPrefix) {
			return fmt.Errorf("invalid store key %q", key)
		}
	}
	return nil
}

// Put writes the object create-only and durably (see the package doc).
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	final, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(final)
	tmp, err := s.writeTempIn(ctx, dir, filepath.Base(final), body, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, s.notWritable(err))
	}
	defer os.Remove(tmp)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put %s: %w", key, store.ErrExist)
		}
		return fmt.Errorf("put %s: %w", key, err)
	}
	// The new name must survive a crash before we acknowledge it.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// writeTempIn creates dir and writes the temporary file in it. A Delete
// that emptied dir may remove it (and its empty parents) between the two
// steps, or a parent while mkdirAll works down; the temporary file, once
// there, keeps dir from being removed, so an ENOENT is retried from the
// mkdir.
func (s *Store) writeTempIn(ctx context.Context, dir, base string, body io.ReadSeeker, size int64) (string, error) {
	for attempt := 0; ; attempt++ {
		tmp := ""
		err := s.mkdirAll(dir)
		if err == nil {
			tmp, err = writeTemp(ctx, dir, base, body, size, s.like)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 99 {
			return tmp, err
		}
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
}

func writeTemp(ctx context.Context, dir, base string, body io.Reader, size int64, like *likeRoot) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := filepath.Join(dir, tempPrefix+base+"."+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	err = func() error {
		// Owner and mode are set before the link, so the object appears
		// under its name with them.
		if err := like.apply(f, false); err != nil {
			return err
		}
		if holdInPut != "" {
			// Crash tests kill the process here, with half the bytes written;
			// hold never returns.
			if _, err := io.CopyN(f, body, size/2); err != nil {
				return err
			}
			hold()
		}
		n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, body}, size+1))
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("body has %d bytes, want %d", n, size)
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// mkdirAll creates dir and fsyncs the parent of each folder it creates, so
// that a crash cannot lose a folder that holds an acknowledged object.
func (s *Store) mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && strings.HasPrefix(parent, s.Root) {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	} else if err == nil && s.like != nil {
		if err := s.like.apply(dirHandle(dir), true); err != nil {
			return err
		}
	}
	return syncDir(parent)
}

// dirHandle chowns and chmods a folder by name.
type dirHandle string

func (d dirHandle) Chown(uid, gid int) error     { return os.Lchown(string(d), uid, gid) }
func (d dirHandle) Chmod(mode fs.FileMode) error { return os.Chmod(string(d), mode) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// notWritable turns a refused write (mode bits, owner, read-only mount)
// into the configuration error Open used to give for every command: only
// a command that writes learns that the folder is read-only.
func (s *Store) notWritable(err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w: store folder %s is not writable by this user: fix its owner or mode, or its mount: %w", store.ErrConfig, s.Root, err)
	}
	return err
}

// Get opens the object's file.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, mapNotExist(err))
	}
	// A folder is where keys with this prefix live, never an object.
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotExist)
	}
	return f, nil
}

// Stat describes the object's file.
func (s *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, mapNotExist(err))
	}
	if fi.IsDir() {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, store.ErrNotExist)
	}
	return store.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// mapNotExist keeps "absent" distinct: ENOTDIR (a path element is a file)
// also means the object cannot exist.
func mapNotExist(err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return store.ErrNotExist
	}
	return err
}

// Delete removes the object's file; an absent one is fine.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, s.notWritable(err))
	}
	s.removeEmptyParents(filepath.Dir(p))
	return nil
}

// removeEmptyParents removes dir and its parents up to (not including) the
// root while they are empty, so that purge leaves no empty backups/<id>/
// folders behind. rmdir(2) refuses a folder that is not empty, which makes
// the check and the removal one step; a Put racing with it retries (see
// writeTempIn). Failing to remove a folder is not an error: it holds no
// object.
func (s *Store) removeEmptyParents(dir string) {
	root := filepath.Clean(s.Root)
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List walks the folders that can hold keys with the prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	return s.walk(ctx, "", prefix, fn)
}

func (s *Store) walk(ctx context.Context, dirKey, prefix string, fn func(store.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(s.Root, filepath.FromSlash(dirKey)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	// Keys sort as strings; a folder "a" holds keys "a/…", which sort after
	// a sibling "a.b", so sort folders by name+"/".
	type entry struct {
		sortKey string
		de      fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), tempPrefix) {
			continue
		}
		k := dirKey + de.Name()
		if de.IsDir() {
			k += "/"
		}
		// Filtered before sorting: a look-up of one record (a prefix
		// within a folder of thousands) sorts only what matches.
		if !strings.HasPrefix(k, prefix) && !strings.HasPrefix(prefix, k) {
			continue
		}
		list = append(list, entry{k, de})
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, e := range list {
		k := e.sortKey
		if e.de.IsDir() {
			if err := s.walk(ctx, k, prefix, fn); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		fi, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(store.ObjectInfo{Key: k, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

package restore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/incremental"
)

// maxLabelBytes bounds a backup_label read into memory (a few hundred
// bytes in practice).
const maxLabelBytes = 1 << 20

// applier lays one incremental backup's archive over what the older
// backups of its chain made of a directory: INCREMENTAL.<name> members are
// applied to <name> block by block (incremental.Apply), every other file
// replaces the older one. Each member is checked against the backup's own
// manifest (size and CRC-32C of the bytes as stored) while it streams.
type applier struct {
	ctx context.Context
	x   *extractor // its root, and mkdirs with the same symlink checks
	man *pg.Manifest
	// prefix maps a path inside the archive to the manifest's path.
	prefix       string
	inTablespace bool
	newest       bool
	full         bool            // a full backup: INCREMENTAL.<name> is a file like any
	seen         map[string]bool // manifest paths met, over all of a backup's archives
	dirs         map[string]bool // directories the archive holds
	label        []byte          // its backup_label as stored
	// budget is what the archive's parts hold, raw: its files cannot add up
	// to more (0: no bound).
	budget, written int64
}

func newApplier(ctx context.Context, root *os.Root, man *pg.Manifest, prefix string, inTablespace, newest bool, seen map[string]bool) *applier {
	return &applier{
		ctx: ctx,
		x: &extractor{ctx: ctx, root: root, dirs: map[string]bool{".": true},
			buf: make([]byte, extractCopyBufSize), crc: crc32.New(extractCastagnoli)},
		man: man, prefix: prefix, inTablespace: inTablespace, newest: newest, seen: seen,
		dirs: map[string]bool{".": true},
	}
}

// run reads the whole tar stream.
func (a *applier) run(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	name, err := extractEntryName(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		a.dirs[name] = true
	}
	if hdr.Typeflag != tar.TypeReg {
		// Directories are made as in a full backup; anything else is
		// refused as it is there.
		return a.x.entry(hdr, r)
	}
	if name == "." || hdr.Size < 0 {
		return fmt.Errorf("bad regular file entry (size %d)", hdr.Size)
	}
	if isSparse(hdr) || sparseEntry(hdr) {
		return errors.New("sparse file refused: a base backup never holds one, and its holes could expand far beyond the archive")
	}
	mp := a.prefix + name
	mf, listed := a.man.File(mp)
	switch {
	case !listed && !pg.ManifestIgnored(mp):
		return errors.New("not in the backup's manifest")
	case a.seen[mp]:
		return errors.New("in the archive twice")
	case listed && mf.Size != hdr.Size:
		// Checked before writing: a forged size must not fill the disk.
		return fmt.Errorf("has %d bytes, the manifest says %d", hdr.Size, mf.Size)
	case a.budget > 0 && hdr.Size > a.budget-a.written:
		return fmt.Errorf("%d bytes, more than the archive's parts hold", hdr.Size)
	}
	a.written += hdr.Size
	a.seen[mp] = true
	if err := a.x.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	crc := crc32.New(extractCastagnoli)
	cr := &countReader{r: io.TeeReader(io.LimitReader(r, hdr.Size), crc)}
	if err := a.file(name, cr); err != nil {
		return err
	}
	// Whatever the member's handler left unread still counts.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	switch {
	case cr.n != hdr.Size:
		return fmt.Errorf("short file: %d of %d bytes", cr.n, hdr.Size)
	case listed && !mf.MatchesCRC32C(crc.Sum32()):
		return fmt.Errorf("has CRC-32C %s, the manifest says %s", pg.ManifestCRC32CText(crc.Sum32()), mf.Checksum)
	}
	return nil
}

// file writes one member: applied, replaced, or (backup_label) kept too.
func (a *applier) file(name string, r io.Reader) error {
	if target, ok := incremental.Target(name, a.inTablespace); ok && !a.full {
		f, err := a.openRegular(target, os.O_RDWR)
		if err != nil {
			return fmt.Errorf("no older version of %s to apply it to (a backup of the chain lacks it): %w", target, err)
		}
		_, err = incremental.Apply(f, r, a.newest)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if name == "backup_label" && !a.inTablespace {
		raw, err := io.ReadAll(io.LimitReader(r, maxLabelBytes+1))
		if err != nil {
			return err
		}
		if len(raw) > maxLabelBytes {
			return fmt.Errorf("more than %d bytes", maxLabelBytes)
		}
		a.label = raw
		if a.newest {
			// PostgreSQL refuses to start from a label that still says
			// INCREMENTAL FROM.
			raw = incremental.StripLabel(raw)
		}
		r = strings.NewReader(string(raw))
	}
	f, err := a.openRegular(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(f, extractCtxReader{a.ctx, r}, a.x.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openRegular opens name inside the root, refusing anything but a regular
// file (an older backup never leaves a link there, but the check is cheap).
func (a *applier) openRegular(name string, flag int) (*os.File, error) {
	fi, err := a.x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s exists and is not a regular file", name)
	}
	return a.x.root.OpenFile(name, flag, 0o600)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// missingMembers lists the manifest's files that no archive of the backup
// held: the ignored ones aside, and those under a skipped prefix (a
// tablespace the newest backup no longer has).
func missingMembers(man *pg.Manifest, seen map[string]bool, skipped []string) []string {
	var out []string
	for _, f := range man.Files {
		if !seen[f.Path] && !pg.ManifestIgnored(f.Path) && !hasAnyPrefix(f.Path, skipped) {
			out = append(out, f.Path)
		}
	}
	return out
}

// removeUnlisted deletes under root (the tree of manifest prefix) the files
// a backup's manifest does not list, its INCREMENTAL.<name> entries
// counting as <name>: a file the backup lacks was deleted before it was
// taken. With dirs (the newest backup's directories), it then removes the
// empty directories the archive did not hold (a dropped database's).
// Symbolic links (pg_tblspc) are left alone.
func removeUnlisted(root string, man *pg.Manifest, prefix string, inTablespace bool, dirs map[string]bool) error {
	keep := map[string]bool{}
	for _, f := range man.Files {
		rel, ok := strings.CutPrefix(f.Path, prefix)
		if !ok {
			continue
		}
		target, _ := incremental.Target(rel, inTablespace)
		keep[target] = true
	}
	var emptyDirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if dirs != nil && rel != "." && !dirs[rel] {
				emptyDirs = append(emptyDirs, p)
			}
		case d.Type().IsRegular() && !keep[rel] && !pg.ManifestIgnored(prefix+rel):
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Deepest first; a directory still holding something stays.
	sort.Sort(sort.Reverse(sort.StringSlice(emptyDirs)))
	for _, d := range emptyDirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return err
		}
	}
	return nil
}

func hasAnyPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

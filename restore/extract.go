package restore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// ExtractedFile is one regular file written by ExtractTar. Path is relative to the
// extraction directory, slash-separated, in the form backup_manifest uses.
type ExtractedFile struct {
	Path   string
	Size   int64
	CRC32C uint32
}

var extractCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// extractCopyBufSize is large enough that a 1 GiB relation segment is copied in few
// syscalls, small enough that memory stays bounded whatever the archive holds.
const extractCopyBufSize = 1 << 20

// ExtractTar writes the tar stream r into dir, which must exist and should be empty.
//
// It refuses, before writing anything for the offending entry and with an error naming
// it, any entry that is absolute, has a ".." component, would resolve outside dir, has a
// parent that is a symlink, is a symlink, hard link, device, fifo or sparse file, or whose path
// already exists as a file (a second copy of a name must never silently replace the
// first). Symlinks are refused outright: PostgreSQL only sends them for tablespaces
// (pg_tblspc/<oid>), which logship does not back up yet. Entries already written stay
// on disk when an error is returned; the caller owns cleaning dir.
//
// Files get mode 0600 and directories 0700 whatever the archive says, because
// PostgreSQL refuses to start on a data directory with wider permissions and needs to
// write its own files. Nothing is fsynced here; call SyncTree once at the end.
//
// The returned list holds every regular file with its size and its CRC-32C, computed
// while writing, for VerifyManifest.
func ExtractTar(ctx context.Context, r io.Reader, dir string) ([]ExtractedFile, error) {
	return ExtractTarLimited(ctx, r, dir, ExtractLimits{})
}

// ExtractTarLimited is ExtractTar that also refuses, before writing a byte of
// it, a file that would take the extraction beyond limits.
func ExtractTarLimited(ctx context.Context, r io.Reader, dir string, limits ExtractLimits) ([]ExtractedFile, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open extraction dir: %w", err)
	}
	defer root.Close()

	x := &extractor{
		ctx:    ctx,
		root:   root,
		dirs:   map[string]bool{".": true},
		buf:    make([]byte, extractCopyBufSize),
		crc:    crc32.New(extractCastagnoli),
		limits: limits,
	}
	if limits.Manifest != nil {
		for _, f := range limits.Manifest.Files {
			x.listed += f.Size
		}
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return x.files, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return x.files, nil
		}
		if err != nil {
			return x.files, fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.files, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
}

type extractor struct {
	ctx   context.Context
	root  *os.Root
	dirs  map[string]bool // directories known to be real directories inside root
	files []ExtractedFile
	buf   []byte
	crc   hash.Hash32
	// limits bound the files; written is what they were given so far.
	limits  ExtractLimits
	listed  int64 // the total of the manifest's sizes
	written int64
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := extractEntryName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if name == "." {
			return nil
		}
		return x.mkdirs(name)
	case tar.TypeReg:
		if name == "." {
			return errors.New("regular file entry names the extraction directory itself")
		}
		if isSparse(hdr) {
			return errors.New("sparse file refused: a base backup never contains one, and its holes could expand far beyond the archive")
		}
		if hdr.Size < 0 {
			return fmt.Errorf("negative size %d", hdr.Size)
		}
		if sparseEntry(hdr) {
			// Its few stored bytes expand to hdr.Size: a 3.5 KB entry can
			// claim gigabytes of zeros.
			return errors.New("sparse file refused: a base backup never holds one")
		}
		if err := x.allow(name, hdr.Size); err != nil {
			return err
		}
		x.written += hdr.Size
		if err := x.mkdirs(path.Dir(name)); err != nil {
			return err
		}
		return x.writeFile(name, hdr.Size, r)
	case tar.TypeSymlink:
		return fmt.Errorf("symlink to %q refused: a logship backup holds none (tablespaces come as archives of their own)", hdr.Linkname)
	case tar.TypeLink:
		return fmt.Errorf("hard link to %q refused: a base backup never contains hard links", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return errors.New("device file refused")
	case tar.TypeFifo:
		return errors.New("fifo refused")
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// isSparse reports a PAX GNU sparse entry, which archive/tar hands over as
// a regular file whose holes it fills with zeros: a few kilobytes of
// archive could write exabytes.
func isSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// extractEntryName turns a tar entry name into a clean relative slash path, refusing
// names that could leave the extraction directory before any resolution happens.
func extractEntryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.ContainsRune(name, 0) {
		return "", errors.New("name contains a NUL byte")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path refused")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New(`path with ".." refused`)
		}
	}
	// After the checks above Clean can only drop "." parts and duplicate slashes; it
	// can no longer climb.
	return path.Clean(name), nil
}

// mkdirs makes sure every component of name is a real directory inside the root,
// creating what is missing. An existing component that is a symlink is refused even
// when it points inside the root: the archive must not be able to redirect its own
// files.
func (x *extractor) mkdirs(name string) error {
	if x.dirs[name] {
		return nil
	}
	if parent := path.Dir(name); parent != name {
		if err := x.mkdirs(parent); err != nil {
			return err
		}
	}
	fi, err := x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(name, 0o700); err != nil {
			return fmt.Errorf("create directory %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("stat %s: %w", name, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("path goes through symlink %s", name)
	case !fi.IsDir():
		return fmt.Errorf("%s exists and is not a directory", name)
	}
	x.dirs[name] = true
	return nil
}

func (x *extractor) writeFile(name string, size int64, r io.Reader) error {
	// O_EXCL: a name that already exists (a duplicate entry, or anything left in dir)
	// is an error rather than an overwrite, and an existing symlink is never followed.
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	x.crc.Reset()
	w := io.MultiWriter(f, x.crc)
	n, err := io.CopyBuffer(w, extractCtxReader{x.ctx, io.LimitReader(r, size)}, x.buf)
	if err == nil && n != size {
		err = fmt.Errorf("short file: %d of %d bytes", n, size)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	x.files = append(x.files, ExtractedFile{Path: name, Size: size, CRC32C: x.crc.Sum32()})
	return nil
}

// extractCtxReader stops a long copy (relation files are up to 1 GiB) when ctx ends.
type extractCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c extractCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ExtractLimits bound what an extraction may write by what the backup's
// record and manifest say, so that a small damaged or hostile part cannot
// fill the disk before the manifest is checked at the end.
type ExtractLimits struct {
	// StreamBytes is the length of the tar stream, the sum of the raw sizes
	// the record gives the parts: its files cannot hold more. 0: no bound.
	StreamBytes int64
	// Manifest, when set, gives every file its size: a file of another
	// size, or one it does not list (the files pg_verifybackup ignores
	// aside), is refused. The files together may not exceed its total
	// plus unlistedAllowance.
	Manifest *pg.Manifest
}

// unlistedAllowance is what files a manifest does not list may hold in
// all: a logship backup holds no WAL, and the other files pg_verifybackup
// ignores (signal files, postgresql.auto.conf) are small.
const unlistedAllowance = 16 << 20

// NewExtractLimits bounds the extraction of a backup's parts by their raw
// sizes and, when it parses, by its manifest. An unparseable manifest
// bounds nothing here: the check after the extraction reports it.
func NewExtractLimits(parts []catalog.BackupPart, manifest []byte) ExtractLimits {
	var l ExtractLimits
	for _, p := range parts {
		l.StreamBytes += p.RawSize
	}
	if m, err := pg.ParseManifest(manifest); err == nil {
		l.Manifest = m
	}
	return l
}

// allow checks a file of size bytes about to be written.
func (x *extractor) allow(name string, size int64) error {
	l, written := x.limits, x.written
	if l.Manifest != nil {
		mf, listed := l.Manifest.File(name)
		switch {
		case listed && size != mf.Size:
			return fmt.Errorf("%d bytes, the backup manifest says %d", size, mf.Size)
		case !listed && !pg.ManifestIgnored(name):
			return errors.New("not in the backup manifest")
		}
		if size > x.listed+unlistedAllowance-written {
			return fmt.Errorf("%d bytes would take the files beyond the %d bytes the backup manifest lists", size, x.listed)
		}
	}
	if l.StreamBytes > 0 && size > l.StreamBytes-written {
		return fmt.Errorf("%d bytes would take the files beyond the %d bytes of the backup's parts", size, l.StreamBytes)
	}
	return nil
}

// sparseEntry reports a GNU sparse file in PAX form, which archive/tar
// expands transparently (the old GNU form is a type of its own, refused as
// unsupported).
func sparseEntry(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

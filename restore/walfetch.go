package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
)

// ErrAbsent means the store positively answered that the WAL file is not
// there, neither recorded nor stored, for a source that exists. It is the
// only failure PostgreSQL may read as "end of archive".
var ErrAbsent = errors.New("not in the archive")

// FetchWAL writes the WAL file name to dest, verified. The object is
// checked against its catalog record (catalog.OpenWAL) before it is used,
// and the file appears at dest only whole and checked: it is decoded into
// a temporary file beside dest and renamed when its size and SHA-256 match. Errors other than
// ErrAbsent mean the archive is damaged or unreachable and recovery must stop.
func FetchWAL(ctx context.Context, cat *catalog.Catalog, name, dest string) (object.Header, error) {
	return fetchOpened(ctx, cat, name, dest, cat.OpenWAL, nil)
}

// fetchOpened is FetchWAL with the object opened by open (catalog.OpenWAL,
// or a prefetch window's Open, which checks the same records). The bytes
// written to dest also go to tee, if not nil.
func fetchOpened(ctx context.Context, cat *catalog.Catalog, name, dest string, open func(context.Context, string) (*catalog.Object, error), tee io.Writer) (object.Header, error) {
	// Validating against the smallest segment size accepts every valid name.
	if _, err := pg.ParseWALFileName(name, 1<<20); err != nil {
		return object.Header{}, err
	}
	o, err := open(ctx, name)
	if errors.Is(err, catalog.ErrNotExist) {
		return fetchStreamed(ctx, cat, name, dest) // else confirmAbsent
	}
	if err != nil {
		return object.Header{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer o.Close()
	h := o.Header()
	guard := func(tmp string) error { return guardTablespaces(ctx, cat, name, tmp, dest) }
	var r io.Reader = o
	if tee != nil {
		r = io.TeeReader(o, tee)
	}
	if err := writeVerified(dest, r, guard); err != nil {
		return h, fmt.Errorf("fetch %s: %w", name, err)
	}
	return h, nil
}

// writeVerified copies r to a temporary file beside dest and renames it into
// place only when r ended without error (the object reader checks size and
// checksum at its end) and check accepts the temporary file.
func writeVerified(dest string, r io.Reader, check func(tmp string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*.logship-tmp")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = check(tmp.Name())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

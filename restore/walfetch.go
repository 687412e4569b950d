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
	"github.com/logship/logship/store"
)

// ErrAbsent means the store positively answered that the WAL file is not
// there. It is the only failure PostgreSQL may read as "end of archive".
var ErrAbsent = errors.New("not in the archive")

// FetchWAL writes the WAL file name to dest, verified. The file appears at
// dest only whole and checked: it is decoded into a temporary file beside
// dest and renamed when its size and SHA-256 match. Errors other than
// ErrAbsent mean the archive is damaged or unreachable and recovery must stop.
func FetchWAL(ctx context.Context, cat *catalog.Catalog, name, dest string) (object.Header, error) {
	// Validating against the smallest segment size accepts every valid name.
	if _, err := pg.ParseWALFileName(name, 1<<20); err != nil {
		return object.Header{}, err
	}
	rc, err := cat.Store().Get(ctx, cat.WALKey(name))
	if errors.Is(err, store.ErrNotExist) {
		return object.Header{}, fmt.Errorf("%s: %w", name, ErrAbsent)
	}
	if err != nil {
		return object.Header{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer rc.Close()
	or, err := object.NewReader(rc)
	if err != nil {
		return object.Header{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer or.Close()
	h := or.Header()
	if h.Name != name {
		return h, fmt.Errorf("fetch %s: the stored object holds %q: the store is damaged", name, h.Name)
	}
	guard := func(tmp string) error { return guardTablespaces(ctx, cat, name, tmp, dest) }
	if err := writeVerified(dest, or, guard); err != nil {
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

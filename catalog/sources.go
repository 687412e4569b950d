package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logship/logship/store"
)

// ErrUnknownSource means a reading command named a source that has no
// source record in the store: most likely a typo, which must not pass for
// an empty source.
var ErrUnknownSource = errors.New("unknown source")

// StoreID names the catalog's store for a cache of what it holds (wal-push
// caches its source record): the store's own ID when it has one (S3 adds
// its endpoint and region: two servers may have buckets of one name), its
// URL otherwise.
func (c *Catalog) StoreID() string {
	if s, ok := c.st.(interface{ ID() string }); ok {
		return s.ID()
	}
	return c.st.String()
}

// StoreSources lists the sources in the catalog's store, sorted: the names
// that have a source record (<source>/catalog/source). It reads the whole
// listing of the store (the store interface has no folder listing), so it
// is for `logship sources` and error messages, not for every command.
func (c *Catalog) StoreSources(ctx context.Context) ([]Source, error) {
	var names []string
	err := c.st.List(ctx, "", func(oi store.ObjectInfo) error {
		name, rest, ok := strings.Cut(oi.Key, "/")
		if ok && rest == "catalog/source" && ValidSourceName(name) == nil {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the sources of %s: %w", c.st, err)
	}
	out := make([]Source, 0, len(names))
	for _, n := range names {
		s, err := New(c.st, n).Source(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// RequireSource answers nil when the catalog's source has a source record,
// and otherwise an error wrapping ErrUnknownSource that names the sources
// the store does have. Reading commands call it first, so that a mistyped
// --source is an error rather than "nothing shipped yet".
func (c *Catalog) RequireSource(ctx context.Context) error {
	_, err := c.Source(ctx)
	if !errors.Is(err, ErrNoSource) {
		return err
	}
	return fmt.Errorf("%w %q: %s", ErrUnknownSource, c.source, c.SourcesHint(ctx))
}

// SourcesHint says which sources the store has, for a message about a
// source it lacks.
func (c *Catalog) SourcesHint(ctx context.Context) string {
	srcs, err := c.StoreSources(ctx)
	switch {
	case err != nil:
		return fmt.Sprintf("nothing was shipped to it in %s (cannot list the sources there: %v)", c.st, err)
	case len(srcs) == 0:
		return fmt.Sprintf("%s has no sources yet: nothing was shipped there (check --store, and archive_command)", c.st)
	}
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.Name
	}
	return fmt.Sprintf("%s has %s (see logship sources); check --source", c.st, strings.Join(names, ", "))
}

package restore

import (
	"context"
	"errors"
	"fmt"

	"github.com/logship/logship/catalog"
)

// confirmAbsent decides what "no such object and no record" means. It is
// the end of the archive only when the source itself is there: an empty
// store folder (a mount that is not mounted), a misspelt source or prefix,
// or a source record that cannot be read all look like an empty archive,
// and answering "absent" for them would make PostgreSQL end recovery early
// and promote with whatever it had replayed.
func confirmAbsent(ctx context.Context, cat *catalog.Catalog, name string) error {
	_, err := cat.Source(ctx)
	switch {
	case err == nil:
		return fmt.Errorf("%s: %w", name, ErrAbsent)
	case errors.Is(err, catalog.ErrNoSource):
		return fmt.Errorf("fetch %s: %w: the store is empty or not mounted, or the store URL or source name is wrong; "+
			"refusing to report the end of the archive", name, err)
	}
	return fmt.Errorf("fetch %s: read the source record: %w", name, err)
}

package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/logship/logship/store"
)

// WALWindow holds the catalog records of a run of WAL files, read with one
// listing per group of names that share all but their last two characters
// (256 segments of 16 MiB), instead of one listing per file: recovery
// prefetching a window of segments asks the store once for all of them.
type WALWindow struct {
	c    *Catalog
	recs map[string][]WALRecord
}

// WALWindow lists the records of names (WAL file names of equal length).
func (c *Catalog) WALWindow(ctx context.Context, names []string) (*WALWindow, error) {
	w := &WALWindow{c: c, recs: map[string][]WALRecord{}}
	want := map[string]bool{}
	groups := map[string]bool{}
	for _, n := range names {
		want[n] = true
		if len(n) < 2 {
			return nil, fmt.Errorf("WAL file name %q is too short", n)
		}
		groups[n[:len(n)-2]] = true
	}
	prefix := c.walRecordPrefix()
	for g := range groups {
		err := c.st.List(ctx, prefix+g, func(oi store.ObjectInfo) error {
			// Only the keys walRecords would list for a name of the
			// window: another file's records are not this window's
			// business, even malformed.
			name, _, ok := strings.Cut(strings.TrimPrefix(oi.Key, prefix), recordSep)
			if !ok || !want[name] {
				return nil
			}
			r, err := parseWALRecordKey(oi.Key, prefix)
			if err != nil {
				return err
			}
			w.recs[r.Name] = append(w.recs[r.Name], r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Open is OpenWAL for a name of the window, checked against the records
// the window listed.
func (w *WALWindow) Open(ctx context.Context, name string) (*Object, error) {
	o, err := w.c.openChecked(ctx, w.c.walKey(name), expect{name: name})
	return w.c.finishWAL(ctx, name, o, err, w.recs[name])
}

// Recorded reports whether the window listed a record of name. A file
// without one is either not stored or the last of a primary that died
// between its object and its record: prefetching leaves both to
// PostgreSQL's own request.
func (w *WALWindow) Recorded(name string) bool { return len(w.recs[name]) > 0 }

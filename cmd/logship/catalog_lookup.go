package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store"
)

// listOutput is what catalog list --json prints: the listing, with every
// WAL record only under --wal, since a long archive holds hundreds of
// thousands and the timelines already give their ranges.
type listOutput struct {
	catalog.Listing
	WAL *[]catalog.WALEntry `json:"wal,omitempty"` // shadows Listing.WAL
}

// showOutput is what catalog show --json prints: exactly one of its
// fields, after what the name turned out to be.
type showOutput struct {
	WAL    *catalog.WALInfo `json:"wal,omitempty"`
	Backup *catalog.Backup  `json:"backup,omitempty"`
	Mark   *catalog.Mark    `json:"mark,omitempty"`
	others []catalog.Mark   // more records of the same mark name
}

// lookupName finds what a name given to catalog show is: a WAL file, a
// backup id or a mark, in that order, so that a WAL name always means the
// WAL file.
func lookupName(ctx context.Context, cat *catalog.Catalog, name string) (showOutput, error) {
	rec, err := cat.LookupWAL(ctx, name)
	if err == nil {
		info, err := cat.Describe(ctx, rec)
		return showOutput{WAL: &info}, err
	}
	if !errors.Is(err, store.ErrNotExist) {
		return showOutput{}, err
	}
	if !strings.ContainsAny(name, "/\\") && name != "" && !strings.HasPrefix(name, ".") {
		b, err := cat.FindBackup(ctx, name)
		if err == nil {
			return showOutput{Backup: &b}, nil
		}
		if !errors.Is(err, store.ErrNotExist) {
			return showOutput{}, err
		}
	}
	if catalog.ValidMarkName(name) == nil {
		marks, err := cat.Marks(ctx)
		if err != nil {
			return showOutput{}, err
		}
		var found []catalog.Mark
		for _, m := range marks {
			if m.Name == name {
				found = append(found, m)
			}
		}
		if len(found) > 0 {
			return showOutput{Mark: &found[0], others: found[1:]}, nil
		}
	}
	return showOutput{}, fmt.Errorf("%s is no WAL file, backup or mark of source %q: see logship catalog list", name, cat.SourceName())
}

// printWALRecords is catalog list --wal in text.
func printWALRecords(w io.Writer, records []catalog.WALEntry) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAL FILE\tKIND\tTIMELINE\tRAW\tSTORED")
	for _, r := range records {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Name, r.Kind, r.Timeline, humanBytes(r.RawSize), humanBytes(r.StoredSize))
	}
	tw.Flush()
}

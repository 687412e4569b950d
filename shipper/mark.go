package shipper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/sqlsource"
)

// MarkOptions tune a mark.
type MarkOptions struct {
	ConnString string
	// NoSwitch leaves the restore point in the current WAL segment, to be
	// shipped whenever it fills or archive_timeout passes.
	NoSwitch bool
	// Wait is how long to wait for the mark's segment, and every earlier
	// one a restore to the mark replays, to reach the store; 0 = 60 s.
	// Ignored with NoSwitch.
	Wait time.Duration
	// Notice, if set, is told what became of an earlier interrupted mark
	// of the same name (catalog.MarkClaim.Notice).
	Notice func(string)
}

// ErrMarkNotShipped means the restore point exists in the source's WAL (and
// is recorded) but its segment had not reached the store within the wait.
var ErrMarkNotShipped = errors.New("mark created but not shipped yet")

// Mark creates a restore point called name on the source, switches WAL so
// that it is shipped promptly, records it, and waits until it can be
// restored: its segment and every earlier one from the newest backup are in
// the store (WaitForMarkWAL). The name is reserved in the store first, so it is used at most once.
func Mark(ctx context.Context, cat *catalog.Catalog, name string, opts MarkOptions) (catalog.Mark, error) {
	if err := catalog.ValidMarkName(name); err != nil {
		return catalog.Mark{}, err
	}
	if opts.Wait <= 0 {
		opts.Wait = 60 * time.Second
	}
	src, err := cat.Source(ctx)
	if err != nil {
		return catalog.Mark{}, fmt.Errorf("%w: marks need a source that archives its WAL here: set archive_command to logship wal-push first", err)
	}
	conn, err := sqlsource.Connect(ctx, opts.ConnString)
	if err != nil {
		return catalog.Mark{}, fmt.Errorf("connect to the source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident, err := conn.Identity(ctx)
	if err != nil {
		return catalog.Mark{}, fmt.Errorf("read the source's system identifier: %w", err)
	}
	if err := src.Check(ident.SystemID); err != nil {
		return catalog.Mark{}, err
	}
	claim, err := cat.ClaimMark(ctx, name)
	if err != nil {
		return catalog.Mark{}, err
	}
	if n := claim.Notice(name); n != "" && opts.Notice != nil {
		opts.Notice(n)
	}
	var m catalog.Mark
	if claim.Completed != nil {
		// An interrupted run made and stored this mark: it is only shipped
		// now, not made again.
		m = *claim.Completed
	} else if m, err = makeMark(ctx, cat, conn, name); err != nil {
		return m, err
	}
	// Recovery stops before the record after the mark's, so the segment
	// that record starts in is needed: the mark's own, or the next one
	// when the mark's record ends exactly at a segment's end (where
	// pg_walfile_name would name the earlier one).
	walfile := pg.SegmentName(m.Timeline, pg.SegmentOf(m.LSN, src.SegmentSize), src.SegmentSize)
	if opts.NoSwitch {
		return m, nil
	}
	// The switch closes the segment of the record after the mark's.
	if err := conn.SwitchWAL(ctx); err != nil {
		return m, fmt.Errorf("switch WAL after mark %q: %w", name, err)
	}
	if err := WaitForMarkWAL(ctx, cat, m, walfile, opts.Wait); err != nil {
		return m, fmt.Errorf("%w: %w", ErrMarkNotShipped, err)
	}
	return m, nil
}

// makeMark creates the restore point of a reserved name and records it.
func makeMark(ctx context.Context, cat *catalog.Catalog, conn *sqlsource.Source, name string) (catalog.Mark, error) {
	holdMark("reserved")
	rp, err := conn.CreateRestorePoint(ctx, name)
	if err != nil {
		_ = cat.ReleaseMark(context.WithoutCancel(ctx), name)
		return catalog.Mark{}, fmt.Errorf("create restore point %q: %w", name, err)
	}
	m := catalog.Mark{Name: name, LSN: rp.LSN, Timeline: rp.Timeline, Time: rp.Time.UTC(), Source: cat.SourceName()}
	holdMark("made")
	// Recorded before the wait: the restore point exists in the WAL whatever
	// happens next, and the name must stay taken.
	if err := cat.AddMark(ctx, m); err != nil {
		return m, err
	}
	return m, nil
}

// markRecheck bounds how often WaitForMarkWAL lists the catalog while an
// earlier segment is still on its way: each look is a full listing.
const (
	markRecheckFirst = 200 * time.Millisecond
	markRecheckMax   = 2 * time.Second
)

// WaitForMarkWAL waits, up to wait in all, until the mark's own segment
// (walfile) is in the store, and then until every segment a restore to the
// mark replays is: from the newest backup before it up to walfile. Push
// ahead stores segments out of order, so the mark's segment can be there
// before an earlier one; a mark that returned then could not be restored
// yet. Without a backup before the mark there is nothing more to wait for:
// no restore can reach it.
func WaitForMarkWAL(ctx context.Context, cat *catalog.Catalog, m catalog.Mark, walfile string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	if err := WaitForWAL(ctx, cat, walfile, wait); err != nil {
		return err
	}
	pause := markRecheckFirst
	for {
		missing, err := markMissing(ctx, cat, m)
		if err != nil || missing == "" {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s is in the store, but %s, which a restore to mark %s replays before it, is not after %s: check archive_command and pg_stat_archiver on the source",
				ErrArchiveTimeout, walfile, missing, m.Name, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(pause, time.Until(deadline)+time.Millisecond)):
		}
		pause = min(2*pause, markRecheckMax)
	}
}

// markMissing names the first segment a restore to m lacks, "" when none
// does or when no backup lies before m.
func markMissing(ctx context.Context, cat *catalog.Catalog, m catalog.Mark) (string, error) {
	ch, err := cat.Chain(ctx)
	if err != nil {
		return "", fmt.Errorf("check the WAL of mark %s: %w", m.Name, err)
	}
	_, err = ch.ReachMark(m, nil)
	var re *catalog.ReachError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &re) && re.Attempt.ID != "" && len(re.Attempt.Missing) > 0:
		return re.Attempt.Missing[0].First, nil
	}
	return "", nil
}

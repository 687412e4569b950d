package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// DropStreamedPieces deletes the pieces of every segment whose full
// segment is recorded: the whole segment always wins over its pieces, so
// they are only a cost. It returns how many pieces it dropped. Each goes
// record first, then object, as purge deletes WAL: cut short, it leaves
// an object without record (an orphan), never a record without object.
func (c *Catalog) DropStreamedPieces(ctx context.Context) (int, error) {
	ps, err := c.ListWALPieces(ctx)
	if err != nil {
		return 0, fmt.Errorf("list WAL pieces: %w", err)
	}
	full := map[string]bool{}
	var drop []WALPiece
	for _, p := range ps {
		has, seen := full[p.Segment]
		if !seen {
			if has, err = c.hasFullRecord(ctx, p.Segment); err != nil {
				return 0, err
			}
			full[p.Segment] = has
		}
		if has {
			drop = append(drop, p)
		}
	}
	return len(drop), c.deletePieces(ctx, drop, func(key string) error { return c.st.Delete(ctx, key) })
}

// DropWALPieces deletes the pieces of one segment once it is recorded in
// full (after receive stored it whole): it answers 0 and deletes nothing
// while the segment is not recorded, so the tail is never lost.
func (c *Catalog) DropWALPieces(ctx context.Context, segment string) (int, error) {
	full, err := c.hasFullRecord(ctx, segment)
	if err != nil || !full {
		return 0, err
	}
	ps, err := c.WALPieces(ctx, segment)
	if err != nil {
		return 0, fmt.Errorf("list the pieces of %s: %w", segment, err)
	}
	return len(ps), c.deletePieces(ctx, ps, func(key string) error { return c.st.Delete(ctx, key) })
}

// deletePieces deletes each piece, record then object, with del (which
// may count, or tolerate retention).
func (c *Catalog) deletePieces(ctx context.Context, ps []WALPiece, del func(string) error) error {
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := del(c.pieceRecordKey(p)); err != nil {
			return fmt.Errorf("delete the record of %s: %w", p.Name(), err)
		}
		if err := del(c.pieceObjectKey(p)); err != nil {
			return fmt.Errorf("delete %s: %w", p.Name(), err)
		}
	}
	return nil
}

// PlannedPieces is what purge does with the pieces of one streamed
// segment, and why.
type PlannedPieces struct {
	Segment     string `json:"segment"`
	Pieces      int    `json:"pieces"`
	TailEnd     uint32 `json:"tail_end"`
	StoredBytes int64  `json:"stored_bytes"`
	Action      string `json:"action"`
	Reason      string `json:"reason"`
}

// planPieces judges the pieces of every streamed segment: those of a
// segment recorded in full go (the full segment always wins), and so do
// those of a segment before the cutoff, like the WAL there. The rest is
// kept: it may be the tail a restore needs. Piece objects without a record
// go as orphans on the same terms; any other may be a receiver's that is
// about to record it.
func (p *PurgePlan) planPieces(ctx context.Context, c *Catalog, ch *Chain, cutoff pg.LSN) error {
	ps, err := c.ListWALPieces(ctx)
	if err != nil {
		return fmt.Errorf("list WAL pieces: %w", err)
	}
	full := map[string]bool{}
	for _, r := range ch.WAL {
		full[r.Name] = true
	}
	cutSeg := pg.SegmentOf(cutoff, ch.SegmentSize)
	why := func(segment string) string {
		f, err := pg.ParseWALFileName(segment, ch.SegmentSize)
		switch {
		case full[segment]:
			return "the full segment is stored"
		case err == nil && cutoff != 0 && f.SegNo < cutSeg:
			return fmt.Sprintf("before %s, the start of the oldest kept backup", cutoff)
		}
		return ""
	}
	recorded := map[string]bool{}
	for i := 0; i < len(ps); {
		j := i
		pp := PlannedPieces{Segment: ps[i].Segment, Action: ActionKeep, Reason: "the segment is not stored in full: its tail is the newest WAL"}
		for ; j < len(ps) && ps[j].Segment == pp.Segment; j++ {
			pp.Pieces++
			pp.StoredBytes += ps[j].StoredSize
			recorded[c.pieceObjectKey(ps[j])] = true
		}
		_, pp.TailEnd = contiguousRun(ps[i:j])
		if r := why(pp.Segment); r != "" {
			pp.Action, pp.Reason = ActionDelete, r
			p.delPieces = append(p.delPieces, ps[i:j]...)
		}
		p.Pieces = append(p.Pieces, pp)
		i = j
	}
	prefix := c.pieceObjectPrefix("")
	err = c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		segment, _, _ := strings.Cut(strings.TrimPrefix(oi.Key, prefix), "/")
		if recorded[oi.Key] || why(segment) == "" {
			return nil
		}
		p.Orphans = append(p.Orphans, PlannedOrphan{Key: oi.Key, Size: oi.Size,
			Reason: "WAL piece without a record: " + why(segment)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list WAL piece objects: %w", err)
	}
	return nil
}

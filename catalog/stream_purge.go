package catalog

import (
	"context"
	"fmt"
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

package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// addStreamedTail extends a plan without target by the segment after its
// last one when the store holds that segment only as pieces streamed by
// `logship receive` (the primary died in the middle of it): wal-fetch
// serves their tail, and replay must then get to the end of the last
// record wholly in it (StreamedEnd), which CheckReachedEnd holds it to. A
// tail that does not follow the plan's last segment is never asked for and
// is left out. A tail that cannot be read (a piece missing, damaged, or
// disagreeing with another) fails the plan: wal-fetch would stop recovery
// on it anyway, after the restore had cleared its target.
func (p *Plan) addStreamedTail(ctx context.Context, cat *catalog.Catalog, last pg.TimelineID, lastSeg uint64) error {
	seg, _, ok, err := cat.StreamedTail(ctx)
	if err != nil {
		return fmt.Errorf("look for a streamed tail: %w", err)
	}
	if !ok {
		return nil
	}
	wf, err := pg.ParseWALFileName(seg, p.SegmentSize)
	if err != nil || wf.Kind != pg.Segment || wf.Timeline != last || wf.SegNo != lastSeg+1 {
		return nil
	}
	rc, end, err := cat.OpenStreamedSegment(ctx, seg, uint32(p.SegmentSize))
	if err != nil {
		if errors.Is(err, catalog.ErrNotExist) {
			return nil // no piece from its first byte: nothing PostgreSQL could use
		}
		return fmt.Errorf("read the streamed tail of %s: %w", seg, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read the streamed tail of %s: %w", seg, err)
	}
	recEnd, whole, err := pg.WholeRecordsEnd(data, int(end))
	if err != nil {
		return fmt.Errorf("read the streamed tail of %s: %w", seg, err)
	}
	p.StreamedWAL, p.StreamedBytes = seg, end
	if whole {
		p.StreamedEnd = recEnd
	}
	return nil
}

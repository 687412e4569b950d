package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// maxStreamedSegments bounds how many segments stored only as pieces a
// plan follows after its last recorded one. Normally there is one, the
// segment the receiver was streaming; more mean that storing the full
// segments failed while the pieces were stored.
const maxStreamedSegments = 64

// addStreamedTail extends a plan without target by the segments after its
// last one that the store holds only as pieces streamed by `logship
// receive` (the primary died before they were stored in full): wal-fetch
// serves their tails, and replay must then get to the end of the last
// record wholly in them (StreamedEnd), which CheckReachedEnd holds it to.
// A segment whose pieces cover it wholly leads on to the next; one whose
// tail ends inside it is the last. A tail that cannot be read (a piece
// missing, damaged, or disagreeing with another) fails the plan: wal-fetch
// would stop recovery on it anyway, after the restore had cleared its
// target.
func (p *Plan) addStreamedTail(ctx context.Context, cat *catalog.Catalog, tli pg.TimelineID, lastSeg uint64) error {
	for k := uint64(1); k <= maxStreamedSegments; k++ {
		seg := pg.SegmentName(tli, lastSeg+k, p.SegmentSize)
		rc, end, err := cat.OpenStreamedSegment(ctx, seg, uint32(p.SegmentSize))
		if errors.Is(err, catalog.ErrNotExist) {
			return nil // no piece from its first byte: PostgreSQL's WAL ends before
		}
		if err != nil {
			return fmt.Errorf("read the streamed tail of %s: %w", seg, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
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
		if uint64(end) < p.SegmentSize {
			return nil
		}
	}
	return nil
}

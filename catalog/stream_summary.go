package catalog

import (
	"context"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// StreamedTailInfo describes the newest streamed tail (StreamedTail) for
// people and monitoring: how far the receiver stored the WAL, and how long
// ago it last stored any. What is not stored is unknowable offline (the
// primary's position is not in the store), so the RPO in bytes is shown as
// the LSN streamed up to, and in time as the newest piece's age.
type StreamedTailInfo struct {
	Segment  string `json:"segment"`
	Timeline uint32 `json:"timeline"`
	// TailEnd is the bytes of the segment contiguous from offset 0.
	TailEnd uint32 `json:"tail_end"`
	// StreamedUpTo is the LSN of TailEnd: a restore without target
	// replays up to the last whole record before it.
	StreamedUpTo pg.LSN    `json:"streamed_up_to"`
	Pieces       int       `json:"pieces"`
	StoredBytes  int64     `json:"stored_bytes"`
	NewestPiece  time.Time `json:"newest_piece_time"`
	AgeSeconds   float64   `json:"age_seconds"`
}

// StreamedTailInfo answers the newest streamed tail as of now, or nil when
// there is none (no pieces, or all of segments stored in full). segSize is
// the source's segment size.
func (c *Catalog) StreamedTailInfo(ctx context.Context, segSize uint64, now time.Time) (*StreamedTailInfo, error) {
	seg, end, ok, err := c.StreamedTail(ctx)
	if err != nil || !ok || !pg.ValidSegmentSize(segSize) {
		return nil, err
	}
	wf, err := pg.ParseWALFileName(seg, segSize)
	if err != nil {
		return nil, nil // another segment size's name: nothing to show
	}
	ps, err := c.WALPieces(ctx, seg)
	if err != nil {
		return nil, err
	}
	info := &StreamedTailInfo{Segment: seg, Timeline: uint32(wf.Timeline), TailEnd: end,
		StreamedUpTo: pg.SegmentStart(wf.SegNo, segSize) + pg.LSN(end), Pieces: len(ps)}
	for _, p := range ps {
		info.StoredBytes += p.StoredSize
	}
	// The objects' times: a record's key has none.
	err = c.st.List(ctx, c.pieceObjectPrefix(seg), func(oi store.ObjectInfo) error {
		if oi.ModTime.After(info.NewestPiece) {
			info.NewestPiece = oi.ModTime.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !info.NewestPiece.IsZero() {
		info.AgeSeconds = now.Sub(info.NewestPiece).Seconds()
	}
	return info, nil
}

package receive

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// startPoint is where a session starts streaming: always a segment's first
// byte, so that the receiver holds the whole segment when it finishes it;
// the bytes below stored are in the store already and are not stored again.
type startPoint struct {
	tli    pg.TimelineID
	segNo  uint64
	stored uint32
}

func (p startPoint) lsn(segSize uint64) pg.LSN { return pg.SegmentStart(p.segNo, segSize) }

// after orders start points by timeline, then position.
func (p startPoint) after(q startPoint) bool {
	if p.tli != q.tli {
		return p.tli > q.tli
	}
	return p.segNo > q.segNo || p.segNo == q.segNo && p.stored > q.stored
}

// resumeFrom picks the start: the store's end (the streamed tail, or the
// segment after the newest one stored in full, whichever is newer), unless
// the slot has moved past it (that WAL is gone from the server; the
// archive has it or nothing has); the server's current segment when
// neither knows anything.
func resumeFrom(ctx context.Context, cat *catalog.Catalog, conn *pgconn.PgConn, srv server, slot string) (startPoint, error) {
	fromStore, okStore, err := storeEnd(ctx, cat, srv.segSize)
	if err != nil {
		return startPoint{}, err
	}
	st, _, err := readSlot(ctx, conn, slot)
	if err != nil {
		return startPoint{}, err
	}
	okSlot := st.restart != 0
	fromSlot := startPoint{tli: st.tli, segNo: pg.SegmentOf(st.restart, srv.segSize)}
	switch {
	case okStore && (!okSlot || fromStore.segNo >= fromSlot.segNo):
		return onServerTimeline(ctx, conn, srv, fromStore)
	case okSlot:
		return onServerTimeline(ctx, conn, srv, fromSlot)
	}
	return startPoint{tli: srv.timeline, segNo: pg.SegmentOf(srv.flushed, srv.segSize)}, nil
}

// onServerTimeline moves a start point on an older timeline than the
// server's to the timeline that holds it in the server's history (a start
// past the old timeline's switch point is on a newer one), as a standby
// asks for its start point's timeline. The stored bytes were of the old
// timeline's segment, so a moved start stores its segment from byte 0.
func onServerTimeline(ctx context.Context, conn *pgconn.PgConn, srv server, sp startPoint) (startPoint, error) {
	if sp.tli >= srv.timeline {
		return sp, nil
	}
	h, err := pglogrepl.TimelineHistory(ctx, conn, int32(srv.timeline))
	if err != nil {
		return sp, fmt.Errorf("TIMELINE_HISTORY %d: %w", srv.timeline, err)
	}
	entries, err := pg.CheckHistoryFile(srv.timeline, h.Content)
	if err != nil {
		return sp, fmt.Errorf("history of timeline %d: %w", srv.timeline, err)
	}
	if tli := pg.TimelineOf(entries, srv.timeline, sp.lsn(srv.segSize)); tli != sp.tli {
		sp.tli, sp.stored = tli, 0
	}
	return sp, nil
}

// storeEnd is where what the store holds of the source ends.
func storeEnd(ctx context.Context, cat *catalog.Catalog, segSize uint64) (startPoint, bool, error) {
	var best startPoint
	found := false
	err := cat.ListWAL(ctx, func(r catalog.WALRecord) error {
		wf, err := pg.ParseWALFileName(r.Name, segSize)
		if err != nil || wf.Kind != pg.Segment {
			return nil
		}
		p := startPoint{tli: wf.Timeline, segNo: wf.SegNo + 1}
		if !found || p.after(best) {
			best, found = p, true
		}
		return nil
	})
	if err != nil {
		return startPoint{}, false, err
	}
	seg, end, ok, err := cat.StreamedTail(ctx)
	if err != nil || !ok {
		return best, found, err
	}
	wf, err := pg.ParseWALFileName(seg, segSize)
	if err != nil {
		return best, found, nil // not this cluster's segment size: ignore
	}
	p := startPoint{tli: wf.Timeline, segNo: wf.SegNo, stored: end}
	if !found || p.after(best) {
		best, found = p, true
	}
	return best, found, nil
}

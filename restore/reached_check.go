package restore

import (
	"errors"
	"fmt"

	"github.com/logship/logship/pg"
)

// ErrShortReplay means a restore without target ended recovery before the
// newest segment the catalog holds: PostgreSQL took some failure for the
// end of the archive and promoted with less than the archive holds.
var ErrShortReplay = errors.New("replay ended before the end of the archive")

// CheckReachedEnd checks, for a plan without target, that replay got into
// the plan's last segment, the newest the catalog held on the plan's
// timeline path when the restore was planned. replayEnd is the end of the
// last record replayed (pg_last_wal_replay_lsn, which keeps that value once
// the server has promoted). Recovery that read segment N to its end ends
// past its start, at the earliest with N's segment-switch record; recovery
// that stopped in an earlier segment ends at or before N's start. A plan
// with a target is not checked here: PostgreSQL itself fails when it ends
// recovery before its target.
//
// Segments shipped after planning are not required: the source may still
// be running.
func CheckReachedEnd(p Plan, replayEnd string) error {
	r := p.Recovery
	if r.Name != "" || !r.Time.IsZero() || r.LSN != 0 || r.Immediate || p.LastWAL == "" {
		return nil
	}
	last, err := pg.ParseWALFileName(p.LastWAL, p.SegmentSize)
	if err != nil || last.Kind != pg.Segment {
		return fmt.Errorf("check the end of replay: last segment %q: %v", p.LastWAL, err)
	}
	start := pg.SegmentStart(last.SegNo, p.SegmentSize)
	end, err := pg.ParseLSN(replayEnd)
	if err != nil {
		return fmt.Errorf("%w: the server did not say where replay ended (%q), so it cannot be shown to have replayed %s, the newest segment the catalog holds",
			ErrShortReplay, replayEnd, p.LastWAL)
	}
	if p.StreamedEnd != 0 {
		return checkStreamedEnd(p, end)
	}
	if end > start {
		return nil
	}
	return fmt.Errorf("%w: the server replayed up to LSN %s, before %s (which starts at %s), the newest segment the catalog holds on timeline %d: "+
		"the server promoted without what was archived from there on (the server log says why recovery ended)",
		ErrShortReplay, end, p.LastWAL, start, last.Timeline)
}

// checkStreamedEnd holds a restore whose newest WAL is a streamed tail to
// the end of the tail's last whole record: replay that stopped before it
// left out WAL the receiver had stored.
func checkStreamedEnd(p Plan, end pg.LSN) error {
	if end >= p.StreamedEnd {
		return nil
	}
	return fmt.Errorf("%w: the server replayed up to LSN %s, before %s, where the WAL that logship receive stored of %s ends (its %d bytes streamed before the primary stopped): "+
		"the server promoted without all of it (the server log says why recovery ended)",
		ErrShortReplay, end, p.StreamedEnd, p.StreamedWAL, p.StreamedBytes)
}

package receive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
)

// errEndOfTimeline ends stream when the server finished the timeline.
var errEndOfTimeline = errors.New("end of timeline")

// stream receives until an error, the end of ctx, or the end of the
// timeline (errEndOfTimeline, with every upload done).
func (s *session) stream(ctx context.Context) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan message, 64)
	go readLoop(rctx, s.conn, msgs)
	tick := time.NewTicker(tickEvery(s.o))
	defer tick.Stop()
	if err := s.sendStatus(false); err != nil {
		return err
	}
	heard := time.Now()
	for {
		select {
		case m := <-msgs:
			heard = time.Now()
			if err := s.handle(m); err != nil {
				return err
			}
			if err := s.takeMore(msgs); err != nil {
				return err
			}
		case err := <-s.done:
			if err := s.uploaded(err); err != nil {
				return err
			}
		case <-tick.C:
			if err := s.keepAlive(heard); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		s.schedule(ctx)
	}
}

// takeMore handles the messages already waiting, so that one upload takes
// them all.
func (s *session) takeMore(msgs <-chan message) error {
	for {
		select {
		case m := <-msgs:
			if err := s.handle(m); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (s *session) handle(m message) error {
	switch {
	case m.err != nil:
		return m.err
	case m.endOfTL:
		return errEndOfTimeline
	case m.keepalive:
		if m.reply {
			return s.sendStatus(false)
		}
		return nil
	}
	return s.addWAL(m.walStart, m.wal)
}

// keepAlive sends the periodic status update, asking for a reply: an
// idle server that hears from the receiver sends nothing, and a network
// that dropped the connection silently would leave the receiver waiting
// for ever. No message for three intervals ends the connection.
func (s *session) keepAlive(heard time.Time) error {
	if silent := time.Since(heard); silent > 3*s.o.StatusInterval {
		return fmt.Errorf("no message from the server for %s", silent.Round(time.Second))
	}
	if time.Since(s.status) >= s.o.StatusInterval {
		return s.sendStatus(true)
	}
	return nil
}

func tickEvery(o Options) time.Duration {
	return min(max(o.PartialInterval/10, 10*time.Millisecond), time.Second)
}

// drain stores everything received and waits for it.
func (s *session) drain(ctx context.Context) error {
	if s.inflight {
		if err := s.uploaded(<-s.done); err != nil {
			return err
		}
	}
	if s.have > s.queued {
		s.jobs = append(s.jobs, job{segment: s.segName(), start: s.queued, data: s.buf[s.queued:s.have], reach: s.reach(s.have)})
		s.queued = s.have
	}
	for len(s.jobs) > 0 {
		s.schedule(ctx)
		select {
		case err := <-s.done:
			if err := s.uploaded(err); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// endTimeline ends the copy the server ended and answers where the next
// timeline starts.
func (s *session) endTimeline(ctx context.Context) (pg.TimelineID, pg.LSN, error) {
	cdr, err := pglogrepl.SendStandbyCopyDone(ctx, s.conn)
	if err != nil {
		return 0, 0, fmt.Errorf("end of timeline %d: %w", s.tli, err)
	}
	if cdr == nil {
		return 0, 0, fmt.Errorf("end of timeline %d: the server named no next timeline", s.tli)
	}
	return pg.TimelineID(cdr.Timeline), pg.LSN(cdr.LSN), nil
}

// switchTimeline stores the next timeline's history file, as wal-push
// would, and continues the open segment under the next timeline's name:
// PostgreSQL starts a timeline's first segment as a copy of the old one up
// to the switch point.
func (s *session) switchTimeline(ctx context.Context, tli pg.TimelineID, at pg.LSN) error {
	h, err := pglogrepl.TimelineHistory(ctx, s.conn, int32(tli))
	if err != nil {
		return fmt.Errorf("TIMELINE_HISTORY %d: %w", tli, err)
	}
	if _, err := shipper.PushWALBytes(ctx, s.cat, h.FileName, h.Content, shipper.PushOptions{
		Encode: s.o.Encode, Logger: s.o.Logger, AllowPlaintext: s.o.AllowPlaintext}); err != nil {
		return err
	}
	if pg.SegmentOf(at, s.srv.segSize) != s.segNo || uint64(at-s.segStart()) > uint64(s.have) {
		return fmt.Errorf("timeline %d starts at %s, but WAL was received up to %s", tli, at, s.segStart()+pg.LSN(s.have))
	}
	s.o.Logger.Info("following a new timeline", "timeline", tli, "from", at.String())
	s.tli, s.have, s.queued = tli, uint32(at-s.segStart()), 0
	s.since = time.Now()
	return nil
}

package receive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
)

// ErrFatal marks a failure that reconnecting cannot cure (another cluster
// than the source's, clear objects into an encrypted source).
var ErrFatal = errors.New("the receiver cannot run")

// Run receives until ctx ends, reconnecting with a doubling backoff
// (capped at MaxBackoff) after every failure; each connection resumes
// where the store ends. It returns ctx's error, or an ErrFatal one.
func Run(ctx context.Context, cat *catalog.Catalog, o Options) error {
	o = o.withDefaults()
	if err := CheckSlotName(o.Slot); err != nil {
		return fmt.Errorf("%w: %w", ErrFatal, err)
	}
	backoff := time.Second
	for {
		started := time.Now()
		err := runSession(ctx, cat, o)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrFatal) {
			return err
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second // it ran; this failure is news
		}
		o.Logger.Warn("receiver disconnected; reconnecting", "err", err.Error(), "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, o.MaxBackoff)
	}
}

// runSession is one connection: it checks the cluster, makes sure the
// slot exists, resumes where the store ends and streams, timeline after
// timeline.
func runSession(ctx context.Context, cat *catalog.Catalog, o Options) error {
	conn, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	srv, err := identify(ctx, conn)
	if err != nil {
		return err
	}
	if err := shipper.CheckStreamSource(ctx, cat, srv.systemID, uint32(srv.segSize),
		shipper.PushOptions{Encode: o.Encode, AllowPlaintext: o.AllowPlaintext}); err != nil {
		return fmt.Errorf("%w: %w", ErrFatal, err)
	}
	created, err := ensureSlot(ctx, conn, o.Slot)
	if err != nil {
		return err
	}
	if created {
		o.Logger.Info("created physical replication slot", "slot", o.Slot)
	}
	sp, err := resumeFrom(ctx, cat, conn, srv, o.Slot)
	if err != nil {
		return err
	}
	s := newSession(o, cat, conn, srv, sp)
	o.Logger.Info("receiving WAL", "slot", o.Slot, "application_name", o.ApplicationName, "timeline", sp.tli,
		"from", sp.lsn(srv.segSize).String(), "stored", s.durable.String(), "synchronous", o.Synchronous)
	return s.follow(ctx, sp.lsn(srv.segSize))
}

// follow streams from start on the session's timeline and on every
// timeline after it.
func (s *session) follow(ctx context.Context, start pg.LSN) error {
	for {
		err := pglogrepl.StartReplication(ctx, s.conn, s.o.Slot, pglogrepl.LSN(start),
			pglogrepl.StartReplicationOptions{Timeline: int32(s.tli), Mode: pglogrepl.PhysicalReplication})
		var tli pg.TimelineID
		if nextTLI, at, ok := pglogrepl.IsErrEndTimeline(err); ok {
			tli, start = pg.TimelineID(nextTLI), pg.LSN(at) // nothing to stream on this one
		} else if err != nil {
			return fmt.Errorf("START_REPLICATION %s timeline %d: %w", start, s.tli, err)
		} else {
			if err := s.stream(ctx); !errors.Is(err, errEndOfTimeline) {
				return err
			}
			if err := s.drain(ctx); err != nil {
				return err
			}
			if tli, start, err = s.endTimeline(ctx); err != nil {
				return err
			}
		}
		if err := s.switchTimeline(ctx, tli, start); err != nil {
			return err
		}
	}
}

package receive

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
)

// session is one replication connection's state: the open segment in
// memory, what of it is handed to uploads, and what is durable.
type session struct {
	o    Options
	cat  *catalog.Catalog
	conn *pgconn.PgConn
	srv  server

	tli    pg.TimelineID
	segNo  uint64
	buf    []byte // the open segment, bytes [0, have) received
	have   uint32
	queued uint32 // bytes [0, queued) are stored or handed to an upload
	since  time.Time

	jobs     []job // uploads waiting, in order
	inflight bool
	done     chan error
	durable  pg.LSN // reported as flushed and applied
	pending  pg.LSN // durable once the upload in flight is
	status   time.Time
}

// job is one upload: a piece of a segment, or a whole segment.
type job struct {
	segment string
	start   uint32
	data    []byte
	full    bool
	reach   pg.LSN // durable once this job is
}

func newSession(o Options, cat *catalog.Catalog, conn *pgconn.PgConn, srv server, sp startPoint) *session {
	s := &session{o: o, cat: cat, conn: conn, srv: srv, tli: sp.tli, segNo: sp.segNo,
		buf: make([]byte, srv.segSize), queued: sp.stored, done: make(chan error, 1)}
	s.durable = s.reach(sp.stored)
	return s
}

func (s *session) segStart() pg.LSN { return pg.SegmentStart(s.segNo, s.srv.segSize) }
func (s *session) segName() string  { return pg.SegmentName(s.tli, s.segNo, s.srv.segSize) }
func (s *session) written() pg.LSN  { return max(s.segStart()+pg.LSN(s.have), s.durable) }

// reach is the position durable once the open segment's bytes [0, end)
// are. A whole segment stored as pieces counts one byte short until it is
// stored as a segment: the slot then keeps the segment on the server, so
// that a receiver restarted in between can stream it again and store it.
func (s *session) reach(end uint32) pg.LSN {
	if uint64(end) == s.srv.segSize {
		end--
	}
	return s.segStart() + pg.LSN(end)
}

// addWAL appends streamed bytes, which must continue the open segment,
// finishing segments as they fill.
func (s *session) addWAL(start pg.LSN, data []byte) error {
	if want := s.segStart() + pg.LSN(s.have); start != want {
		return fmt.Errorf("the server sent WAL from %s, expected %s", start, want)
	}
	for len(data) > 0 {
		if s.have <= s.queued {
			s.since = time.Now()
		}
		n := copy(s.buf[s.have:], data)
		s.have += uint32(n)
		data = data[n:]
		if uint64(s.have) == s.srv.segSize {
			s.finishSegment()
		}
	}
	return nil
}

// finishSegment queues the segment's last piece (for the feedback: the
// segment upload is slower) and the segment itself, and opens the next.
func (s *session) finishSegment() {
	if s.have > s.queued {
		s.jobs = append(s.jobs, job{segment: s.segName(), start: s.queued, data: s.buf[s.queued:s.have], reach: s.reach(s.have)})
	}
	end := s.segStart() + pg.LSN(s.srv.segSize)
	s.jobs = append(s.jobs, job{segment: s.segName(), data: s.buf, full: true, reach: end})
	s.segNo++
	s.buf, s.have, s.queued = make([]byte, s.srv.segSize), 0, 0
}

// schedule hands the next upload to a goroutine when none is in flight:
// a queued one, else the open segment's new bytes when they are due (at
// once in synchronous mode). Bytes that arrive meanwhile go in the next.
func (s *session) schedule(ctx context.Context) {
	if s.inflight {
		return
	}
	if len(s.jobs) == 0 && s.have > s.queued && (s.o.Synchronous ||
		int(s.have-s.queued) >= s.o.PartialBytes || time.Since(s.since) >= s.o.PartialInterval) {
		s.jobs = append(s.jobs, job{segment: s.segName(), start: s.queued, data: s.buf[s.queued:s.have], reach: s.reach(s.have)})
		s.queued = s.have
	}
	if len(s.jobs) == 0 {
		return
	}
	j := s.jobs[0]
	s.jobs = s.jobs[1:]
	s.inflight, s.pending = true, j.reach
	go func() { s.done <- s.upload(ctx, j) }()
}

func (s *session) upload(ctx context.Context, j job) error {
	if j.full {
		_, err := shipper.PushWALBytes(ctx, s.cat, j.segment, j.data, shipper.PushOptions{
			Encode: s.o.Encode, Logger: s.o.Logger, AllowPlaintext: s.o.AllowPlaintext})
		if err != nil {
			return err
		}
		// The segment wins over its pieces now; left, they would only
		// lengthen listings until purge drops them. Dropped in the
		// background: one at a time, two requests each, a synchronous
		// receiver's thousands of pieces would otherwise hold back the
		// next uploads, and the commits waiting for them, for minutes on
		// S3. Stopped meanwhile, it leaves the rest for purge, as a kill
		// during the drop always could.
		go s.dropPieces(ctx, j.segment)
		return nil
	}
	_, err := s.cat.PutWALPiece(ctx, j.segment, j.start, j.data, s.o.Encode, s.srv.systemID, uint32(s.srv.segSize))
	return err
}

// dropPieces drops the pieces of a segment stored whole.
func (s *session) dropPieces(ctx context.Context, segment string) {
	n, err := s.cat.DropWALPieces(ctx, segment)
	if err != nil {
		s.o.Logger.Warn("could not drop the pieces of a stored segment; purge drops them", "segment", segment, "err", err.Error())
	}
	s.o.Logger.Debug("stored streamed segment", "segment", segment, "pieces_dropped", n)
}

// uploaded takes an upload's result: on success its end is durable, and
// the primary hears it at once (a synchronous commit waits for it).
func (s *session) uploaded(err error) error {
	s.inflight = false
	if err != nil {
		return err
	}
	if s.pending > s.durable {
		s.durable = s.pending
		return s.sendStatus(false)
	}
	return nil
}

func (s *session) sendStatus(reply bool) error {
	s.status = time.Now()
	return sendStatus(s.conn, s.written(), s.durable, reply)
}

package receive

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/logship/logship/pg"
)

// message is one thing the server sent on the replication stream.
type message struct {
	walStart  pg.LSN
	wal       []byte // a copy: pgconn reuses its buffer for the next message
	keepalive bool
	reply     bool // the server asks for a status update now
	endOfTL   bool // the server ended the timeline (CopyDone)
	err       error
}

// readLoop reads the stream in its own goroutine, so that the session can
// answer (upload results, status updates) while a read blocks. It is the
// only reader of conn; the session is the only writer, which a net.Conn
// allows at the same time. It stops after an error or the end of the
// timeline.
func readLoop(ctx context.Context, conn *pgconn.PgConn, out chan<- message) {
	send := func(m message) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		raw, err := conn.ReceiveMessage(ctx)
		if err != nil {
			send(message{err: fmt.Errorf("receive: %w", err)})
			return
		}
		m, ok, stop := parseMessage(raw)
		if ok && !send(m) || stop {
			return
		}
	}
}

// parseMessage turns a backend message into a message: ok when there is
// one to hand on, stop when nothing more is to be read.
func parseMessage(raw pgproto3.BackendMessage) (m message, ok, stop bool) {
	switch raw := raw.(type) {
	case *pgproto3.CopyData:
		if len(raw.Data) == 0 {
			return message{err: fmt.Errorf("empty CopyData message")}, true, true
		}
		switch raw.Data[0] {
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(raw.Data[1:])
			if err != nil {
				return message{err: err}, true, true
			}
			return message{walStart: pg.LSN(x.WALStart), wal: append([]byte(nil), x.WALData...)}, true, false
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(raw.Data[1:])
			if err != nil {
				return message{err: err}, true, true
			}
			return message{keepalive: true, reply: k.ReplyRequested}, true, false
		}
		return message{}, false, false
	case *pgproto3.CopyDone:
		return message{endOfTL: true}, true, true
	case *pgproto3.ErrorResponse:
		return message{err: pgconn.ErrorResponseToPgError(raw)}, true, true
	}
	return message{}, false, false // notices, parameter status
}

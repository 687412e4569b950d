package basebackup

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// fuzzConn is a server that answers anything with fixed bytes.
type fuzzConn struct{ r *bytes.Reader }

func (c *fuzzConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *fuzzConn) Close() error                       { return nil }
func (c *fuzzConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(t time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(t time.Time) error { return nil }

func encodeMsgs(msgs ...pgproto3.BackendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

func positionSet(lsn, tli string) []pgproto3.BackendMessage {
	return []pgproto3.BackendMessage{
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("recptr")}, {Name: []byte("tli")}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte(lsn), []byte(tli)}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT")},
	}
}

// goodExchange is what a PostgreSQL 15 server sends for BASE_BACKUP.
func goodExchange() []byte {
	progress := make([]byte, 9)
	progress[0] = 'p'
	binary.BigEndian.PutUint64(progress[1:], 1024)
	msgs := positionSet("0/2000028", "1")
	msgs = append(msgs,
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("spcoid")}, {Name: []byte("spclocation")}, {Name: []byte("size")}}},
		&pgproto3.DataRow{Values: [][]byte{nil, nil, []byte("30000")}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT")},
		&pgproto3.CopyOutResponse{},
		&pgproto3.CopyData{Data: []byte("n\x00\x00")},
		&pgproto3.CopyData{Data: []byte("dtar bytes")},
		&pgproto3.CopyData{Data: progress},
		&pgproto3.CopyData{Data: []byte("m")},
		&pgproto3.CopyData{Data: []byte("d{manifest}\n")},
		&pgproto3.CopyDone{},
	)
	msgs = append(msgs, positionSet("0/2000100", "1")...)
	msgs = append(msgs, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	return encodeMsgs(msgs...)
}

// fuzzExchange builds a message sequence from spec, so that the fuzzer
// varies the order and content of protocol messages rather than breaking
// their framing.
func fuzzExchange(spec []byte) []byte {
	var msgs []pgproto3.BackendMessage
	next := func() []byte {
		if len(spec) == 0 {
			return nil
		}
		n := min(int(spec[0])%32, len(spec)-1)
		v := spec[1 : 1+n]
		spec = spec[1+n:]
		return v
	}
	for len(spec) > 0 {
		op := spec[0] % 8
		spec = spec[1:]
		switch op {
		case 0:
			msgs = append(msgs, positionSet(string(next()), string(next()))...)
		case 1:
			msgs = append(msgs, &pgproto3.DataRow{Values: [][]byte{nil, next(), next()}}, &pgproto3.CommandComplete{CommandTag: []byte("SELECT")})
		case 2:
			msgs = append(msgs, &pgproto3.CopyOutResponse{})
		case 3:
			msgs = append(msgs, &pgproto3.CopyData{Data: next()})
		case 4:
			msgs = append(msgs, &pgproto3.CopyDone{})
		case 5:
			msgs = append(msgs, &pgproto3.ReadyForQuery{TxStatus: 'I'})
		case 6:
			msgs = append(msgs, &pgproto3.NoticeResponse{Severity: "WARNING", Message: string(next())})
		case 7:
			msgs = append(msgs, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "XX000", Message: string(next())})
		}
	}
	return encodeMsgs(msgs...)
}

// FuzzStream feeds the BASE_BACKUP reader arbitrary server messages: it
// must end with an error or with a result that holds together (one
// archive, a manifest, an end not before the start, and every tar byte it
// counted handed to the sink), and never report progress past what it has.
func FuzzStream(f *testing.F) {
	f.Add(goodExchange(), false)
	f.Add(goodExchange()[:100], false)
	f.Add([]byte{0, 9, '0', '/', '2', '0', '0', '0', '0', '2', '8', 1, '1', 1, 0, 1, '8', 2, 3, 3, 'n', 0, 0, 3, 2, 'd', 'x', 3, 1, 'm', 3, 2, 'd', '{', 4, 0, 9, '0', '/', '2', '0', '0', '0', '1', '0', '0', 1, '1', 5}, true)
	f.Add([]byte{2, 3, 1, 'd', 5}, true)
	cfg, err := pgconn.ParseConfig("host=fuzz user=fuzz")
	if err != nil {
		f.Fatal(err)
	}
	// pgproto3 allocates a message's declared length before reading it,
	// up to 1 GiB by default; random lengths would spend the run in
	// allocation. The server is trusted not to send such messages.
	cfg.MaxProtocolMessageBodyLen = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, build bool) {
		if build {
			data = fuzzExchange(data)
		}
		nc := &fuzzConn{r: bytes.NewReader(data)}
		conn, err := pgconn.Construct(&pgconn.HijackedConn{Conn: nc, TxStatus: 'I', ParameterStatuses: map[string]string{},
			Frontend: pgproto3.NewFrontend(nc, nc), Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		var sink bytes.Buffer
		var res Result
		open := func(Archive) (io.WriteCloser, error) { return nopCloser{&sink}, nil }
		s := &stream{conn: conn, res: &res, open: open}
		err = s.run("BASE_BACKUP")
		if err != nil {
			return
		}
		if len(res.Archives) != 1 || len(res.Manifest) == 0 || res.EndLSN < res.StartLSN || res.TarBytes != int64(sink.Len()) {
			t.Fatalf("accepted %q as %+v, %d archives, %d bytes in the sink", data, res, len(res.Archives), sink.Len())
		}
	})
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

package receive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/logship/logship/pg"
)

// connect opens a physical replication connection (replication=true:
// START_REPLICATION PHYSICAL and the slot commands, no SQL) under the
// receiver's application_name.
func connect(ctx context.Context, o Options) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(o.ConnString)
	if err != nil {
		return nil, fmt.Errorf("connection string: %w", err)
	}
	cfg.RuntimeParams["replication"] = "true"
	if o.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = o.ApplicationName
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect for replication: %w", err)
	}
	return conn, nil
}

// server is what IDENTIFY_SYSTEM and SHOW answer.
type server struct {
	systemID uint64
	timeline pg.TimelineID
	flushed  pg.LSN
	segSize  uint64
}

func identify(ctx context.Context, conn *pgconn.PgConn) (server, error) {
	id, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		return server{}, fmt.Errorf("IDENTIFY_SYSTEM: %w", err)
	}
	sysid, err := strconv.ParseUint(id.SystemID, 10, 64)
	if err != nil {
		return server{}, fmt.Errorf("IDENTIFY_SYSTEM: system identifier %q: %w", id.SystemID, err)
	}
	res, err := conn.Exec(ctx, "SHOW wal_segment_size").ReadAll()
	if err != nil {
		return server{}, fmt.Errorf("SHOW wal_segment_size: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
		return server{}, errors.New("SHOW wal_segment_size: unexpected answer")
	}
	seg, err := parseSize(string(res[0].Rows[0][0]))
	if err != nil || !pg.ValidSegmentSize(seg) {
		return server{}, fmt.Errorf("SHOW wal_segment_size: %q is no segment size", res[0].Rows[0][0])
	}
	return server{systemID: sysid, timeline: pg.TimelineID(id.Timeline), flushed: pg.LSN(id.XLogPos), segSize: seg}, nil
}

// parseSize reads PostgreSQL's display of a size setting ("16MB", "1GB").
func parseSize(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"kB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// ensureSlot creates the physical slot, reserving WAL from now, unless it
// exists (asked first, so that the server logs no error at each connect).
// It answers whether it created it.
func ensureSlot(ctx context.Context, conn *pgconn.PgConn, slot string) (bool, error) {
	if _, exists, err := readSlot(ctx, conn, slot); err != nil || exists {
		return false, err
	}
	_, err := conn.Exec(ctx, "CREATE_REPLICATION_SLOT "+slot+" PHYSICAL RESERVE_WAL").ReadAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: another receiver won
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create replication slot %s: %w", slot, err)
	}
	return true, nil
}

// slotState is what READ_REPLICATION_SLOT (PostgreSQL 15+) answers; a zero
// restart is a slot that reserves no WAL.
type slotState struct {
	restart pg.LSN
	tli     pg.TimelineID
}

func readSlot(ctx context.Context, conn *pgconn.PgConn, slot string) (slotState, bool, error) {
	res, err := conn.Exec(ctx, "READ_REPLICATION_SLOT "+slot).ReadAll()
	if err != nil {
		return slotState{}, false, fmt.Errorf("READ_REPLICATION_SLOT %s: %w", slot, err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 3 {
		return slotState{}, false, fmt.Errorf("READ_REPLICATION_SLOT %s: unexpected answer", slot)
	}
	row := res[0].Rows[0]
	if row[0] == nil { // no such slot
		return slotState{}, false, nil
	}
	if row[1] == nil || row[2] == nil {
		return slotState{}, true, nil
	}
	lsn, err := pg.ParseLSN(string(row[1]))
	if err != nil {
		return slotState{}, true, err
	}
	tli, err := strconv.ParseUint(string(row[2]), 10, 32)
	if err != nil {
		return slotState{}, true, err
	}
	return slotState{restart: lsn, tli: pg.TimelineID(tli)}, true, nil
}

// DropSlot drops the receiver's slot: the only way logship ever drops it.
// It fails while a receiver uses the slot.
func DropSlot(ctx context.Context, o Options) error {
	if err := CheckSlotName(o.Slot); err != nil {
		return err
	}
	conn, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP_REPLICATION_SLOT "+o.Slot).ReadAll(); err != nil {
		return fmt.Errorf("drop replication slot %s: %w", o.Slot, err)
	}
	return nil
}

// sendStatus sends a standby status update with exactly these positions.
// pglogrepl.SendStandbyStatusUpdate would replace a zero flush or apply
// position by the write position, telling the primary that WAL is
// durable before it is; statusMessage encodes the message itself.
func sendStatus(conn *pgconn.PgConn, write, flush pg.LSN, reply bool) error {
	buf, err := (&pgproto3.CopyData{Data: statusMessage(write, flush, time.Now(), reply)}).Encode(nil)
	if err != nil {
		return err
	}
	return conn.Frontend().SendUnbufferedEncodedCopyData(buf)
}

// statusMessage is the standby status update ('r'): written, flushed and
// applied positions, the clock, and whether a reply is wanted. Applied is
// flushed: the receiver applies nothing, and what it stored is what a
// restore replays.
func statusMessage(write, flush pg.LSN, now time.Time, reply bool) []byte {
	data := make([]byte, 0, 34)
	data = append(data, pglogrepl.StandbyStatusUpdateByteID)
	data = binary.BigEndian.AppendUint64(data, uint64(write))
	data = binary.BigEndian.AppendUint64(data, uint64(flush))
	data = binary.BigEndian.AppendUint64(data, uint64(flush))
	data = binary.BigEndian.AppendUint64(data, uint64(pgTime(now)))
	var r byte
	if reply {
		r = 1
	}
	return append(data, r)
}

// pgTime is t in microseconds since 2000-01-01 UTC, PostgreSQL's epoch.
func pgTime(t time.Time) int64 {
	const unixToY2K = 946684800
	return t.UnixMicro() - unixToY2K*1_000_000
}

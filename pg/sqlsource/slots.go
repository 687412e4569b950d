package sqlsource

import (
	"context"
)

// ReceiverSlot is a physical replication slot that logship receive
// streams from, and how much WAL it keeps the server from removing.
type ReceiverSlot struct {
	Name   string
	Active bool
	// RestartLSN is the oldest WAL the slot keeps; "" when it keeps none
	// (never used, or invalidated).
	RestartLSN string
	// RetainedBytes is the WAL between RestartLSN and the server's current
	// position (its receive position on a standby): what the slot keeps in
	// pg_wal. 0 when RestartLSN is "".
	RetainedBytes int64
	// WALStatus is pg_replication_slots.wal_status: reserved, extended,
	// unreserved or lost.
	WALStatus string
}

// receiverSlotsSQL lists the physical slots named logship_* (receive's
// default, logship_<source>) and the slot $1. On a standby the current
// position is the receive position (pg_current_wal_lsn() fails there).
const receiverSlotsSQL = `SELECT slot_name::text, active, coalesce(restart_lsn::text, ''),
	coalesce(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, restart_lsn), 0)::bigint,
	coalesce(wal_status, '')
	FROM pg_replication_slots
	WHERE slot_type = 'physical' AND (slot_name LIKE 'logship\_%' OR slot_name = $1)
	ORDER BY slot_name`

// ReceiverSlots lists the replication slots of logship receive: those
// named logship_*, and slot when it is not "".
func (s *Source) ReceiverSlots(ctx context.Context, slot string) ([]ReceiverSlot, error) {
	rows, err := s.Conn.Query(ctx, receiverSlotsSQL, slot)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReceiverSlot
	for rows.Next() {
		var r ReceiverSlot
		if err := rows.Scan(&r.Name, &r.Active, &r.RestartLSN, &r.RetainedBytes, &r.WALStatus); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

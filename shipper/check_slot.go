package shipper

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/pg/sqlsource"
)

// CheckReceiveSlot names the check of logship receive's replication slot.
const CheckReceiveSlot = "receive slot"

// DefaultSlotMaxRetained is how much WAL the receiver's slot may hold back
// on the server before check warns.
const DefaultSlotMaxRetained = 1 << 30

// slotCheck reports the receiver's slot, when the server has one: a
// stopped or stuck receiver keeps WAL on the primary through its slot,
// which must not fill the disk silently. ok is false when there is no
// such slot (no receiver is set up: nothing to say).
func slotCheck(ctx context.Context, conn *sqlsource.Source, opts CheckOptions) (CheckResult, bool) {
	if opts.Slot == "" {
		return CheckResult{}, false
	}
	limit := opts.SlotMaxRetained
	if limit <= 0 {
		limit = DefaultSlotMaxRetained
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var active bool
	var retained *int64
	var status *string
	err := conn.Conn.QueryRow(ctx, `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, wal_status
		FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'`, opts.Slot).Scan(&active, &retained, &status)
	if err == pgx.ErrNoRows {
		return CheckResult{}, false
	}
	r := CheckResult{Name: CheckReceiveSlot, OK: true}
	fix := fmt.Sprintf("start logship receive, or drop the slot with logship receive --drop-slot if the receiver is retired (slot %s)", opts.Slot)
	switch {
	case err != nil:
		r.Warning, r.Detail = true, fmt.Sprintf("cannot read slot %s: %s", opts.Slot, err)
	case retained == nil:
		r.Warning, r.Detail, r.Fix = true, fmt.Sprintf("slot %s reserves no WAL (wal_status %s): the receiver lost its place", opts.Slot, deref(status)), fix
	default:
		r.Detail = fmt.Sprintf("slot %s retains %d MiB of WAL, active %v", opts.Slot, *retained>>20, active)
		if *retained > limit {
			r.Warning, r.Fix = true, fix+"; the slot keeps WAL on the server until the receiver stores it"
			r.Detail += fmt.Sprintf(", more than %d MiB", limit>>20)
		}
	}
	return r, true
}

package shipper

import (
	"context"
	"fmt"
	"strings"

	"github.com/logship/logship/pg/sqlsource"
)

// DefaultMaxSlotRetained is how much WAL a receiver's replication slot may
// keep on the source before check warns and status reports a problem: a
// stopped or stuck `logship receive` keeps its slot, and the slot keeps
// every WAL file since, until the source's disk is full.
const DefaultMaxSlotRetained = 1 << 30

// CheckSlot is the name of the check of the receiver's replication slots.
const CheckSlot = "replication slot"

// SlotStatus is one replication slot of logship receive on the source.
type SlotStatus struct {
	Name          string `json:"name"`
	Active        bool   `json:"active"`
	RestartLSN    string `json:"restart_lsn"`
	RetainedBytes int64  `json:"retained_bytes"`
	WALStatus     string `json:"wal_status"`
	// OverLimit: it retains more than --max-slot-retained.
	OverLimit bool `json:"over_limit"`
}

// maxRetained is limit with 0 meaning the default; negative: no limit.
func maxRetained(limit int64) int64 {
	if limit == 0 {
		return DefaultMaxSlotRetained
	}
	return limit
}

// receiverSlots reads the slots named logship_* and slot, judged against
// limit (see maxRetained).
func receiverSlots(ctx context.Context, conn *sqlsource.Source, slot string, limit int64) ([]SlotStatus, error) {
	rs, err := conn.ReceiverSlots(ctx, slot)
	if err != nil {
		return nil, fmt.Errorf("read pg_replication_slots: %w", err)
	}
	limit = maxRetained(limit)
	out := make([]SlotStatus, 0, len(rs))
	for _, r := range rs {
		out = append(out, SlotStatus{Name: r.Name, Active: r.Active, RestartLSN: r.RestartLSN, RetainedBytes: r.RetainedBytes,
			WALStatus: r.WALStatus, OverLimit: limit >= 0 && r.RetainedBytes > limit})
	}
	return out, nil
}

// slotWarning says what is wrong with an over-limit slot, or "".
func slotWarning(s SlotStatus, limit int64) string {
	if !s.OverLimit {
		return ""
	}
	why := "logship receive is behind"
	if !s.Active {
		why = "no logship receive is connected to it"
	}
	return fmt.Sprintf("replication slot %s keeps %d MiB of WAL on the source, more than %d MiB (--max-slot-retained): %s, and the source's pg_wal grows until its disk is full",
		s.Name, s.RetainedBytes>>20, maxRetained(limit)>>20, why)
}

// slotCheck judges the receiver's slots; ok is false when the source has
// none (no receiver: nothing to check).
func slotCheck(ctx context.Context, conn *sqlsource.Source, opts CheckOptions) (CheckResult, bool) {
	qctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	slots, err := receiverSlots(qctx, conn, opts.Slot, opts.MaxSlotRetained)
	if err != nil {
		return CheckResult{Name: CheckSlot, OK: true, Warning: true, Detail: "cannot tell: " + err.Error(),
			Fix: "grant the user pg_monitor, so that check can see how much WAL logship receive's slot keeps"}, true
	}
	if len(slots) == 0 {
		return CheckResult{}, false
	}
	var details, warnings []string
	for _, s := range slots {
		state := "active"
		if !s.Active {
			state = "inactive"
		}
		details = append(details, fmt.Sprintf("%s (%s) keeps %d MiB", s.Name, state, s.RetainedBytes>>20))
		if w := slotWarning(s, opts.MaxSlotRetained); w != "" {
			warnings = append(warnings, w)
		}
	}
	r := CheckResult{Name: CheckSlot, OK: true, Detail: strings.Join(details, "; ")}
	if len(warnings) > 0 {
		r.Warning, r.Detail = true, strings.Join(warnings, "; ")
		r.Fix = "start logship receive (or see why it falls behind); if the slot is no longer used, drop it with logship receive --drop-slot"
	}
	return r, true
}

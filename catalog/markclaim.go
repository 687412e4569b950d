package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/logship/logship/store"
)

// ErrMarkBusy means the name is reserved by a mark that may still be in
// progress: its reservation is recent, or its process still runs.
var ErrMarkBusy = errors.New("mark name reserved by a mark in progress")

// MarkReserveStale is how old a reservation without a mark record must be
// before another mark takes it over, unless its process is known gone. A
// live mark records its restore point within a round trip of reserving.
const MarkReserveStale = 2 * time.Minute

// markReservation is what a reservation object holds: who reserved the
// name, and when. Reservations written before it held anything are empty;
// their store time stands in for Time.
type markReservation struct {
	Time   time.Time `json:"time"`
	Host   string    `json:"host,omitempty"`
	PID    int       `json:"pid,omitempty"`
	legacy bool      // empty: written by an older logship or catalog rebuild
}

// MarkClaim says how ClaimMark got the name.
type MarkClaim struct {
	// TookOver is set when an interrupted mark had reserved the name
	// without making or recording anything: From is when.
	TookOver bool
	From     time.Time
	// Completed is the mark an interrupted run had stored but not
	// recorded; ClaimMark recorded it. No new restore point is to be made.
	Completed *Mark
}

// Notice says, for the user, what the claim did with an earlier
// interrupted mark of the name; "" when the name was free.
func (mc MarkClaim) Notice(name string) string {
	switch {
	case mc.Completed != nil:
		m := mc.Completed
		return fmt.Sprintf("completed the interrupted mark %s: recorded its restore point at %s on timeline %d (%s)",
			name, m.LSN, m.Timeline, m.Time.Format(time.RFC3339))
	case mc.TookOver:
		return fmt.Sprintf("took over an interrupted reservation of %s from %s: that run recorded no mark", name, mc.From.Format(time.RFC3339))
	}
	return ""
}

// ClaimMark reserves name for a new mark, create-only. A name already
// reserved is refused (ErrDuplicateMark) when a mark of that name is
// recorded, or was and has been purged. A reservation without a record is
// what a mark killed between reserving and recording leaves:
//   - if the mark's object was stored, its restore point exists: the record
//     is added and Completed says so;
//   - otherwise, once the reservation is stale (its process gone on this
//     host, or older than MarkReserveStale), it is taken over: a restore
//     point the killed run may have made stays unrecorded, which harms
//     nothing since restores go to a mark's LSN, not its name;
//   - a recent one is refused with ErrMarkBusy;
//   - an empty one, from an older logship that left no trace of recorded
//     names, is refused as used: its mark may have been purged.
func (c *Catalog) ClaimMark(ctx context.Context, name string) (MarkClaim, error) {
	var mc MarkClaim
	if err := ValidMarkName(name); err != nil {
		return mc, err
	}
	err := c.putReservation(ctx, name)
	if !errors.Is(err, store.ErrExist) {
		return mc, err
	}
	recorded, err := c.markRecorded(ctx, name)
	switch {
	case err != nil:
		return mc, err
	case recorded:
		return mc, fmt.Errorf("%w: source %q already has a mark %q; choose another name", ErrDuplicateMark, c.source, name)
	}
	var d markDoc
	switch err := c.getDoc(ctx, c.markObjectKey(name), &d, maxSourceRecord); {
	case err == nil:
		m := d.Mark
		if err := c.markNameUsed(ctx, m.Name); err != nil {
			return mc, err
		}
		if err := c.addMarkRecord(ctx, m); err != nil {
			return mc, err
		}
		mc.Completed = &m
		return mc, nil
	case !errors.Is(err, store.ErrNotExist):
		return mc, fmt.Errorf("mark %s is reserved but not recorded, and its object cannot be read: %w", name, err)
	}
	switch _, err := c.st.Stat(ctx, c.markNameKey(name)+recordSep+"recorded"); {
	case err == nil:
		return mc, fmt.Errorf("%w: source %q had a mark %q, purged since; a name is used once: choose another", ErrDuplicateMark, c.source, name)
	case !errors.Is(err, store.ErrNotExist):
		return mc, err
	}
	return c.takeOverReservation(ctx, name)
}

// takeOverReservation takes a stale reservation of name. Of two runs that
// both find it stale, the one that creates the takeover key first wins; the
// winner then writes a reservation of its own.
func (c *Catalog) takeOverReservation(ctx context.Context, name string) (MarkClaim, error) {
	var mc MarkClaim
	old, err := c.readReservation(ctx, name)
	if errors.Is(err, store.ErrNotExist) {
		// Released meanwhile: try once more from the start.
		err = c.putReservation(ctx, name)
		if errors.Is(err, store.ErrExist) {
			err = fmt.Errorf("%w: source %q: another mark %q reserved the name just now", ErrMarkBusy, c.source, name)
		}
		return mc, err
	}
	if err != nil {
		return mc, err
	}
	if old.legacy {
		// Written by an older logship, which left no trace of a recorded
		// name: the mark may have been purged, so the name stays used.
		return mc, fmt.Errorf("%w: source %q: the name %q was reserved at %s by an earlier version of logship and has no mark recorded (interrupted, or purged since); choose another name",
			ErrDuplicateMark, c.source, name, old.Time.Format(time.RFC3339))
	}
	if !old.stale(time.Now()) {
		who := ""
		if old.PID != 0 {
			who = fmt.Sprintf(" by pid %d on %s", old.PID, old.Host)
		}
		return mc, fmt.Errorf("%w: source %q: mark %q was reserved at %s%s and is not recorded yet; if that run was interrupted, rerun after %s",
			ErrMarkBusy, c.source, name, old.Time.Format(time.RFC3339), who, old.Time.Add(MarkReserveStale).Format(time.RFC3339))
	}
	takeover := fmt.Sprintf("%s%stakeover%s%d", c.markNameKey(name), recordSep, recordSep, old.Time.UnixNano())
	if err := c.st.Put(ctx, takeover, bytes.NewReader(nil), 0); err != nil {
		if errors.Is(err, store.ErrExist) {
			return mc, fmt.Errorf("%w: source %q: another run is taking over the interrupted reservation of %q", ErrMarkBusy, c.source, name)
		}
		return mc, err
	}
	if err := c.st.Delete(ctx, c.markNameKey(name)); err != nil {
		return mc, err
	}
	if err := c.putReservation(ctx, name); err != nil {
		if errors.Is(err, store.ErrExist) {
			err = fmt.Errorf("%w: source %q: another mark %q reserved the name just now", ErrMarkBusy, c.source, name)
		}
		return mc, err
	}
	// The new reservation is ours; the takeover key has done its work.
	_ = c.st.Delete(ctx, takeover)
	mc.TookOver, mc.From = true, old.Time
	return mc, nil
}

func (c *Catalog) putReservation(ctx context.Context, name string) error {
	host, _ := os.Hostname()
	b, err := json.Marshal(markReservation{Time: time.Now().UTC(), Host: host, PID: os.Getpid()})
	if err != nil {
		return err
	}
	return c.st.Put(ctx, c.markNameKey(name), bytes.NewReader(b), int64(len(b)))
}

// readReservation reads a reservation; an empty or unreadable one (from an
// older logship, or catalog rebuild) is legacy, dated by the store.
func (c *Catalog) readReservation(ctx context.Context, name string) (markReservation, error) {
	var r markReservation
	key := c.markNameKey(name)
	info, err := c.st.Stat(ctx, key)
	if err != nil {
		return r, err
	}
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return r, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return r, err
	}
	if json.Unmarshal(b, &r) != nil || r.Time.IsZero() {
		r = markReservation{Time: info.ModTime, legacy: true}
	}
	return r, nil
}

// stale says whether the reservation's mark can no longer be running: its
// process is gone from this host, or it is older than MarkReserveStale.
func (r markReservation) stale(now time.Time) bool {
	if now.Sub(r.Time) > MarkReserveStale {
		return true
	}
	host, _ := os.Hostname()
	if r.PID <= 0 || r.Host == "" || r.Host != host {
		return false
	}
	return errors.Is(syscall.Kill(r.PID, 0), syscall.ESRCH)
}

// markRecorded says whether a record of a mark called name exists.
func (c *Catalog) markRecorded(ctx context.Context, name string) (bool, error) {
	found := false
	err := c.st.List(ctx, c.markPrefix()+name+recordSep, func(store.ObjectInfo) error {
		found = true
		return nil
	})
	return found, err
}

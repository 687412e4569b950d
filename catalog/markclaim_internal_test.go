package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

func claimCatalog(t *testing.T) *Catalog {
	t.Helper()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(st, "claims")
}

// putRawReservation writes a reservation as a mark that was then killed
// left it.
func putRawReservation(t *testing.T, c *Catalog, name string, r *markReservation) {
	t.Helper()
	var b []byte
	if r != nil {
		b, _ = json.Marshal(r)
	}
	if err := c.st.Put(context.Background(), c.markNameKey(name), bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	return cmd.Process.Pid
}

// F10: a mark killed between reserving its name and recording it leaves a
// reservation without a record. A rerun takes it over, says so, and the
// name is then taken as usual.
func TestF10_RerunTakesOverInterruptedReservation(t *testing.T) {
	ctx := context.Background()
	host, _ := os.Hostname()
	old := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	tests := []struct {
		name string
		res  *markReservation
	}{
		{"killed on this host", &markReservation{Time: old, Host: host, PID: deadPID(t)}},
		{"stale, from another host", &markReservation{Time: old.Add(-MarkReserveStale), Host: "elsewhere", PID: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claimCatalog(t)
			putRawReservation(t, c, "m1", tt.res)
			mc, err := c.ClaimMark(ctx, "m1")
			if err != nil || !mc.TookOver || !mc.From.Equal(tt.res.Time) || mc.Completed != nil {
				t.Fatalf("ClaimMark = %+v, %v; want a takeover of the reservation from %s", mc, err, tt.res.Time)
			}
			if n := mc.Notice("m1"); !strings.Contains(n, "took over an interrupted reservation of m1 from "+tt.res.Time.Format(time.RFC3339)) {
				t.Errorf("notice %q does not say what happened", n)
			}
			// Ours now, and fresh: another run must wait for it.
			if _, err := c.ClaimMark(ctx, "m1"); !errors.Is(err, ErrMarkBusy) {
				t.Errorf("claim of a fresh reservation: %v, want ErrMarkBusy", err)
			}
			if err := c.AddMark(ctx, Mark{Name: "m1", LSN: 0x3000100, Timeline: 1, Time: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ClaimMark(ctx, "m1"); !errors.Is(err, ErrDuplicateMark) {
				t.Errorf("claim of a recorded mark: %v, want ErrDuplicateMark", err)
			}
		})
	}
}

// F10: a reservation whose mark may still be running is not taken: the
// error says so and when a rerun may take it.
func TestF10_RecentReservationIsBusy(t *testing.T) {
	ctx := context.Background()
	c := claimCatalog(t)
	host, _ := os.Hostname()
	putRawReservation(t, c, "alive", &markReservation{Time: time.Now().UTC(), Host: host, PID: os.Getpid()})
	_, err := c.ClaimMark(ctx, "alive")
	if !errors.Is(err, ErrMarkBusy) || !strings.Contains(err.Error(), "rerun after") || errors.Is(err, ErrDuplicateMark) {
		t.Errorf("ClaimMark = %v, want ErrMarkBusy saying when to rerun", err)
	}
}

// A purged mark's name, or one an older logship reserved (which may have
// been purged too), stays used: names are used once.
func TestF10_PurgedAndLegacyNamesStayUsed(t *testing.T) {
	ctx := context.Background()
	c := claimCatalog(t)
	m := Mark{Name: "gone", LSN: 0x3000100, Timeline: 1, Time: time.Now().UTC(), Source: "claims"}
	if err := c.ReserveMark(ctx, m.Name); err != nil {
		t.Fatal(err)
	}
	if err := c.AddMark(ctx, m); err != nil {
		t.Fatal(err)
	}
	// As purge deletes a mark: its object, then its record.
	if err := c.st.Delete(ctx, c.markObjectKey(m.Name)); err != nil {
		t.Fatal(err)
	}
	if err := c.st.List(ctx, c.markPrefix()+m.Name+recordSep, func(oi store.ObjectInfo) error {
		return c.st.Delete(ctx, oi.Key)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClaimMark(ctx, "gone"); !errors.Is(err, ErrDuplicateMark) || !strings.Contains(err.Error(), "purged since") {
		t.Errorf("claim of a purged mark's name: %v, want ErrDuplicateMark", err)
	}
	putRawReservation(t, c, "legacy", &markReservation{}) // empty JSON: as good as an empty object
	putRawReservation(t, c, "legacy2", nil)
	for _, name := range []string{"legacy", "legacy2"} {
		if _, err := c.ClaimMark(ctx, name); !errors.Is(err, ErrDuplicateMark) || !strings.Contains(err.Error(), "earlier version") {
			t.Errorf("claim of a legacy reservation %s: %v, want ErrDuplicateMark", name, err)
		}
	}
}

// F10: killed after the mark's object was stored but before its record, a
// rerun completes the mark from the object instead of making another.
func TestF10_RerunCompletesStoredMark(t *testing.T) {
	ctx := context.Background()
	c := claimCatalog(t)
	m := Mark{Name: "m1", LSN: 0x3000100, Timeline: 1, Time: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC), Source: "claims"}
	putRawReservation(t, c, "m1", &markReservation{Time: time.Now().UTC(), Host: "elsewhere", PID: 1})
	if err := c.putDoc(ctx, c.markObjectKey(m.Name), m.Name, markDoc{Mark: m, LSNValue: uint64(m.LSN)}); err != nil {
		t.Fatal(err)
	}
	mc, err := c.ClaimMark(ctx, "m1")
	if err != nil || mc.Completed == nil || *mc.Completed != m || mc.TookOver {
		t.Fatalf("ClaimMark = %+v, %v; want the stored mark completed", mc, err)
	}
	if n := mc.Notice("m1"); !strings.Contains(n, "completed the interrupted mark m1") || !strings.Contains(n, "0/3000100") {
		t.Errorf("notice %q does not say what happened", n)
	}
	marks, err := c.Marks(ctx)
	if err != nil || len(marks) != 1 || marks[0].LSN != m.LSN {
		t.Errorf("marks after completing: %+v, %v", marks, err)
	}
}

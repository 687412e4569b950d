package receive

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pg"
)

func TestDefaultSlot(t *testing.T) {
	for _, tt := range []struct{ source, want string }{
		{"main", "logship_main"},
		{"Billing-DB.eu", "logship_billing_db_eu"},
		{"ça va", "logship__a_va"},
		{strings.Repeat("x", 80), "logship_" + strings.Repeat("x", 55)},
	} {
		got := DefaultSlot(tt.source)
		if got != tt.want {
			t.Errorf("DefaultSlot(%q) = %q, want %q", tt.source, got, tt.want)
		}
		if err := CheckSlotName(got); err != nil {
			t.Errorf("DefaultSlot(%q) = %q is refused: %v", tt.source, got, err)
		}
	}
	for _, bad := range []string{"", "Upper", "with-dash", "a b", strings.Repeat("x", 64)} {
		if CheckSlotName(bad) == nil {
			t.Errorf("CheckSlotName(%q) accepted", bad)
		}
	}
}

// The flushed and applied positions are sent as given, even when zero or
// behind the written one: never the written position in their place.
func TestStatusMessageExplicitPositions(t *testing.T) {
	for _, tt := range []struct{ write, flush pg.LSN }{{0x3000000, 0}, {0x3000123, 0x3000000}, {0x4000000, 0x4000000}} {
		m := statusMessage(tt.write, tt.flush, time.Unix(946684800, 0), true)
		if len(m) != 34 || m[0] != 'r' {
			t.Fatalf("message %x: want 34 bytes starting with 'r'", m)
		}
		w, f, a := binary.BigEndian.Uint64(m[1:]), binary.BigEndian.Uint64(m[9:]), binary.BigEndian.Uint64(m[17:])
		if pg.LSN(w) != tt.write || pg.LSN(f) != tt.flush || pg.LSN(a) != tt.flush {
			t.Errorf("write %s flush %s: sent write %x flush %x apply %x", tt.write, tt.flush, w, f, a)
		}
		if clock := binary.BigEndian.Uint64(m[25:]); clock != 0 || m[33] != 1 {
			t.Errorf("clock %d reply %d: want 0 (the PostgreSQL epoch) and 1", clock, m[33])
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"16MB": 16 << 20, "1GB": 1 << 30, "64kB": 64 << 10, "1048576": 1 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// A segment stored whole as pieces is reported one byte short until the
// segment itself is stored, so that the slot keeps it on the server.
func TestReachHoldsTheSegmentBack(t *testing.T) {
	s := &session{srv: server{segSize: 16 << 20}, segNo: 3}
	if got := s.reach(100); got != 0x3000064 {
		t.Errorf("reach(100) = %s", got)
	}
	if got := s.reach(16 << 20); got != 0x3ffffff {
		t.Errorf("reach(segment size) = %s, want 0/3FFFFFF", got)
	}
}

// Resume prefers the newest of the store's end and the slot's, timeline
// first.
func TestStartPointOrder(t *testing.T) {
	a := startPoint{tli: 1, segNo: 5, stored: 10}
	for _, tt := range []struct {
		b     startPoint
		after bool
	}{
		{startPoint{tli: 2, segNo: 1}, true},
		{startPoint{tli: 1, segNo: 6}, true},
		{startPoint{tli: 1, segNo: 5, stored: 11}, true},
		{startPoint{tli: 1, segNo: 5, stored: 10}, false},
		{startPoint{tli: 1, segNo: 4, stored: 99}, false},
	} {
		if got := tt.b.after(a); got != tt.after {
			t.Errorf("%+v after %+v = %v", tt.b, a, got)
		}
	}
}

package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store/file"
)

// The clear switch points of a history file: a retry of the same file
// changes nothing, other switch points for the same timeline are refused,
// and the chain's fallback reads back what the file said (reasons aside).
func TestSwitchPoints(t *testing.T) {
	ctx := context.Background()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := New(st, "sp")
	h := []pg.HistoryEntry{{Timeline: 1, SwitchPoint: 0x3000060, Reason: "no recovery target specified"},
		{Timeline: 2, SwitchPoint: 0x5000000, Reason: "at restore point \"m1\""}}
	for range 2 {
		if err := c.RecordSwitchPoints(ctx, 3, h); err != nil {
			t.Fatal(err)
		}
	}
	other := []pg.HistoryEntry{h[0], {Timeline: 2, SwitchPoint: 0x6000000}}
	if err := c.RecordSwitchPoints(ctx, 3, other); !errors.Is(err, ErrRecordMismatch) {
		t.Fatalf("other switch points for timeline 3: %v, want ErrRecordMismatch", err)
	}
	got, err := c.historyFromSwitchPoints(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Timeline != 1 || got[0].SwitchPoint != h[0].SwitchPoint || got[1].Timeline != 2 || got[1].SwitchPoint != h[1].SwitchPoint {
		t.Fatalf("read back %+v, want the switch points of %+v", got, h)
	}
	if _, err := c.historyFromSwitchPoints(ctx, 4); err == nil {
		t.Fatal("timeline 4 has no record, yet reads back")
	}
}

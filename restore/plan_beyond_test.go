package restore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
)

// F14: a target the store cannot reach is refused at planning as a bad
// target (the CLI's exit 2), naming the newest shipped WAL and what to do
// instead: an LSN at or past the end of the newest segment, a time later
// than when the newest segment was stored. Targets just inside still plan.
func TestF14_PlanRefusesTargetsBeyondTheArchive(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	// The newest segment as an object too: its time is when it was stored.
	newest := pg.SegmentName(1, 10, planSegSize)
	obj, err := object.Encode(bytes.NewReader([]byte("x")), object.KindWAL, newest, nil, object.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cat.PutWAL(context.Background(), newest, obj); err != nil {
		t.Fatal(err)
	}
	stored := time.Now()

	refused := []struct {
		name   string
		target restore.Target
		says   []string
	}{
		{"lsn at the end", restore.Target{LSN: pg.LSN(segLSN(11, 0))}, []string{"LSN 0/B000000", newest, "ends at LSN 0/B000000", "--mark latest"}},
		{"lsn far past", restore.Target{LSN: pg.LSN(segLSN(40, 0x28))}, []string{"past the end of the archive", newest}},
		{"time after the newest was stored", restore.Target{Time: stored.Add(time.Hour)}, []string{newest, "stored", "LSN 0/B000000", "--mark latest", "no target"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := restore.NewPlan(context.Background(), s.cat, tt.target)
			if !errors.Is(err, restore.ErrBadTarget) {
				t.Fatalf("plan to %s: %v; want %v", tt.target, err, restore.ErrBadTarget)
			}
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	for _, target := range []restore.Target{
		{LSN: pg.LSN(segLSN(11, 0) - 1)},
		{Time: planEpoch.Add(5 * time.Minute)},
		// A standby waits for the WAL shipped until then.
		{Time: stored.Add(time.Hour), Standby: true},
	} {
		if p, err := restore.NewPlan(context.Background(), s.cat, target); err != nil || p.BackupID != "B1" {
			t.Errorf("plan to %s: %s, %v; want B1", target, p.BackupID, err)
		}
	}
}

// The LSN check follows the target's timeline path: past TLI 1's end is
// still inside the archive when TLI 2 goes on.
func TestF14_ReachBeyondFollowsThePath(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 6)
	s.history(2, "1\t0/5800000\tno recovery target specified\n")
	s.segments(2, 5, 9)
	s.backup("B1", 1, 2, 2)
	ch, err := s.cat.Chain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Reach(catalog.Target{Kind: catalog.TargetLSN, LSN: pg.LSN(segLSN(9, 0x100))}, nil); err != nil {
		t.Fatalf("LSN in TLI 2's newest segment: %v", err)
	}
	_, err = ch.Reach(catalog.Target{Kind: catalog.TargetLSN, LSN: pg.LSN(segLSN(10, 0))}, nil)
	var be *catalog.BeyondError
	if !errors.As(err, &be) || !errors.Is(err, catalog.ErrUnreachable) || be.Newest != pg.SegmentName(2, 9, planSegSize) || be.End != pg.LSN(segLSN(10, 0)) {
		t.Fatalf("LSN past TLI 2's end: %v (%+v); want a BeyondError at 000000020000000000000009", err, be)
	}
}

package restore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
	"github.com/logship/logship/store/file"
)

const planSegSize = 16 << 20

// planEpoch is when the synthetic history begins; segment n was written at
// planEpoch + n minutes.
var planEpoch = time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)

// synth builds a catalog by hand: records only, no real WAL.
type synth struct {
	t   *testing.T
	cat *catalog.Catalog
}

func newSynth(t *testing.T) *synth {
	t.Helper()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "plan")
	if _, err := cat.ClaimSource(context.Background(), catalog.Source{SystemID: 7, SegmentSize: planSegSize}); err != nil {
		t.Fatal(err)
	}
	return &synth{t: t, cat: cat}
}

func segLSN(seg uint64, off uint64) uint64 { return seg*planSegSize + off }

func (s *synth) segments(tli pg.TimelineID, from, to uint64, skip ...uint64) {
	s.t.Helper()
	for seg := from; seg <= to; seg++ {
		skipped := false
		for _, k := range skip {
			skipped = skipped || k == seg
		}
		if skipped {
			continue
		}
		r := catalog.WALRecord{Name: pg.SegmentName(tli, seg, planSegSize), RawSize: planSegSize, SHA256: strings.Repeat("ab", 32), StoredSize: 1000}
		if err := s.cat.AddWAL(context.Background(), r); err != nil {
			s.t.Fatal(err)
		}
	}
}

// history stores tli's history file as an object and records it.
func (s *synth) history(tli pg.TimelineID, text string) {
	s.t.Helper()
	name := pg.HistoryFileName(tli)
	obj, err := object.Encode(strings.NewReader(text), object.KindHistory, name, nil, object.EncodeOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.cat.PutWAL(ctx, name, obj); err != nil {
		s.t.Fatal(err)
	}
	r := catalog.WALRecord{Name: name, RawSize: obj.Header.RawSize, SHA256: obj.Header.ChecksumHex(), StoredSize: obj.Size()}
	if err := s.cat.AddWAL(ctx, r); err != nil {
		s.t.Fatal(err)
	}
}

// backup records a backup on tli from segment start to segment end.
func (s *synth) backup(id string, tli pg.TimelineID, start, end uint64) catalog.Backup {
	s.t.Helper()
	b := catalog.Backup{
		ID: id, Source: "plan", SystemID: 7, Timeline: tli,
		StartLSN: pg.LSN(segLSN(start, 0x28)), EndLSN: pg.LSN(segLSN(end, 0x100)),
		StartWAL: pg.SegmentName(tli, start, planSegSize), EndWAL: pg.SegmentName(tli, end, planSegSize),
		StartTime: planEpoch.Add(time.Duration(start) * time.Minute), EndTime: planEpoch.Add(time.Duration(end)*time.Minute + 30*time.Second),
	}
	if err := s.cat.AddBackup(context.Background(), b); err != nil {
		s.t.Fatal(err)
	}
	return b
}

func (s *synth) mark(name string, tli pg.TimelineID, seg uint64) {
	s.t.Helper()
	m := catalog.Mark{Name: name, LSN: pg.LSN(segLSN(seg, 0x500)), Timeline: tli, Time: planEpoch.Add(time.Duration(seg) * time.Minute)}
	if err := s.cat.AddMark(context.Background(), m); err != nil {
		s.t.Fatal(err)
	}
}

func TestNewPlanOneTimeline(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	s.backup("B2", 1, 6, 6)
	s.mark("m1", 1, 4)
	s.mark("m2", 1, 8)
	s.mark("m3", 1, 10)

	tests := []struct {
		name     string
		target   restore.Target
		backup   string
		last     string
		recovery restore.RecoveryTarget
	}{
		{"mark before the second backup", restore.Target{Mark: "m1"}, "B1", "000000010000000000000004",
			restore.RecoveryTarget{LSN: pg.LSN(segLSN(4, 0x500)), Inclusive: boolPtr(false), Timeline: "1"}},
		{"mark after both", restore.Target{Mark: "m2"}, "B2", "000000010000000000000008",
			restore.RecoveryTarget{LSN: pg.LSN(segLSN(8, 0x500)), Inclusive: boolPtr(false), Timeline: "1"}},
		{"latest mark", restore.Target{Mark: "latest"}, "B2", "00000001000000000000000A",
			restore.RecoveryTarget{LSN: pg.LSN(segLSN(10, 0x500)), Inclusive: boolPtr(false), Timeline: "1"}},
		{"lsn", restore.Target{LSN: pg.LSN(segLSN(7, 0x10))}, "B2", "000000010000000000000007",
			restore.RecoveryTarget{LSN: 0x7000010, Timeline: "latest"}},
		{"lsn between backups", restore.Target{LSN: pg.LSN(segLSN(5, 0))}, "B1", "000000010000000000000005",
			restore.RecoveryTarget{LSN: 0x5000000, Timeline: "latest"}},
		{"time between backups", restore.Target{Time: planEpoch.Add(5 * time.Minute)}, "B1", "00000001000000000000000A",
			restore.RecoveryTarget{Time: time.Date(2026, 11, 27, 4, 5, 0, 0, time.UTC), Timeline: "latest"}},
		{"time after both", restore.Target{Time: planEpoch.Add(time.Hour)}, "B2", "00000001000000000000000A",
			restore.RecoveryTarget{Time: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), Timeline: "latest"}},
		{"immediate", restore.Target{Immediate: true}, "B2", "000000010000000000000006",
			restore.RecoveryTarget{Immediate: true, Timeline: "latest"}},
		{"end of archive", restore.Target{}, "B2", "00000001000000000000000A",
			restore.RecoveryTarget{Timeline: "latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := restore.NewPlan(context.Background(), s.cat, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if p.Backup.ID != tt.backup || p.LastWAL != tt.last || p.FirstWAL != p.Backup.StartWAL {
				t.Errorf("plan uses backup %s, WAL %s to %s; want %s, up to %s", p.Backup.ID, p.FirstWAL, p.LastWAL, tt.backup, tt.last)
			}
			if !sameRecoveryTarget(p.Recovery, tt.recovery) {
				t.Errorf("recovery target %+v, want %+v", p.Recovery, tt.recovery)
			}
		})
	}
}

// sameRecoveryTarget compares targets by value, Inclusive included.
func sameRecoveryTarget(a, b restore.RecoveryTarget) bool {
	ai, bi := a.Inclusive == nil || *a.Inclusive, b.Inclusive == nil || *b.Inclusive
	a.Inclusive, b.Inclusive = nil, nil
	return a == b && ai == bi
}

func TestNewPlanRefuses(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10, 3)
	s.backup("B1", 1, 2, 2)
	s.backup("B2", 1, 4, 4)
	s.mark("m0", 1, 1)
	s.mark("m1", 1, 3)
	s.mark("m2", 1, 6)

	empty := newSynth(t)
	empty.segments(1, 1, 3)
	empty.mark("m1", 1, 2)

	tests := []struct {
		name   string
		cat    *catalog.Catalog
		target restore.Target
		is     error
		says   []string
	}{
		{"gap between backup and mark", s.cat, restore.Target{Mark: "m1"}, restore.ErrMissingWAL,
			[]string{"000000010000000000000003 is not in the store"}},
		{"gap for a time target", s.cat, restore.Target{Time: planEpoch.Add(3 * time.Minute)}, restore.ErrMissingWAL,
			[]string{"000000010000000000000003"}},
		{"unknown mark", s.cat, restore.Target{Mark: "nope"}, restore.ErrUnknownMark, []string{`"nope"`}},
		{"mark before the oldest backup", s.cat, restore.Target{Mark: "m0"}, catalog.ErrNoBackup,
			[]string{`mark "m0"`, "before the oldest backup B1"}},
		{"lsn before the oldest backup", s.cat, restore.Target{LSN: pg.LSN(segLSN(1, 0))}, catalog.ErrNoBackup,
			[]string{"LSN 0/1000000", "before the oldest backup B1"}},
		{"time before the oldest backup", s.cat, restore.Target{Time: planEpoch}, catalog.ErrNoBackup,
			[]string{"before the oldest backup B1"}},
		{"two targets", s.cat, restore.Target{Mark: "m1", Immediate: true}, restore.ErrBadTarget, nil},
		{"no backups", empty.cat, restore.Target{Mark: "m1"}, catalog.ErrNoBackup, []string{"no complete backup", "logship backup"}},
		{"no marks for latest", newSynth(t).cat, restore.Target{Mark: "latest"}, nil, []string{"no complete backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := restore.NewPlan(context.Background(), tt.cat, tt.target)
			if err == nil {
				t.Fatal("plan succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	// The gap lies before B2, so a mark after B2 is still reachable.
	if p, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Mark: "m2"}); err != nil || p.Backup.ID != "B2" {
		t.Errorf("mark m2: backup %s, %v; want B2", p.Backup.ID, err)
	}
}

func TestNewPlanLatestWithoutMarks(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 3)
	s.backup("B1", 1, 2, 2)
	_, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Mark: "latest"})
	if !errors.Is(err, restore.ErrUnknownMark) || !strings.Contains(err.Error(), "no marks yet") {
		t.Fatalf("got %v, want an unknown-mark error saying there are no marks", err)
	}
}

// TLI 2 branches off TLI 1 in segment 5; TLI 1 went on to segment 8.
func TestNewPlanTimelines(t *testing.T) {
	t.Parallel()
	switchLSN := pg.LSN(segLSN(5, 0x800000))
	s := newSynth(t)
	s.segments(1, 1, 8)
	s.history(2, fmt.Sprintf("1\t%s\tat restore point \"m2\"\n", switchLSN))
	s.segments(2, 5, 9)
	s.backup("B1", 1, 2, 2)
	s.backup("B6", 1, 6, 6) // after the switch on TLI 1: not on TLI 2's path
	s.mark("m3", 1, 7)
	s.mark("m4", 2, 9)
	// Made after m4, at a lower LSN than m3: "latest" must not pick m3.
	if err := s.cat.AddMark(context.Background(), catalog.Mark{Name: "m5", LSN: pg.LSN(segLSN(6, 0x900)), Timeline: 2, Time: planEpoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		target   restore.Target
		backup   string
		timeline pg.TimelineID
		last     string
		segments int
	}{
		{"mark on the new timeline", restore.Target{Mark: "m4"}, "B1", 2, "000000020000000000000009", 8},
		{"latest mark is the one made last, on the new timeline", restore.Target{Mark: "latest"}, "B1", 2, "000000020000000000000006", 5},
		{"mark on the old timeline after the switch", restore.Target{Mark: "m3"}, "B6", 1, "000000010000000000000007", 2},
		{"end of archive follows the newest timeline", restore.Target{}, "B1", 2, "000000020000000000000009", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := restore.NewPlan(context.Background(), s.cat, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if p.Backup.ID != tt.backup || p.Timeline != tt.timeline || p.LastWAL != tt.last || p.Segments != tt.segments {
				t.Errorf("plan: backup %s timeline %d last %s segments %d; want %s %d %s %d",
					p.Backup.ID, p.Timeline, p.LastWAL, p.Segments, tt.backup, tt.timeline, tt.last, tt.segments)
			}
		})
	}

	// The switch segment must come from the new timeline, even though the
	// old timeline's segment of that number is stored.
	gap := newSynth(t)
	gap.segments(1, 1, 8)
	gap.history(2, fmt.Sprintf("1\t%s\tat restore point \"m2\"\n", switchLSN))
	gap.segments(2, 6, 9)
	gap.backup("B1", 1, 2, 2)
	gap.mark("m4", 2, 9)
	_, err := restore.NewPlan(context.Background(), gap.cat, restore.Target{Mark: "m4"})
	if !errors.Is(err, restore.ErrMissingWAL) || !strings.Contains(err.Error(), "000000020000000000000005") {
		t.Fatalf("got %v, want the missing 000000020000000000000005 named", err)
	}
}

// F2: a mark is recovered to by its LSN, inclusive off, never by name:
// PostgreSQL stops at the first restore point of a name, and one made by
// hand before the mark would win.
func TestF2_MarkRecoversByLSNNotName(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 6)
	s.backup("B1", 1, 2, 2)
	s.mark("m1", 1, 4)
	p, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Mark: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	rt := p.Recovery
	if rt.Name != "" || rt.LSN != pg.LSN(segLSN(4, 0x500)) || rt.Inclusive == nil || *rt.Inclusive {
		t.Errorf("recovery target for mark m1: %+v (inclusive %v); want LSN %s, inclusive off, no name", rt, rt.Inclusive, pg.LSN(segLSN(4, 0x500)))
	}
}

// F2: recovery to a mark stops before the record after it, so a mark whose
// record ends exactly at a segment's end needs the next segment too.
func TestF2_MarkAtSegmentEndNeedsNextSegment(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 6)
	s.backup("B1", 1, 2, 2)
	m := catalog.Mark{Name: "edge", LSN: pg.LSN(segLSN(5, 0)), Timeline: 1, Time: planEpoch.Add(5 * time.Minute)}
	if err := s.cat.AddMark(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Mark: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	if want := pg.SegmentName(1, 5, planSegSize); p.LastWAL != want {
		t.Errorf("plan for a mark ending segment 4 reads up to %s, want %s", p.LastWAL, want)
	}
}

// Backups of another PostgreSQL system than the source's (its system
// identifier changed) are named as such, not as "no backup on the history
// of timeline 1".
func TestNewPlanNamesChangedSystemID(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 6)
	b := catalog.Backup{ID: "other", Source: "plan", SystemID: 8, Timeline: 1,
		StartLSN: pg.LSN(segLSN(2, 0x28)), EndLSN: pg.LSN(segLSN(3, 0x100)),
		StartWAL: pg.SegmentName(1, 2, planSegSize), EndWAL: pg.SegmentName(1, 3, planSegSize),
		StartTime: planEpoch, EndTime: planEpoch.Add(time.Minute)}
	if err := s.cat.AddBackup(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	_, err := restore.NewPlan(context.Background(), s.cat, restore.Target{})
	if !errors.Is(err, catalog.ErrWrongSystem) || !errors.Is(err, catalog.ErrNoBackup) {
		t.Fatalf("err = %v, want ErrWrongSystem and ErrNoBackup", err)
	}
	for _, want := range []string{"system 8", "system 7", "other"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "history of timeline") {
		t.Errorf("%q still blames the timeline history", err)
	}
}

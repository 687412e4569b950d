package catalog_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

const segSize = 16 << 20

func seg(tli pg.TimelineID, n uint64) string { return pg.SegmentName(tli, n, segSize) }

func lsn(segNo uint64, off uint64) uint64 { return segNo*segSize + off }

// walRecords records segments first..last of tli, skipping the ones in skip.
func walRecords(tli pg.TimelineID, first, last uint64, skip ...uint64) []catalog.WALRecord {
	var out []catalog.WALRecord
	for s := first; s <= last; s++ {
		if contains(skip, s) {
			continue
		}
		out = append(out, catalog.WALRecord{Name: seg(tli, s), RawSize: segSize, SHA256: zeroSHA, StoredSize: 100})
	}
	return out
}

const zeroSHA = "0000000000000000000000000000000000000000000000000000000000000000"

func contains(list []uint64, v uint64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func backup(id string, tli uint32, startSeg, endSeg uint64) catalog.Backup {
	start, end := lsn(startSeg, 0x28), lsn(endSeg, 0x100)
	return catalog.Backup{ID: id, Timeline: pg.TimelineID(tli), StartLSN: pg.LSN(start), EndLSN: pg.LSN(end),
		StartWAL: seg(pg.TimelineID(tli), startSeg), EndWAL: seg(pg.TimelineID(tli), endSeg)}
}

func mark(name string, tli uint32, segNo uint64) catalog.Mark {
	return catalog.Mark{Name: name, Timeline: pg.TimelineID(tli), LSN: pg.LSN(lsn(segNo, 0x200))}
}

// Timeline 2 branches off timeline 1 in the middle of segment 6.
var tli2History = map[pg.TimelineID][]pg.HistoryEntry{2: {{Timeline: 1, SwitchPoint: pg.LSN(lsn(6, 0x4000))}}}

func TestReplayFollowsTimelines(t *testing.T) {
	t.Parallel()
	wal := append(walRecords(1, 1, 7), walRecords(2, 6, 9)...)
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, wal, nil, nil, tli2History)
	tests := []struct {
		name     string
		tli      pg.TimelineID
		from, to uint64
		want     []catalog.SegmentRun
	}{
		{"one timeline", 1, lsn(2, 0), lsn(5, 1), []catalog.SegmentRun{{Timeline: 1, First: 2, Last: 5}}},
		{"end at a boundary needs no more", 1, lsn(2, 0), lsn(5, 0), []catalog.SegmentRun{{Timeline: 1, First: 2, Last: 4}}},
		{"switch segment belongs to the child", 2, lsn(2, 0x28), lsn(8, 0x10), []catalog.SegmentRun{{Timeline: 1, First: 2, Last: 5}, {Timeline: 2, First: 6, Last: 8}}},
		{"start after the switch", 2, lsn(7, 0), lsn(9, 0x10), []catalog.SegmentRun{{Timeline: 2, First: 7, Last: 9}}},
		{"empty", 1, lsn(3, 0), lsn(3, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ch.Replay(tt.tli, pg.LSN(tt.from), pg.LSN(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Replay = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMissingHistoryBreaksThePath(t *testing.T) {
	t.Parallel()
	wal := append(walRecords(1, 1, 7), walRecords(2, 6, 9)...)
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, wal, []catalog.Backup{backup("b1", 1, 2, 3)}, nil, nil)
	if _, err := ch.Path(2); !errors.Is(err, catalog.ErrMissingHistory) {
		t.Fatalf("Path(2) = %v, want ErrMissingHistory", err)
	}
	if _, err := ch.ReachMark(mark("m", 2, 8), nil); !errors.Is(err, catalog.ErrMissingHistory) {
		t.Fatalf("ReachMark = %v, want ErrMissingHistory", err)
	}
	if _, err := ch.Path(1); err != nil {
		t.Fatalf("timeline 1 needs no history: %v", err)
	}
	if got := ch.Timelines(); !reflect.DeepEqual(got, []pg.TimelineID{1, 2}) {
		t.Fatalf("Timelines = %v", got)
	}
}

func TestMissingRanges(t *testing.T) {
	t.Parallel()
	ch := catalog.NewChain(nil, walRecords(1, 1, 20, 4, 5, 6, 10, 20), nil, nil, nil)
	got := ch.Missing([]catalog.SegmentRun{{Timeline: 1, First: 2, Last: 21}, {Timeline: 3, First: 1, Last: 1}})
	want := []catalog.MissingRange{
		{Timeline: 1, First: seg(1, 4), Last: seg(1, 6), Count: 3},
		{Timeline: 1, First: seg(1, 10), Last: seg(1, 10), Count: 1},
		{Timeline: 1, First: seg(1, 20), Last: seg(1, 21), Count: 2},
		{Timeline: 3, First: seg(3, 1), Last: seg(3, 1), Count: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Missing = %+v\nwant %+v", got, want)
	}
	if m := ch.Missing([]catalog.SegmentRun{{Timeline: 1, First: 11, Last: 19}}); m != nil {
		t.Fatalf("whole run reported missing %+v", m)
	}
}

func TestReachMark(t *testing.T) {
	t.Parallel()
	backups := []catalog.Backup{backup("b1", 1, 2, 3), backup("b2", 1, 8, 9)}
	marks := []catalog.Mark{mark("before-any", 1, 1), mark("m5", 1, 5), mark("m10", 1, 10), mark("m13", 1, 13)}
	// Segment 11 is lost: m13 is cut off from b2, and b1 is older still.
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, walRecords(1, 1, 14, 11), backups, marks, nil)
	tests := []struct {
		mark    catalog.Mark
		backup  string
		wantErr bool
	}{
		{marks[0], "", true},
		{marks[1], "b1", false},
		{marks[2], "b2", false},
		{marks[3], "b2", true},
	}
	for _, tt := range tests {
		t.Run(tt.mark.Name, func(t *testing.T) {
			r, err := ch.ReachMark(tt.mark, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReachMark err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, catalog.ErrUnreachable) {
				t.Fatalf("error %v does not wrap ErrUnreachable", err)
			}
			if r.ID != tt.backup {
				t.Fatalf("backup %q, want %q", r.ID, tt.backup)
			}
		})
	}
	// An unusable newest backup makes restore fall back to the older one.
	r, err := ch.ReachMark(marks[2], func(b catalog.Backup) bool { return b.ID != "b2" })
	if err != nil || r.ID != "b1" || r.Segments() != 9 {
		t.Fatalf("fallback: %+v, %v", r, err)
	}
	r, err = ch.ReachMark(marks[2], nil)
	if names := walNames(ch.Needs(r), ch.SegmentSize); err != nil || r.ID != "b2" || !reflect.DeepEqual(names, []string{seg(1, 8), seg(1, 9), seg(1, 10)}) {
		t.Fatalf("Needs of the reach of m10 = %s %v %v", r.ID, names, err)
	}
	if got := walNames(ch.NeededBy(backups[0]), ch.SegmentSize); !reflect.DeepEqual(got, []string{seg(1, 2), seg(1, 3)}) {
		t.Fatalf("NeededBy = %v", got)
	}
}

func TestBackupOnPath(t *testing.T) {
	t.Parallel()
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, nil, []catalog.Backup{
		backup("before-switch", 1, 2, 3), backup("across-switch", 1, 5, 7), backup("after-switch", 2, 7, 7), backup("old-branch", 1, 8, 8),
	}, nil, tli2History)
	got, err := ch.Candidates(2, pg.LSN(lsn(20, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if want := []string{"after-switch", "before-switch"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Candidates = %v, want %v", ids, want)
	}
}

// What a kept backup and kept marks need, the way purge asks: a mark cut off
// by a hole still names the WAL of the attempt from the newest backup that
// fits, so that keeping it never makes a repair harder.
func TestNeeds(t *testing.T) {
	t.Parallel()
	wal := append(walRecords(1, 1, 12, 11), catalog.WALRecord{Name: "00000002.history", SHA256: zeroSHA})
	backups := []catalog.Backup{backup("b1", 1, 2, 3), backup("b2", 1, 8, 9)}
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, wal, backups, nil, nil)
	keep := map[string]bool{}
	for _, n := range walNames(ch.NeededBy(backups[1]), ch.SegmentSize) {
		keep[n] = true
	}
	for _, m := range []catalog.Mark{mark("m10", 1, 10), mark("m12", 1, 12)} {
		r, _ := ch.ReachMark(m, nil)
		for _, n := range walNames(ch.Needs(r), ch.SegmentSize) {
			keep[n] = true
		}
	}
	want := map[string]bool{seg(1, 8): true, seg(1, 9): true, seg(1, 10): true, seg(1, 11): true, seg(1, 12): true}
	if !reflect.DeepEqual(keep, want) {
		t.Fatalf("needs = %v, want %v", keep, want)
	}
	if got := walNames(ch.NeededBy(backup("b3", 2, 8, 9)), ch.SegmentSize); !reflect.DeepEqual(got, []string{"00000002.history", "000000020000000000000008", "000000020000000000000009"}) {
		t.Fatalf("NeededBy on timeline 2 = %v", got)
	}
}

// walNames lists every file n names: its history files, then the segments
// of its runs.
func walNames(n catalog.WALNeeds, segSize uint64) []string {
	names := append([]string(nil), n.History...)
	for _, r := range n.Runs {
		names = append(names, r.Names(segSize)...)
	}
	return names
}

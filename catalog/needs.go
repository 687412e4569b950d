package catalog

import (
	"sort"

	"github.com/logship/logship/pg"
)

// WALNeeds is the WAL a restore or a kept backup needs, as runs of
// segments plus history file names. It is never a list of segment names:
// a damaged record that claims exabytes of WAL costs what one segment does.
type WALNeeds struct {
	History []string
	Runs    []SegmentRun
}

// Needs is the WAL a restore along r needs, which purge must keep: the
// history file of its timeline and every segment it replays.
func (ch *Chain) Needs(r Reach) WALNeeds {
	var n WALNeeds
	if r.Timeline > 1 {
		n.History = []string{pg.HistoryFileName(r.Timeline)}
	}
	n.Runs = append(n.Runs, r.Runs...)
	return n
}

// NeededBy is the WAL a kept backup needs to be restorable at all: its own
// segments (BackupWAL) and the history file of its timeline.
func (ch *Chain) NeededBy(b Backup) WALNeeds {
	return ch.Needs(Reach{Backup: b, ID: b.ID, Timeline: b.Timeline, Runs: ch.BackupWAL(b)})
}

// neededSet answers "does anything kept need this WAL file, and what" in
// O(log n) per file, from runs alone.
type neededSet struct {
	history map[string]string
	tl      map[pg.TimelineID]*neededRuns
}

// neededRuns are one timeline's runs sorted by First; reach[i] is the
// index, among runs[:i+1], of the run that reaches furthest, so a lookup
// needs one binary search even when runs overlap.
type neededRuns struct {
	runs  []SegmentRun
	whys  []string
	reach []int
}

func newNeededSet() *neededSet {
	return &neededSet{history: map[string]string{}, tl: map[pg.TimelineID]*neededRuns{}}
}

// add records what n needs, for why; the first reason given stays.
func (s *neededSet) add(n WALNeeds, why string) {
	for _, h := range n.History {
		if _, ok := s.history[h]; !ok {
			s.history[h] = why
		}
	}
	for _, r := range n.Runs {
		t := s.tl[r.Timeline]
		if t == nil {
			t = &neededRuns{}
			s.tl[r.Timeline] = t
		}
		t.runs = append(t.runs, r)
		t.whys = append(t.whys, why)
		t.reach = nil
	}
}

func (t *neededRuns) index() {
	idx := make([]int, len(t.runs))
	for i := range idx {
		idx[i] = i
	}
	// Stable, so that among equal starts the reason added first wins.
	sort.SliceStable(idx, func(a, b int) bool { return t.runs[idx[a]].First < t.runs[idx[b]].First })
	runs, whys := make([]SegmentRun, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		runs[i], whys[i] = t.runs[j], t.whys[j]
	}
	t.runs, t.whys = runs, whys
	t.reach = make([]int, len(runs))
	for i := range runs {
		t.reach[i] = i
		if i > 0 && runs[t.reach[i-1]].Last >= runs[i].Last {
			t.reach[i] = t.reach[i-1]
		}
	}
}

// why says what needs the WAL file f, or "" when nothing does.
func (s *neededSet) why(f pg.WALFile) string {
	if s == nil {
		return ""
	}
	if f.Kind == pg.History {
		return s.history[f.Name]
	}
	t := s.tl[f.Timeline]
	if t == nil || f.Kind != pg.Segment {
		return ""
	}
	if t.reach == nil {
		t.index()
	}
	i := sort.Search(len(t.runs), func(i int) bool { return t.runs[i].First > f.SegNo }) - 1
	if i < 0 {
		return ""
	}
	if j := t.reach[i]; t.runs[j].Last >= f.SegNo {
		return t.whys[j]
	}
	return ""
}

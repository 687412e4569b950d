package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// ErrMissingHistory means a timeline above 1 has no history file in the
// store, so the way back to its parent timeline cannot be followed.
var ErrMissingHistory = errors.New("timeline history file missing")

// ErrUnreachable means no complete backup can be rolled forward to a target:
// none lies on the target's timeline path before it, or the WAL from every
// such backup to the target has a hole.
var ErrUnreachable = errors.New("not reachable from any backup")

// maxHistoryObject bounds a history file read back: one short line per
// timeline, so this allows hundreds of thousands of timelines.
const maxHistoryObject = 16 << 20

// Chain is the restore-relevant view of one source's catalog: which segments
// are stored on which timeline, how the timelines descend from one another
// (their history files), the backups and the marks. It answers what a backup
// or a mark needs and whether it is there, from records alone.
//
// A Chain is a snapshot: load it once (Catalog.Chain) and ask many
// questions. It is not safe for concurrent modification but its methods may
// be called from several goroutines.
type Chain struct {
	// Source is the source record; SourceKnown is false when it is missing.
	Source      Source
	SourceKnown bool
	// SegmentSize is the source's, or 16 MiB when the source record is
	// missing.
	SegmentSize uint64
	Backups     []Backup    // oldest first
	Marks       []Mark      // lowest LSN first
	WAL         []WALRecord // name order

	segs       map[pg.TimelineID][]uint64 // stored segment numbers, ascending
	history    map[pg.TimelineID][]pg.HistoryEntry
	historyErr map[pg.TimelineID]error // history stored but unreadable or invalid
}

// Chain loads every record of the catalog and reads (and checks) the
// history files, the only objects it downloads: they are a few bytes each.
// A history file that cannot be decoded is remembered, not fatal: History
// and Path report it for the timelines that need it.
func (c *Catalog) Chain(ctx context.Context) (*Chain, error) {
	var src *Source
	s, err := c.Source(ctx)
	switch {
	case err == nil:
		src = &s
	case !errors.Is(err, ErrNoSource):
		return nil, err
	}
	var wal []WALRecord
	if err := c.ListWAL(ctx, func(r WALRecord) error { wal = append(wal, r); return nil }); err != nil {
		return nil, fmt.Errorf("list WAL records: %w", err)
	}
	backups, err := c.Backups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	marks, err := c.Marks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list marks: %w", err)
	}
	ch := NewChain(src, wal, backups, marks, nil)
	for _, r := range wal {
		f, err := pg.ParseWALFileName(r.Name, ch.SegmentSize)
		if err != nil || f.Kind != pg.History {
			continue
		}
		h, err := c.readHistory(ctx, r)
		switch {
		case err == nil:
			ch.history[f.Timeline] = h
		case isDamage(err):
			ch.historyErr[f.Timeline] = err
		default:
			return nil, err
		}
	}
	return ch, nil
}

// isDamage tells a damaged or absent object (a finding about the store)
// from a failure to talk to the store (which stops a run).
func isDamage(err error) bool {
	var fe *object.FormatError
	return errors.As(err, &fe) || errors.Is(err, store.ErrNotExist) || errors.Is(err, pg.ErrInvalidHistory) || errors.Is(err, errWrongObject)
}

// errWrongObject marks an object whose header names another file.
var errWrongObject = errors.New("object holds another file")

func (c *Catalog) readHistory(ctx context.Context, r WALRecord) ([]pg.HistoryEntry, error) {
	key := c.walKey(r.Name)
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	or, err := object.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer or.Close()
	if or.Header().Name != r.Name {
		return nil, fmt.Errorf("read %s: %w: %q", key, errWrongObject, or.Header().Name)
	}
	b, err := io.ReadAll(io.LimitReader(or, maxHistoryObject+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxHistoryObject {
		return nil, fmt.Errorf("read %s: %w: larger than %d bytes", key, pg.ErrInvalidHistory, maxHistoryObject)
	}
	h, err := pg.ParseHistory(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name, err)
	}
	return h, nil
}

// NewChain builds a chain from records already at hand (tests, benchmarks,
// and purge's "what if these were gone" questions). src may be nil.
// histories maps a timeline to the parsed content of its history file; a
// timeline above 1 absent from it has no history file. wal is sorted by
// name in place.
func NewChain(src *Source, wal []WALRecord, backups []Backup, marks []Mark, histories map[pg.TimelineID][]pg.HistoryEntry) *Chain {
	ch := &Chain{
		SegmentSize: pg.DefaultSegmentSize,
		Backups:     backups,
		Marks:       marks,
		WAL:         wal,
		segs:        map[pg.TimelineID][]uint64{},
		history:     map[pg.TimelineID][]pg.HistoryEntry{},
		historyErr:  map[pg.TimelineID]error{},
	}
	if src != nil {
		ch.Source, ch.SourceKnown = *src, true
		if pg.ValidSegmentSize(src.SegmentSize) {
			ch.SegmentSize = src.SegmentSize
		}
	}
	for tli, h := range histories {
		ch.history[tli] = h
	}
	// Record keys sort by name~facts, which puts "X.backup~" before "X~":
	// put them in plain name order, the order of the objects' listing.
	byName := func(i, j int) bool { return wal[i].Name < wal[j].Name }
	if !sort.SliceIsSorted(wal, byName) {
		sort.SliceStable(wal, byName)
	}
	for _, r := range wal {
		f, err := pg.ParseWALFileName(r.Name, ch.SegmentSize)
		if err != nil || f.Kind != pg.Segment {
			continue
		}
		ch.segs[f.Timeline] = append(ch.segs[f.Timeline], f.SegNo)
	}
	sort.Slice(ch.Backups, func(i, j int) bool { return ch.Backups[i].ID < ch.Backups[j].ID })
	sortMarks(ch.Marks)
	return ch
}

// Timelines lists every timeline the catalog knows of (by a segment, a
// history file, a backup or a mark), ascending.
func (ch *Chain) Timelines() []pg.TimelineID {
	set := map[pg.TimelineID]bool{}
	for t := range ch.segs {
		set[t] = true
	}
	for t := range ch.history {
		set[t] = true
	}
	for t := range ch.historyErr {
		set[t] = true
	}
	for _, b := range ch.Backups {
		set[pg.TimelineID(b.Timeline)] = true
	}
	for _, m := range ch.Marks {
		set[pg.TimelineID(m.Timeline)] = true
	}
	out := make([]pg.TimelineID, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// History is the parsed history file of tli: nil for timeline 1, an error
// wrapping ErrMissingHistory when the file is not stored, or the reason it
// could not be read.
func (ch *Chain) History(tli pg.TimelineID) ([]pg.HistoryEntry, error) {
	if tli <= 1 {
		return nil, nil
	}
	if err := ch.historyErr[tli]; err != nil {
		return nil, err
	}
	h, ok := ch.history[tli]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not in the store, so timeline %d cannot be followed back to its parent",
			ErrMissingHistory, pg.HistoryFileName(tli), tli)
	}
	if n := len(h); n > 0 && h[n-1].Timeline >= tli {
		return nil, fmt.Errorf("%s: %w: it names timeline %d as a parent", pg.HistoryFileName(tli), pg.ErrInvalidHistory, h[n-1].Timeline)
	}
	return h, nil
}

// Path lists which timeline owns which stretch of WAL on the way to tli,
// oldest first (see pg.TimelinePath).
func (ch *Chain) Path(tli pg.TimelineID) ([]pg.TimelineRange, error) {
	h, err := ch.History(tli)
	if err != nil {
		return nil, err
	}
	return pg.TimelinePath(h, tli), nil
}

// SegmentRun is a run of consecutive segments on one timeline: segment
// numbers First through Last, both included.
type SegmentRun struct {
	Timeline pg.TimelineID `json:"timeline"`
	First    uint64        `json:"first"`
	Last     uint64        `json:"last"`
}

// Len is the number of segments in the run.
func (r SegmentRun) Len() uint64 { return r.Last - r.First + 1 }

// Names lists the file names of the run's segments.
func (r SegmentRun) Names(segSize uint64) []string {
	out := make([]string, 0, r.Len())
	for s := r.First; s <= r.Last; s++ {
		out = append(out, pg.SegmentName(r.Timeline, s, segSize))
	}
	return out
}

// Replay lists the segments PostgreSQL reads to replay WAL from LSN from up
// to (not including) LSN to, following tli's history. Each segment is read
// from the newest timeline on the path that had begun by that segment, as
// PostgreSQL's XLogFileReadAnyTLI does: a switch point's segment belongs to
// the child timeline.
func (ch *Chain) Replay(tli pg.TimelineID, from, to pg.LSN) ([]SegmentRun, error) {
	path, err := ch.Path(tli)
	if err != nil {
		return nil, err
	}
	return replayPath(path, from, to, ch.SegmentSize), nil
}

func replayPath(path []pg.TimelineRange, from, to pg.LSN, segSize uint64) []SegmentRun {
	if to <= from {
		return nil
	}
	first, last := pg.SegmentOf(from, segSize), pg.SegmentOf(to-1, segSize)
	var runs []SegmentRun
	for i, r := range path {
		lo := pg.SegmentOf(r.Begin, segSize)
		if i == 0 {
			lo = 0
		}
		hi := last
		if i+1 < len(path) {
			next := pg.SegmentOf(path[i+1].Begin, segSize)
			if next == 0 {
				continue
			}
			hi = min(hi, next-1)
		}
		lo = max(lo, first)
		if lo > hi {
			continue
		}
		runs = append(runs, SegmentRun{Timeline: r.Timeline, First: lo, Last: hi})
	}
	return runs
}

// Has reports whether segment segNo of timeline tli is recorded.
func (ch *Chain) Has(tli pg.TimelineID, segNo uint64) bool {
	s := ch.segs[tli]
	i := sort.Search(len(s), func(i int) bool { return s[i] >= segNo })
	return i < len(s) && s[i] == segNo
}

// Newest is the highest recorded segment number of tli.
func (ch *Chain) Newest(tli pg.TimelineID) (uint64, bool) {
	s := ch.segs[tli]
	if len(s) == 0 {
		return 0, false
	}
	return s[len(s)-1], true
}

// Oldest is the lowest recorded segment number of tli.
func (ch *Chain) Oldest(tli pg.TimelineID) (uint64, bool) {
	s := ch.segs[tli]
	if len(s) == 0 {
		return 0, false
	}
	return s[0], true
}

// MissingRange is a run of consecutive segments that a chain needs and the
// store lacks.
type MissingRange struct {
	Timeline pg.TimelineID `json:"timeline"`
	First    string        `json:"first"`
	Last     string        `json:"last"`
	Count    uint64        `json:"count"`
}

func (m MissingRange) String() string {
	if m.Count == 1 {
		return m.First
	}
	return fmt.Sprintf("%s to %s (%d segments)", m.First, m.Last, m.Count)
}

// Missing lists what runs lacks, in order. It costs two binary searches per
// run plus one step per stored segment inside a run that has holes.
func (ch *Chain) Missing(runs []SegmentRun) []MissingRange {
	var out []MissingRange
	for _, r := range runs {
		s := ch.segs[r.Timeline]
		i := sort.Search(len(s), func(i int) bool { return s[i] >= r.First })
		j := sort.Search(len(s), func(i int) bool { return s[i] > r.Last })
		if uint64(j-i) == r.Len() {
			continue
		}
		next := r.First
		for _, seg := range s[i:j] {
			if seg > next {
				out = append(out, ch.missing(r.Timeline, next, seg-1))
			}
			next = seg + 1
		}
		if next <= r.Last {
			out = append(out, ch.missing(r.Timeline, next, r.Last))
		}
	}
	return out
}

func (ch *Chain) missing(tli pg.TimelineID, first, last uint64) MissingRange {
	return MissingRange{Timeline: tli, First: pg.SegmentName(tli, first, ch.SegmentSize),
		Last: pg.SegmentName(tli, last, ch.SegmentSize), Count: last - first + 1}
}

// BackupWAL is the WAL a backup needs to be consistent: from the segment
// holding its start to the one holding the byte before its end, on its own
// timeline (a backup cannot span a timeline switch).
func (ch *Chain) BackupWAL(b Backup) []SegmentRun {
	if b.EndLSNValue <= b.StartLSNValue {
		return []SegmentRun{{Timeline: pg.TimelineID(b.Timeline), First: pg.SegmentOf(pg.LSN(b.StartLSNValue), ch.SegmentSize),
			Last: pg.SegmentOf(pg.LSN(b.StartLSNValue), ch.SegmentSize)}}
	}
	return replayPath([]pg.TimelineRange{{Timeline: pg.TimelineID(b.Timeline)}}, pg.LSN(b.StartLSNValue), pg.LSN(b.EndLSNValue), ch.SegmentSize)
}

// OnPath reports whether backup b can be rolled forward along tli's path:
// its timeline owns the WAL it starts at and it ends no later than the
// path leaves that timeline (PostgreSQL refuses a backup whose minimum
// recovery point lies past the switch).
func OnPath(b Backup, path []pg.TimelineRange) bool {
	for _, r := range path {
		if uint32(r.Timeline) != b.Timeline {
			continue
		}
		return pg.LSN(b.StartLSNValue) >= r.Begin && (r.End == 0 || pg.LSN(b.EndLSNValue) <= r.End)
	}
	return false
}

// Candidates lists the backups that can be rolled forward to LSN target on
// timeline tli, newest (latest end) first: the order a restore tries them.
func (ch *Chain) Candidates(tli pg.TimelineID, target pg.LSN) ([]Backup, error) {
	path, err := ch.Path(tli)
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, b := range ch.Backups {
		if OnPath(b, path) && pg.LSN(b.EndLSNValue) <= target {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].EndLSNValue != out[j].EndLSNValue {
			return out[i].EndLSNValue > out[j].EndLSNValue
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Reach is how a target is restored: from Backup, replaying Runs.
type Reach struct {
	Backup  Backup         `json:"-"`
	ID      string         `json:"backup"`
	Runs    []SegmentRun   `json:"runs"`
	Missing []MissingRange `json:"missing,omitempty"`
}

// Segments counts the segments of the runs.
func (r Reach) Segments() uint64 {
	var n uint64
	for _, run := range r.Runs {
		n += run.Len()
	}
	return n
}

// ReachTarget finds the newest backup from which LSN target on timeline tli
// can be reached: the backup is usable (usable nil accepts every backup)
// and every segment from its start to the target is recorded. When none
// works it returns the attempt from the newest candidate, with its Missing
// filled in, and an error wrapping ErrUnreachable (or ErrMissingHistory).
func (ch *Chain) ReachTarget(tli pg.TimelineID, target pg.LSN, usable func(Backup) bool) (Reach, error) {
	cands, err := ch.Candidates(tli, target)
	if err != nil {
		return Reach{}, err
	}
	if len(cands) == 0 {
		return Reach{}, fmt.Errorf("%w: no backup on the path of timeline %d ends at or before %s", ErrUnreachable, tli, pg.LSN(target))
	}
	var first Reach
	for i, b := range cands {
		runs, err := ch.Replay(tli, pg.LSN(b.StartLSNValue), target)
		if err != nil {
			return Reach{}, err
		}
		r := Reach{Backup: b, ID: b.ID, Runs: runs, Missing: ch.Missing(runs)}
		ok := len(r.Missing) == 0 && (usable == nil || usable(b))
		if ok {
			return r, nil
		}
		if i == 0 {
			first = r
		}
	}
	why := "its backup is not usable"
	if len(first.Missing) > 0 {
		why = "WAL is missing: " + first.Missing[0].String()
	}
	return first, fmt.Errorf("%w: from backup %s (the newest that fits) %s", ErrUnreachable, first.ID, why)
}

// MarkTarget is the LSN a restore to m must replay up to: the restore
// point's record ends there.
func MarkTarget(m Mark) pg.LSN { return pg.LSN(m.LSNValue) }

// ReachMark is ReachTarget for a mark.
func (ch *Chain) ReachMark(m Mark, usable func(Backup) bool) (Reach, error) {
	r, err := ch.ReachTarget(pg.TimelineID(m.Timeline), MarkTarget(m), usable)
	if err != nil {
		return r, fmt.Errorf("mark %s: %w", m.Name, err)
	}
	return r, nil
}

// Reachable returns the backup a restore to mark m can start from, or an
// error wrapping ErrUnreachable.
func (ch *Chain) Reachable(m Mark) (Backup, error) {
	r, err := ch.ReachMark(m, nil)
	if err != nil {
		return Backup{}, err
	}
	return r.Backup, nil
}

// NeededBy lists the WAL files a kept backup needs to be restorable at all:
// its own segments, and the history file of its timeline. Purge must keep
// them.
func (ch *Chain) NeededBy(b Backup) []string {
	var names []string
	if b.Timeline > 1 {
		names = append(names, pg.HistoryFileName(pg.TimelineID(b.Timeline)))
	}
	for _, r := range ch.BackupWAL(b) {
		names = append(names, r.Names(ch.SegmentSize)...)
	}
	return names
}

// NeededByMark lists the WAL files a restore to mark m needs, from the
// backup Reachable picks: the history file of the mark's timeline and every
// segment from the backup's start to the mark. Purge must keep them, and
// that backup.
func (ch *Chain) NeededByMark(m Mark) (Backup, []string, error) {
	r, err := ch.ReachMark(m, nil)
	if err != nil {
		return Backup{}, nil, err
	}
	var names []string
	if m.Timeline > 1 {
		names = append(names, pg.HistoryFileName(pg.TimelineID(m.Timeline)))
	}
	for _, run := range r.Runs {
		names = append(names, run.Names(ch.SegmentSize)...)
	}
	return r.Backup, names, nil
}

// Keep is the set of WAL file names that purge must not delete so that the
// given backups and marks stay restorable: each backup's own WAL, each
// mark's WAL from the backup a restore would start from (the attempt from
// the newest candidate when the mark is already unreachable, so that purge
// never makes a repair harder), and every history file (a few bytes each,
// and PostgreSQL probes them to find the latest timeline).
func (ch *Chain) Keep(backups []Backup, marks []Mark) map[string]bool {
	keep := map[string]bool{}
	for _, r := range ch.WAL {
		if f, err := pg.ParseWALFileName(r.Name, ch.SegmentSize); err == nil && f.Kind == pg.History {
			keep[r.Name] = true
		}
	}
	for _, b := range backups {
		for _, n := range ch.NeededBy(b) {
			keep[n] = true
		}
	}
	for _, m := range marks {
		r, _ := ch.ReachMark(m, nil)
		for _, run := range r.Runs {
			for _, n := range run.Names(ch.SegmentSize) {
				keep[n] = true
			}
		}
	}
	return keep
}

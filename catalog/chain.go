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
		if errors.Is(err, object.ErrEncrypted) || errors.Is(err, object.ErrNoIdentity) {
			// Sealed for us: its switch points are recorded in clear.
			if hc, cerr := c.historyFromSwitchPoints(ctx, f.Timeline); cerr == nil {
				h, err = hc, nil
			}
		}
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
	return errors.As(err, &fe) || errors.Is(err, store.ErrNotExist) || errors.Is(err, pg.ErrInvalidHistory) || errors.Is(err, ErrRecordMismatch)
}

func (c *Catalog) readHistory(ctx context.Context, r WALRecord) ([]pg.HistoryEntry, error) {
	key := c.walKey(r.Name)
	o, err := c.openChecked(ctx, key, expect{name: r.Name, version: r.VersionID})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, maxHistoryObject+1))
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
		set[b.Timeline] = true
	}
	for _, m := range ch.Marks {
		set[m.Timeline] = true
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

// Newest is the highest recorded segment number of tli.
func (ch *Chain) Newest(tli pg.TimelineID) (uint64, bool) {
	s := ch.segs[tli]
	if len(s) == 0 {
		return 0, false
	}
	return s[len(s)-1], true
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
	if b.EndLSN <= b.StartLSN {
		return []SegmentRun{{Timeline: b.Timeline, First: pg.SegmentOf(b.StartLSN, ch.SegmentSize),
			Last: pg.SegmentOf(b.StartLSN, ch.SegmentSize)}}
	}
	return replayPath([]pg.TimelineRange{{Timeline: b.Timeline}}, b.StartLSN, b.EndLSN, ch.SegmentSize)
}

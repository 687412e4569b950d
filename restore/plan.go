package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// ErrUnknownMark means the catalog has no mark of the requested name.
var ErrUnknownMark = errors.New("unknown mark")

// ErrMissingWAL means a WAL file the restore needs is not in the store: the
// chain from the backup to the target is broken.
var ErrMissingWAL = errors.New("WAL missing from the store")

// ErrBadTarget is a restore target that cannot be used as given.
var ErrBadTarget = errors.New("bad restore target")

// Target says where a restore stops. At most one field is set; the zero
// Target means the end of the archive.
type Target struct {
	Mark      string    // a mark name, or "latest" for the newest mark
	Time      time.Time // the last commit time to include
	LSN       pg.LSN    // the WAL position to stop after
	Immediate bool      // stop as soon as the backup is consistent
}

func (t Target) count() int {
	n := 0
	for _, set := range []bool{t.Mark != "", !t.Time.IsZero(), t.LSN != 0, t.Immediate} {
		if set {
			n++
		}
	}
	return n
}

// String names the target for messages.
func (t Target) String() string {
	switch {
	case t.Mark != "":
		return fmt.Sprintf("mark %q", t.Mark)
	case !t.Time.IsZero():
		return "time " + t.Time.Format(time.RFC3339Nano)
	case t.LSN != 0:
		return "LSN " + t.LSN.String()
	case t.Immediate:
		return "the end of the backup (immediate)"
	}
	return "the end of the archive"
}

// Plan is what a restore will use: one complete backup and the contiguous WAL
// from its start to the target, all checked present in the catalog.
type Plan struct {
	Source         string            `json:"source"`
	Target         string            `json:"target"`
	Mark           *catalog.Mark     `json:"mark,omitempty"`
	Backup         catalog.Backup    `json:"-"`
	BackupID       string            `json:"backup_id"`
	Timeline       pg.TimelineID     `json:"timeline"`        // the timeline recovery follows
	LatestTimeline bool              `json:"latest_timeline"` // recovery_target_timeline = 'latest'
	History        []pg.HistoryEntry `json:"-"`
	FirstWAL       string            `json:"first_wal"`
	LastWAL        string            `json:"last_wal"` // the last file checked present
	Segments       int               `json:"segments"`
	SegmentSize    uint64            `json:"segment_size"`
	Recovery       RecoveryTarget    `json:"-"` // all but Action, which Run adds
}

// walIndex is what the catalog's WAL records say about the store.
type walIndex struct {
	segments map[string]bool
	history  map[pg.TimelineID]bool
	newest   map[pg.TimelineID]uint64 // highest stored segment number per timeline
}

// NewPlan chooses the newest complete backup that ends before target on the
// target's timeline path, and checks that every segment from the backup's
// start to the target is recorded in the catalog. It reads only: a failed
// plan writes nothing anywhere.
func NewPlan(ctx context.Context, cat *catalog.Catalog, target Target) (Plan, error) {
	p := Plan{Source: cat.SourceName(), Target: target.String()}
	if target.count() > 1 {
		return p, fmt.Errorf("%w: give at most one of mark, time, LSN and immediate", ErrBadTarget)
	}
	src, err := cat.Source(ctx)
	if err != nil {
		return p, err
	}
	segSize := src.SegmentSize
	if !pg.ValidSegmentSize(segSize) {
		return p, fmt.Errorf("source %q records segment size %d, which PostgreSQL cannot have", src.Name, segSize)
	}
	p.SegmentSize = segSize

	idx, err := readWALIndex(ctx, cat, segSize)
	if err != nil {
		return p, err
	}
	backups, err := cat.Backups(ctx)
	if err != nil {
		return p, fmt.Errorf("list backups: %w", err)
	}
	if len(backups) == 0 {
		return p, fmt.Errorf("%w: source %q has no complete backup in %s: take one with logship backup", catalog.ErrNoBackup, cat.SourceName(), cat.Store())
	}

	if target.Mark != "" {
		m, err := findMark(ctx, cat, target.Mark)
		if err != nil {
			return p, err
		}
		p.Mark = &m
		p.Timeline = pg.TimelineID(m.Timeline)
	} else {
		p.Timeline = latestTimeline(backups, idx)
		p.LatestTimeline = true
	}
	if p.History, err = readHistory(ctx, cat, p.Timeline); err != nil {
		return p, err
	}
	path := pg.TimelinePath(p.History, p.Timeline)

	b, err := chooseBackup(backups, src, path, target, p.Mark, p.Timeline)
	if err != nil {
		return p, err
	}
	p.Backup, p.BackupID = b, b.ID

	start, err := pg.ParseWALFileName(b.StartWAL, segSize)
	if err != nil || start.Kind != pg.Segment {
		return p, fmt.Errorf("backup %s: bad start WAL %q", b.ID, b.StartWAL)
	}
	end, err := pg.ParseWALFileName(b.EndWAL, segSize)
	if err != nil || end.Kind != pg.Segment {
		return p, fmt.Errorf("backup %s: bad end WAL %q", b.ID, b.EndWAL)
	}
	last := end.SegNo
	switch {
	case p.Mark != nil:
		// The restore point record ends at the mark's LSN, so it lies in
		// the segment holding the byte before.
		last = max(last, pg.SegmentOf(pg.LSN(p.Mark.LSNValue-1), segSize))
	case target.LSN != 0:
		last = max(last, pg.SegmentOf(target.LSN, segSize))
	case target.Immediate:
	default:
		// Time and end of archive: nothing tells where the target lies, so
		// everything stored on the path must be whole.
		newest, ok := newestOnPath(idx, path, segSize)
		if !ok || newest < end.SegNo {
			return p, fmt.Errorf("%w: the store holds no WAL past the end of backup %s (%s); recovery needs at least up to it",
				ErrMissingWAL, b.ID, b.EndWAL)
		}
		last = newest
	}
	p.FirstWAL = b.StartWAL
	if p.LastWAL, p.Segments, err = checkChain(idx, path, start.SegNo, last, segSize); err != nil {
		return p, fmt.Errorf("restore to %s from backup %s: %w", target, b.ID, err)
	}
	p.Recovery = recoveryTargetOf(target, p)
	return p, nil
}

// findMark resolves a mark name, or "latest" for the newest mark.
func findMark(ctx context.Context, cat *catalog.Catalog, name string) (catalog.Mark, error) {
	marks, err := cat.Marks(ctx)
	if err != nil {
		return catalog.Mark{}, fmt.Errorf("list marks: %w", err)
	}
	if name == "latest" && len(marks) > 0 {
		return marks[len(marks)-1], nil
	}
	for _, m := range marks {
		if m.Name == name {
			return m, nil
		}
	}
	if name == "latest" {
		return catalog.Mark{}, fmt.Errorf("%w: source %q has no marks yet, so there is no latest one; create one with logship mark NAME", ErrUnknownMark, cat.SourceName())
	}
	return catalog.Mark{}, fmt.Errorf("%w %q: source %q has no such mark; see logship catalog list", ErrUnknownMark, name, cat.SourceName())
}

func readWALIndex(ctx context.Context, cat *catalog.Catalog, segSize uint64) (walIndex, error) {
	idx := walIndex{segments: map[string]bool{}, history: map[pg.TimelineID]bool{}, newest: map[pg.TimelineID]uint64{}}
	err := cat.ListWAL(ctx, func(r catalog.WALRecord) error {
		f, err := pg.ParseWALFileName(r.Name, segSize)
		if err != nil {
			return nil // not a WAL file name; nothing a restore reads
		}
		switch f.Kind {
		case pg.Segment:
			idx.segments[r.Name] = true
			if n, ok := idx.newest[f.Timeline]; !ok || f.SegNo > n {
				idx.newest[f.Timeline] = f.SegNo
			}
		case pg.History:
			idx.history[f.Timeline] = true
		}
		return nil
	})
	if err != nil {
		return idx, fmt.Errorf("list WAL records: %w", err)
	}
	return idx, nil
}

// latestTimeline is the timeline PostgreSQL picks for
// recovery_target_timeline = 'latest': starting from a backup's timeline, it
// probes for the history file of each next timeline and stops at the first
// one missing.
func latestTimeline(backups []catalog.Backup, idx walIndex) pg.TimelineID {
	tli := pg.TimelineID(backups[0].Timeline)
	for _, b := range backups {
		tli = min(tli, pg.TimelineID(b.Timeline))
	}
	for idx.history[tli+1] {
		tli++
	}
	return tli
}

// maxHistoryFile bounds a history file read back: a line per timeline.
const maxHistoryFile = 16 << 20

// readHistory reads and verifies the history file of tli. A timeline without
// one in the store has no known parents: recovery follows it alone.
func readHistory(ctx context.Context, cat *catalog.Catalog, tli pg.TimelineID) ([]pg.HistoryEntry, error) {
	if tli <= 1 {
		return nil, nil
	}
	name := pg.HistoryFileName(tli)
	rc, err := cat.Store().Get(ctx, cat.WALKey(name))
	if errors.Is(err, store.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer rc.Close()
	or, err := object.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer or.Close()
	b, err := io.ReadAll(io.LimitReader(or, maxHistoryFile+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	if len(b) > maxHistoryFile {
		return nil, fmt.Errorf("fetch %s: larger than %d bytes", name, maxHistoryFile)
	}
	h, err := pg.ParseHistory(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// onPath reports whether backup b lies on the timeline path: its timeline
// owns the WAL it starts at and it ends no later than that timeline was
// left (PostgreSQL refuses a minimum recovery point past the switch).
func onPath(b catalog.Backup, path []pg.TimelineRange) bool {
	for _, r := range path {
		if uint32(r.Timeline) != b.Timeline {
			continue
		}
		return pg.LSN(b.StartLSNValue) >= r.Begin && (r.End == 0 || pg.LSN(b.EndLSNValue) <= r.End)
	}
	return false
}

// chooseBackup picks the newest backup on the path that ends before the
// target.
func chooseBackup(backups []catalog.Backup, src catalog.Source, path []pg.TimelineRange, t Target, mark *catalog.Mark, tli pg.TimelineID) (catalog.Backup, error) {
	var onTLI []catalog.Backup
	for _, b := range backups {
		if src.SystemID != 0 && b.SystemID != 0 && b.SystemID != src.SystemID {
			continue
		}
		if onPath(b, path) {
			onTLI = append(onTLI, b)
		}
	}
	if len(onTLI) == 0 {
		return catalog.Backup{}, fmt.Errorf("%w: none of the %d backups of source %q lies on the history of timeline %d (the timeline of %s)",
			catalog.ErrNoBackup, len(backups), src.Name, tli, t)
	}
	var best *catalog.Backup
	for i, b := range onTLI {
		var before bool
		switch {
		case mark != nil:
			before = b.EndLSNValue <= mark.LSNValue
		case !t.Time.IsZero():
			before = b.EndTime.Before(t.Time)
		case t.LSN != 0:
			before = pg.LSN(b.EndLSNValue) <= t.LSN
		default:
			before = true
		}
		if before && (best == nil || b.EndLSNValue > best.EndLSNValue || (b.EndLSNValue == best.EndLSNValue && b.ID > best.ID)) {
			best = &onTLI[i]
		}
	}
	if best != nil {
		return *best, nil
	}
	oldest := onTLI[0]
	for _, b := range onTLI {
		if b.EndLSNValue < oldest.EndLSNValue {
			oldest = b
		}
	}
	where := t.String()
	if mark != nil {
		where = fmt.Sprintf("mark %q (LSN %s, %s)", mark.Name, mark.LSN, mark.Time.Format(time.RFC3339))
	}
	return catalog.Backup{}, fmt.Errorf("%w: %s is before the oldest backup %s (which ends at LSN %s, %s); a backup can only be rolled forward",
		catalog.ErrNoBackup, where, oldest.ID, oldest.EndLSN, oldest.EndTime.Format(time.RFC3339))
}

// segmentTimeline is the timeline whose file holds segment seg on the path.
// A switch point's segment belongs to the child, as PostgreSQL's
// XLogFileReadAnyTLI reads it.
func segmentTimeline(path []pg.TimelineRange, seg, segSize uint64) pg.TimelineID {
	for i := len(path) - 1; i >= 0; i-- {
		if seg >= pg.SegmentOf(path[i].Begin, segSize) {
			return path[i].Timeline
		}
	}
	return path[0].Timeline
}

// newestOnPath finds the highest stored segment number along the path.
func newestOnPath(idx walIndex, path []pg.TimelineRange, segSize uint64) (uint64, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		r := path[i]
		n, ok := idx.newest[r.Timeline]
		if !ok || n < pg.SegmentOf(r.Begin, segSize) {
			continue
		}
		if r.End != 0 {
			n = min(n, pg.SegmentOf(r.End, segSize)-1)
		}
		return n, true
	}
	return 0, false
}

// checkChain checks that every segment from first to last (segment numbers)
// is recorded, on the timeline that owns it along the path. It names the
// first missing one.
func checkChain(idx walIndex, path []pg.TimelineRange, first, last, segSize uint64) (string, int, error) {
	var name string
	n := 0
	for seg := first; seg <= last; seg++ {
		name = pg.SegmentName(segmentTimeline(path, seg, segSize), seg, segSize)
		if !idx.segments[name] {
			return "", n, fmt.Errorf("%w: %s is not in the store (segment %d of the %d from %s to %s); the chain is broken there; see logship catalog list",
				ErrMissingWAL, name, seg-first+1, last-first+1,
				pg.SegmentName(segmentTimeline(path, first, segSize), first, segSize),
				pg.SegmentName(segmentTimeline(path, last, segSize), last, segSize))
		}
		n++
	}
	return name, n, nil
}

// recoveryTargetOf turns the target into recovery settings.
func recoveryTargetOf(t Target, p Plan) RecoveryTarget {
	rt := RecoveryTarget{Timeline: "latest"}
	if !p.LatestTimeline {
		rt.Timeline = strconv.FormatUint(uint64(p.Timeline), 10)
	}
	switch {
	case p.Mark != nil:
		rt.Name = p.Mark.Name
	case !t.Time.IsZero():
		rt.Time = FormatRecoveryTime(t.Time)
	case t.LSN != 0:
		rt.LSN = t.LSN.String()
	case t.Immediate:
		rt.Immediate = true
	}
	return rt
}

// FormatRecoveryTime writes t as recovery_target_time wants it: a timestamp
// with a numeric UTC offset, to the microsecond PostgreSQL keeps.
func FormatRecoveryTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}

package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
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

// NewPlan chooses the newest complete backup that ends before target on the
// target's timeline path and from which every segment up to the target is
// recorded in the catalog, using the catalog's chain model (the one verify
// and purge use). It reads only: a failed plan writes nothing anywhere.
func NewPlan(ctx context.Context, cat *catalog.Catalog, target Target) (Plan, error) {
	p := Plan{Source: cat.SourceName(), Target: target.String()}
	if target.count() > 1 {
		return p, fmt.Errorf("%w: give at most one of mark, time, LSN and immediate", ErrBadTarget)
	}
	ch, err := cat.Chain(ctx)
	if err != nil {
		return p, err
	}
	if !ch.SourceKnown {
		return p, fmt.Errorf("%w for %q in %s: nothing was shipped for it", catalog.ErrNoSource, cat.SourceName(), cat.StoreURL())
	}
	p.SegmentSize = ch.SegmentSize
	if len(ch.Backups) == 0 {
		return p, fmt.Errorf("%w: source %q has no complete backup in %s: take one with logship backup", catalog.ErrNoBackup, cat.SourceName(), cat.StoreURL())
	}
	if target.Mark != "" {
		m, err := findMark(ch.Marks, target.Mark, cat.SourceName())
		if err != nil {
			return p, err
		}
		p.Mark = &m
		p.Timeline = pg.TimelineID(m.Timeline)
	} else {
		p.Timeline = latestTimeline(ch)
		p.LatestTimeline = true
	}
	path, err := timelinePath(ch, p.Timeline, p.LatestTimeline)
	if err != nil {
		return p, fmt.Errorf("restore to %s: %w", target, err)
	}
	if p.History, err = ch.History(p.Timeline); err != nil && !p.LatestTimeline {
		return p, err
	}

	cands, err := candidates(ch, path, target, p.Mark, p.Timeline)
	if err != nil {
		return p, err
	}
	// Where replay must get to, exclusive; the backup's own end counts too.
	var to pg.LSN
	switch {
	case p.Mark != nil:
		to = catalog.MarkTarget(*p.Mark)
	case target.LSN != 0:
		// Recovery stops after the first record that starts at or past the
		// target, so the segment holding the target itself is read.
		to = target.LSN + 1
	case target.Immediate:
	default:
		// Time and end of archive: nothing says where the target lies, so
		// everything stored along the path must be whole.
		if newest, ok := newestOnPath(ch, path); ok {
			to = pg.SegmentStart(newest+1, ch.SegmentSize)
		}
	}
	var first []catalog.MissingRange
	for i, b := range cands {
		runs, err := replayRuns(ch, path, pg.LSN(b.StartLSNValue), max(to, pg.LSN(b.EndLSNValue), pg.LSN(b.StartLSNValue)+1))
		if err != nil {
			return p, err
		}
		missing := ch.Missing(runs)
		if i == 0 {
			first = missing
		}
		if len(missing) > 0 {
			continue
		}
		p.Backup, p.BackupID = b, b.ID
		p.FirstWAL = runs[0].Names(ch.SegmentSize)[0]
		lastRun := runs[len(runs)-1]
		p.LastWAL = pg.SegmentName(lastRun.Timeline, lastRun.Last, ch.SegmentSize)
		for _, r := range runs {
			p.Segments += int(r.Len())
		}
		p.Recovery = recoveryTargetOf(target, p)
		return p, nil
	}
	b := cands[0]
	return p, fmt.Errorf("restore to %s from backup %s: %w: %s is not in the store (%d segment(s) missing in all); the chain is broken there; see logship catalog list",
		target, b.ID, ErrMissingWAL, first[0].First, missingCount(first))
}

// replayRuns is the WAL from..to along path, by the chain model's rule.
func replayRuns(ch *catalog.Chain, path []pg.TimelineRange, from, to pg.LSN) ([]catalog.SegmentRun, error) {
	if len(path) == 1 {
		// Also the path of a timeline followed without its history file,
		// which the chain would refuse.
		return []catalog.SegmentRun{{Timeline: path[0].Timeline, First: pg.SegmentOf(from, ch.SegmentSize), Last: pg.SegmentOf(to-1, ch.SegmentSize)}}, nil
	}
	return ch.Replay(path[len(path)-1].Timeline, from, to)
}

func missingCount(m []catalog.MissingRange) uint64 {
	var n uint64
	for _, r := range m {
		n += r.Count
	}
	return n
}

// findMark resolves a mark name, or "latest" (catalog.LatestMark).
func findMark(marks []catalog.Mark, name, source string) (catalog.Mark, error) {
	if name == "latest" {
		if m, ok := catalog.LatestMark(marks); ok {
			return m, nil
		}
	}
	for _, m := range marks {
		if m.Name == name {
			return m, nil
		}
	}
	if name == "latest" {
		return catalog.Mark{}, fmt.Errorf("%w: source %q has no marks yet, so there is no latest one; create one with logship mark NAME", ErrUnknownMark, source)
	}
	return catalog.Mark{}, fmt.Errorf("%w %q: source %q has no such mark; see logship catalog list", ErrUnknownMark, name, source)
}

// latestTimeline is the timeline PostgreSQL picks for
// recovery_target_timeline = 'latest': starting from a backup's timeline, it
// probes for the history file of each next timeline and stops at the first
// one missing.
func latestTimeline(ch *catalog.Chain) pg.TimelineID {
	tli := pg.TimelineID(ch.Backups[0].Timeline)
	for _, b := range ch.Backups {
		tli = min(tli, pg.TimelineID(b.Timeline))
	}
	for {
		if _, err := ch.History(tli + 1); err != nil {
			return tli
		}
		tli++
	}
}

// timelinePath is the chain's path to tli. Following 'latest', PostgreSQL
// takes a timeline without a history file as one without parents, so the
// path is that timeline alone; a numbered target needs its history file.
func timelinePath(ch *catalog.Chain, tli pg.TimelineID, latest bool) ([]pg.TimelineRange, error) {
	path, err := ch.Path(tli)
	if errors.Is(err, catalog.ErrMissingHistory) && latest {
		return pg.TimelinePath(nil, tli), nil
	}
	return path, err
}

// candidates lists the backups on the path that end before the target,
// newest first.
func candidates(ch *catalog.Chain, path []pg.TimelineRange, t Target, mark *catalog.Mark, tli pg.TimelineID) ([]catalog.Backup, error) {
	var onTLI, out []catalog.Backup
	for _, b := range ch.Backups {
		if b.SystemID != 0 && b.SystemID != ch.Source.SystemID {
			continue
		}
		if catalog.OnPath(b, path) {
			onTLI = append(onTLI, b)
		}
	}
	if len(onTLI) == 0 {
		return nil, fmt.Errorf("%w: none of the %d backups of source %q lies on the history of timeline %d (the timeline of %s)",
			catalog.ErrNoBackup, len(ch.Backups), ch.Source.Name, tli, t)
	}
	for _, b := range onTLI {
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
		if before {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].EndLSNValue != out[j].EndLSNValue {
			return out[i].EndLSNValue > out[j].EndLSNValue
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > 0 {
		return out, nil
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
	return nil, fmt.Errorf("%w: %s is before the oldest backup %s (which ends at LSN %s, %s); a backup can only be rolled forward",
		catalog.ErrNoBackup, where, oldest.ID, oldest.EndLSN, oldest.EndTime.Format(time.RFC3339))
}

// newestOnPath finds the highest stored segment number along the path.
func newestOnPath(ch *catalog.Chain, path []pg.TimelineRange) (uint64, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		r := path[i]
		n, ok := ch.Newest(r.Timeline)
		if !ok || n < pg.SegmentOf(r.Begin, ch.SegmentSize) {
			continue
		}
		if r.End != 0 {
			n = min(n, pg.SegmentOf(r.End, ch.SegmentSize)-1)
		}
		return n, true
	}
	return 0, false
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

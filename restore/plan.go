package restore

import (
	"context"
	"errors"
	"fmt"
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
	// Standby says the restored server keeps replaying WAL as it is
	// shipped, so a time after the newest stored segment is waited for,
	// not refused. It is no target of its own.
	Standby bool
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
	// StreamedWAL is the segment after LastWAL when, without target, the
	// store holds it only as pieces streamed by receive; StreamedBytes the
	// length of their tail, StreamedEnd the end of its last whole record,
	// where replay must get (addStreamedTail).
	StreamedWAL   string `json:"streamed_wal,omitempty"`
	StreamedBytes uint32 `json:"streamed_bytes,omitempty"`
	StreamedEnd   pg.LSN `json:"streamed_end,omitempty"`
}

// NewPlan chooses the newest complete backup that ends before target on the
// target's timeline path and from which every segment up to the target is
// recorded in the catalog: the catalog chain's answer (Chain.Reach, which
// verify and purge use too). It reads only: a failed plan writes nothing
// anywhere.
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
	ct := target.chainTarget()
	if target.Mark != "" {
		m, err := findMark(ch.Marks, target.Mark, cat.SourceName())
		if err != nil {
			return p, err
		}
		p.Mark, ct.Mark = &m, m
	}
	if err := timeInArchive(ctx, cat, target, ch.SegmentSize); err != nil {
		return p, err
	}
	r, err := ch.Reach(ct, nil)
	p.Timeline, p.LatestTimeline = r.Timeline, r.Latest
	if err != nil {
		return p, planError(err, target, p, ch)
	}
	// Following 'latest' needs no history file; without one it is nil.
	p.History, _ = ch.History(p.Timeline)
	p.Backup, p.BackupID = r.Backup, r.ID
	p.FirstWAL = pg.SegmentName(r.Runs[0].Timeline, r.Runs[0].First, ch.SegmentSize)
	lastRun := r.Runs[len(r.Runs)-1]
	p.LastWAL = pg.SegmentName(lastRun.Timeline, lastRun.Last, ch.SegmentSize)
	p.Segments = int(r.Segments())
	if target.count() == 0 && !target.Standby {
		if err := p.addStreamedTail(ctx, cat, lastRun.Timeline, lastRun.Last); err != nil {
			return p, err
		}
	}
	p.Recovery = recoveryTargetOf(target, p)
	return p, nil
}

// chainTarget is the target in the chain's terms, the mark not yet resolved.
func (t Target) chainTarget() catalog.Target {
	switch {
	case t.Mark != "":
		return catalog.Target{Kind: catalog.TargetMark}
	case !t.Time.IsZero():
		return catalog.Target{Kind: catalog.TargetTime, Time: t.Time}
	case t.LSN != 0:
		return catalog.Target{Kind: catalog.TargetLSN, LSN: t.LSN}
	case t.Immediate:
		return catalog.Target{Kind: catalog.TargetImmediate}
	}
	return catalog.Target{Kind: catalog.TargetAll}
}

// planError says, in restore's terms, why the chain found no way to the
// target: no backup on the timeline, the target before every backup, or a
// hole in the WAL.
func planError(err error, t Target, p Plan, ch *catalog.Chain) error {
	var be *catalog.BeyondError
	if errors.As(err, &be) {
		if be.Newest == "" {
			return fmt.Errorf("%w: %s: no WAL of timeline %d's path is in the store", ErrBadTarget, t, be.Timeline)
		}
		return fmt.Errorf("%w: %s is past the end of the archive: the newest segment shipped on timeline %d's path is %s, which ends at LSN %s; %s",
			ErrBadTarget, t, be.Timeline, be.Newest, be.End, latestHint)
	}
	var re *catalog.ReachError
	if !errors.As(err, &re) {
		return fmt.Errorf("restore to %s: %w", t, err)
	}
	if re.Attempt.ID != "" {
		first := re.Attempt.Missing
		return fmt.Errorf("restore to %s from backup %s: %w: %s is not in the store (%d segment(s) missing in all); the chain is broken there; see logship catalog list",
			t, re.Attempt.ID, ErrMissingWAL, first[0].First, missingCount(first))
	}
	if len(re.OnPath) == 0 {
		if err := otherSystem(ch); err != nil {
			return fmt.Errorf("restore to %s: %w", t, err)
		}
		return fmt.Errorf("%w: none of the %d backups of source %q lies on the history of timeline %d (the timeline of %s)",
			catalog.ErrNoBackup, len(ch.Backups), ch.Source.Name, p.Timeline, t)
	}
	oldest := re.OnPath[0]
	for _, b := range re.OnPath {
		if b.EndLSN < oldest.EndLSN {
			oldest = b
		}
	}
	where := t.String()
	if m := p.Mark; m != nil {
		where = fmt.Sprintf("mark %q (LSN %s, %s)", m.Name, m.LSN, m.Time.Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %s is before the oldest backup %s (which ends at LSN %s, %s); a backup can only be rolled forward",
		catalog.ErrNoBackup, where, oldest.ID, oldest.EndLSN, oldest.EndTime.Format(time.RFC3339))
}

// latestHint is what to restore to instead of a target the store cannot
// reach.
const latestHint = "restore to --mark latest, or give no target to restore everything shipped"

// timeInArchive refuses a time target later than when the newest segment
// was stored. The catalog holds no commit times, but nothing committed
// after that moment can be in the store, so recovery would replay
// everything, find no commit past the target and end short of it. A store
// whose WAL objects cannot be listed with times (records only) is left to
// the chain's checks; a standby waits for what is shipped later.
func timeInArchive(ctx context.Context, cat *catalog.Catalog, t Target, segSize uint64) error {
	if t.Time.IsZero() || t.Standby {
		return nil
	}
	newest, err := cat.NewestSegment(ctx, segSize)
	if err != nil || newest == nil || t.Time.Before(newest.Time) {
		return err
	}
	// A receiver stores WAL after the newest segment, piece by piece.
	if tail, err := cat.StreamedTailInfo(ctx, segSize, time.Now()); err != nil || (tail != nil && t.Time.Before(tail.NewestPiece)) {
		return err
	}
	end := "?"
	if f, err := pg.ParseWALFileName(newest.Name, segSize); err == nil {
		end = pg.SegmentStart(f.SegNo+1, segSize).String()
	}
	return fmt.Errorf("%w: %s is after the newest WAL in the store: %s, stored %s, ending at LSN %s; nothing committed later can be in the store; %s",
		ErrBadTarget, t, newest.Name, newest.Time.Format(time.RFC3339Nano), end, latestHint)
}

// otherSystem names the backups the chain skipped because they come from
// another PostgreSQL system than the source record's (its system
// identifier changed: a new initdb, or another cluster archiving under the
// same source), or is nil when there are none.
func otherSystem(ch *catalog.Chain) error {
	var other []catalog.Backup
	for _, b := range ch.Backups {
		if b.SystemID != 0 && b.SystemID != ch.Source.SystemID {
			other = append(other, b)
		}
	}
	if len(other) == 0 {
		return nil
	}
	last := other[len(other)-1]
	return fmt.Errorf("%w, %w: %d of the %d backups of source %q (the newest: %s) come from PostgreSQL system %d, but the source is system %d: "+
		"its system identifier changed (a new initdb, or another cluster archiving here); restore only backups of the source's system, or give the new cluster its own source",
		catalog.ErrNoBackup, catalog.ErrWrongSystem, len(other), len(ch.Backups), ch.Source.Name, last.ID, last.SystemID, ch.Source.SystemID)
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

// recoveryTargetOf turns the target into recovery settings.
func recoveryTargetOf(t Target, p Plan) RecoveryTarget {
	rt := RecoveryTarget{Timeline: "latest"}
	if !p.LatestTimeline {
		rt.Timeline = strconv.FormatUint(uint64(p.Timeline), 10)
	}
	switch {
	case p.Mark != nil:
		// By LSN, not by name: PostgreSQL stops at the first restore point
		// of a name, and one made by hand before the mark would win. The
		// mark's LSN is the end of its restore point record, so recovery
		// stops before the next record: inclusive would replay that one
		// too, possibly a later commit.
		rt.LSN = p.Mark.LSN
		rt.Inclusive = new(bool)
	case !t.Time.IsZero():
		rt.Time = t.Time
	case t.LSN != 0:
		rt.LSN = t.LSN
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

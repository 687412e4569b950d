package catalog

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/logship/logship/pg"
)

// TargetKind is what a restore stops at.
type TargetKind int

// Target kinds. The zero kind is the end of the archive: everything stored.
const (
	TargetAll       TargetKind = iota // everything stored along the path
	TargetMark                        // a mark (a name, or the latest, resolved by the caller)
	TargetTime                        // the last commit at or before a time
	TargetLSN                         // a WAL position
	TargetImmediate                   // the end of the backup: the earliest consistent state
)

// Target is where a restore stops, with a mark already resolved.
type Target struct {
	Kind TargetKind
	Mark Mark      // TargetMark
	Time time.Time // TargetTime
	LSN  pg.LSN    // TargetLSN
}

// MarkTarget is the target of a restore to m.
func MarkTarget(m Mark) Target { return Target{Kind: TargetMark, Mark: m} }

// String names the target's position for messages.
func (t Target) String() string {
	switch t.Kind {
	case TargetMark:
		return t.Mark.LSN.String()
	case TargetTime:
		return t.Time.Format(time.RFC3339Nano)
	case TargetLSN:
		return t.LSN.String()
	case TargetImmediate:
		return "the end of the backup"
	}
	return "the end of the archive"
}

// Reach is how a target is restored: from Backup, replaying Runs along the
// path of Timeline.
type Reach struct {
	Backup  Backup         `json:"-"`
	ID      string         `json:"backup"`
	Runs    []SegmentRun   `json:"runs"`
	Missing []MissingRange `json:"missing,omitempty"`
	// Timeline is the timeline recovery follows; Latest says it is followed
	// as recovery_target_timeline = 'latest' (every target but a mark).
	Timeline pg.TimelineID `json:"-"`
	Latest   bool          `json:"-"`
}

// Segments counts the segments of the runs.
func (r Reach) Segments() uint64 {
	var n uint64
	for _, run := range r.Runs {
		n += run.Len()
	}
	return n
}

// ReachError says why no backup reaches a target. It wraps ErrUnreachable.
type ReachError struct {
	Target   Target
	Timeline pg.TimelineID
	// OnPath are the backups on the timeline's path, whatever their end.
	OnPath []Backup
	// Attempt is the try from the newest backup that ends before the
	// target, with its Missing filled in; its ID is empty when none does.
	Attempt Reach
}

func (e *ReachError) Error() string {
	if e.Attempt.ID == "" {
		return fmt.Sprintf("%v: no backup on the path of timeline %d ends at or before %s", ErrUnreachable, e.Timeline, e.Target)
	}
	why := "its backup is not usable"
	if len(e.Attempt.Missing) > 0 {
		why = "WAL is missing: " + e.Attempt.Missing[0].String()
	}
	return fmt.Sprintf("%v: from backup %s (the newest that fits) %s", ErrUnreachable, e.Attempt.ID, why)
}

func (e *ReachError) Unwrap() error { return ErrUnreachable }

// BeyondError is a target past the end of the WAL stored along its
// timeline's path: no backup reaches it, whatever is shipped later until
// then. It wraps ErrUnreachable.
type BeyondError struct {
	Target   Target
	Timeline pg.TimelineID
	// Newest is the newest segment stored along the path ("" when there is
	// none) and End the LSN where it ends.
	Newest string
	End    pg.LSN
}

func (e *BeyondError) Error() string {
	if e.Newest == "" {
		return fmt.Sprintf("%v: %s lies past the end of the archive: no WAL is stored on the path of timeline %d", ErrUnreachable, e.Target, e.Timeline)
	}
	return fmt.Sprintf("%v: %s lies past the end of the archive: the newest segment on the path of timeline %d is %s, which ends at LSN %s",
		ErrUnreachable, e.Target, e.Timeline, e.Newest, e.End)
}

func (e *BeyondError) Unwrap() error { return ErrUnreachable }

// beyond returns a *BeyondError when t is an LSN at or past the end of the
// newest segment stored along path: recovery would have to read a segment
// the store does not hold, and with none left to fetch would end there,
// short of the target. Only an LSN says where it lies; a mark's segment
// may simply not be shipped yet, which Reach reports as missing WAL.
func (ch *Chain) beyond(path []pg.TimelineRange, t Target, tli pg.TimelineID) error {
	if t.Kind != TargetLSN {
		return nil
	}
	owner, newest, ok := ch.newestOnPath(path)
	if !ok {
		return &BeyondError{Target: t, Timeline: tli}
	}
	end := pg.SegmentStart(newest+1, ch.SegmentSize)
	if t.LSN < end {
		return nil
	}
	return &BeyondError{Target: t, Timeline: tli, End: end, Newest: pg.SegmentName(owner, newest, ch.SegmentSize)}
}

// Reach finds the newest backup from which t can be reached: it lies on
// the path of the target's timeline, is of the source's system, ends before
// the target, is usable (usable nil accepts every backup), and every
// segment from its start to the target is recorded. A mark is followed on
// its own timeline; every other target on the one PostgreSQL takes for
// 'latest'. When no backup works it returns the attempt from the newest
// candidate and a *ReachError, or the reason the timeline's history cannot
// be followed (ErrMissingHistory, ...).
//
// This is the one answer to "which backup reaches this target, with which
// WAL": restore plans with it, purge keeps what it names, verify checks it.
func (ch *Chain) Reach(t Target, usable func(Backup) bool) (Reach, error) {
	r := Reach{Timeline: ch.latestTimeline(), Latest: t.Kind != TargetMark}
	if !r.Latest {
		r.Timeline = t.Mark.Timeline
	}
	path, err := ch.Path(r.Timeline)
	if errors.Is(err, ErrMissingHistory) && r.Latest {
		// Following 'latest', PostgreSQL takes a timeline without a history
		// file as one without parents.
		path, err = pg.TimelinePath(nil, r.Timeline), nil
	}
	if err != nil {
		return r, err
	}
	if err := ch.beyond(path, t, r.Timeline); err != nil {
		return r, err
	}
	onPath, cands := ch.candidates(path, t)
	if len(cands) == 0 {
		return r, &ReachError{Target: t, Timeline: r.Timeline, OnPath: onPath}
	}
	to := ch.replayEnd(path, t)
	var first Reach
	for i, b := range cands {
		runs := replayPath(path, b.StartLSN, max(to, b.EndLSN, b.StartLSN+1), ch.SegmentSize)
		try := r
		try.Backup, try.ID, try.Runs, try.Missing = b, b.ID, runs, ch.Missing(runs)
		if len(try.Missing) == 0 && ch.ancestryWhole(b) && (usable == nil || usable(b)) {
			return try, nil
		}
		if i == 0 {
			first = try
		}
	}
	return first, &ReachError{Target: t, Timeline: r.Timeline, OnPath: onPath, Attempt: first}
}

// replayEnd is where replay towards t must get to, exclusive (the
// backup's own end counts too).
func (ch *Chain) replayEnd(path []pg.TimelineRange, t Target) pg.LSN {
	switch t.Kind {
	case TargetMark:
		// The restore point's record ends there, and recovery stops before
		// the next record (recovery_target_lsn, inclusive off), so the
		// segment that one starts in is read: the next segment when the
		// mark's record ends exactly at a segment's end.
		return t.Mark.LSN + 1
	case TargetLSN:
		// Recovery stops after the first record that starts at or past the
		// target, so the segment holding the target itself is read.
		return t.LSN + 1
	case TargetImmediate:
		return 0
	}
	// Time and end of archive: nothing says where the target lies, so
	// everything stored along the path must be whole.
	if _, newest, ok := ch.newestOnPath(path); ok {
		return pg.SegmentStart(newest+1, ch.SegmentSize)
	}
	return 0
}

// candidates lists the backups of the source's system on path, and those
// of them that end before t, newest (latest end) first: the order a
// restore tries them.
func (ch *Chain) candidates(path []pg.TimelineRange, t Target) (onPath, out []Backup) {
	for _, b := range ch.Backups {
		if ch.SourceKnown && b.SystemID != 0 && b.SystemID != ch.Source.SystemID {
			continue
		}
		if !OnPath(b, path) {
			continue
		}
		onPath = append(onPath, b)
		var before bool
		switch t.Kind {
		case TargetMark:
			before = b.EndLSN <= t.Mark.LSN
		case TargetTime:
			before = b.EndTime.Before(t.Time)
		case TargetLSN:
			before = b.EndLSN <= t.LSN
		default:
			before = true
		}
		if before {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].EndLSN != out[j].EndLSN {
			return out[i].EndLSN > out[j].EndLSN
		}
		return out[i].ID > out[j].ID
	})
	return onPath, out
}

// Candidates lists the backups that can be rolled forward to LSN target on
// timeline tli, newest first: the backups Reach tries for a mark there.
func (ch *Chain) Candidates(tli pg.TimelineID, target pg.LSN) ([]Backup, error) {
	path, err := ch.Path(tli)
	if err != nil {
		return nil, err
	}
	_, out := ch.candidates(path, MarkTarget(Mark{LSN: target, Timeline: tli}))
	return out, nil
}

// OnPath reports whether backup b can be rolled forward along tli's path:
// its timeline owns the WAL it starts at and it ends no later than the
// path leaves that timeline (PostgreSQL refuses a backup whose minimum
// recovery point lies past the switch).
func OnPath(b Backup, path []pg.TimelineRange) bool {
	for _, r := range path {
		if r.Timeline != b.Timeline {
			continue
		}
		return b.StartLSN >= r.Begin && (r.End == 0 || b.EndLSN <= r.End)
	}
	return false
}

// latestTimeline is the timeline PostgreSQL picks for
// recovery_target_timeline = 'latest': starting from the lowest backup
// timeline, it probes for the history file of each next timeline and stops
// at the first one missing.
func (ch *Chain) latestTimeline() pg.TimelineID {
	if len(ch.Backups) == 0 {
		return 1
	}
	tli := ch.Backups[0].Timeline
	for _, b := range ch.Backups {
		tli = min(tli, b.Timeline)
	}
	for {
		if _, err := ch.History(tli + 1); err != nil {
			return tli
		}
		tli++
	}
}

// newestOnPath finds the highest stored segment number along the path,
// and the timeline it is stored on.
func (ch *Chain) newestOnPath(path []pg.TimelineRange) (pg.TimelineID, uint64, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		r := path[i]
		n, ok := ch.Newest(r.Timeline)
		if !ok || n < pg.SegmentOf(r.Begin, ch.SegmentSize) {
			continue
		}
		if r.End != 0 {
			n = min(n, pg.SegmentOf(r.End, ch.SegmentSize)-1)
		}
		return r.Timeline, n, true
	}
	return 0, 0, false
}

// ReachMark is Reach for a mark, its errors naming the mark.
func (ch *Chain) ReachMark(m Mark, usable func(Backup) bool) (Reach, error) {
	r, err := ch.Reach(MarkTarget(m), usable)
	if err != nil {
		return r, fmt.Errorf("mark %s: %w", m.Name, err)
	}
	return r, nil
}

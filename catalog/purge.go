package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// ErrNoPolicy means a purge was asked for without any retention rule.
var ErrNoPolicy = errors.New("no retention policy")

// RetentionPolicy says which base backups to keep. A backup is kept when
// either rule keeps it; marks and WAL are kept when a kept backup can
// restore them. At least one rule must be set.
type RetentionPolicy struct {
	// KeepBackups keeps the newest n complete backups (0: rule unset).
	KeepBackups int `json:"keep_backups,omitempty"`
	// RecoveryWindow keeps what a restore to any moment of the last
	// RecoveryWindow needs: every backup finished within it, plus the
	// newest one finished before it began (0: rule unset).
	RecoveryWindow time.Duration `json:"-"`
	// RecoveryWindowDays is RecoveryWindow in days, for the JSON plan.
	RecoveryWindowDays float64 `json:"recovery_window_days,omitempty"`
	// OrphanGrace is how old objects without a record (left by an
	// interrupted backup or purge) must be before purge removes them, so
	// that a backup in progress, whose record comes last, is never touched.
	// 0 removes them whatever their age; negative is refused. A backup
	// that holds a live lease (lease.go) is never touched, whatever it is.
	OrphanGrace time.Duration `json:"-"`
}

// ErrBadPolicy means a retention setting is out of range.
var ErrBadPolicy = errors.New("bad retention policy")

// Validate checks the policy.
func (p RetentionPolicy) Validate() error {
	if p.KeepBackups < 0 || p.RecoveryWindow < 0 {
		return fmt.Errorf("%w: keep-backups and recovery-window must not be negative", ErrNoPolicy)
	}
	if p.OrphanGrace < 0 {
		return fmt.Errorf("%w: orphan-grace %s must not be negative (0 removes objects without a record whatever their age)", ErrBadPolicy, p.OrphanGrace)
	}
	if p.KeepBackups == 0 && p.RecoveryWindow == 0 {
		return fmt.Errorf("%w: set keep-backups and/or recovery-window-days", ErrNoPolicy)
	}
	return nil
}

// Purge plan actions.
const (
	ActionKeep   = "keep"
	ActionDelete = "delete"
)

// PlannedBackup is what purge does with one backup, and why.
type PlannedBackup struct {
	ID         string        `json:"id"`
	Timeline   pg.TimelineID `json:"timeline"`
	StartLSN   pg.LSN        `json:"start_lsn"`
	EndTime    string        `json:"end_time"`
	StoredSize int64         `json:"stored_size"`
	Action     string        `json:"action"`
	Reason     string        `json:"reason"`
}

// PlannedMark is what purge does with one mark, and why.
type PlannedMark struct {
	Name   string `json:"name"`
	LSN    pg.LSN `json:"lsn"`
	Time   string `json:"time"`
	Backup string `json:"backup,omitempty"` // the kept backup it restores from
	Action string `json:"action"`
	Reason string `json:"reason"`
	mark   Mark
}

// PlannedWAL is a run of WAL files, consecutive in name order, that purge
// treats alike: exactly the recorded files from First to Last.
type PlannedWAL struct {
	Timeline    uint32 `json:"timeline"`
	First       string `json:"first"`
	Last        string `json:"last"`
	Files       int    `json:"files"`
	StoredBytes int64  `json:"stored_bytes"`
	Action      string `json:"action"`
	Reason      string `json:"reason"`
}

// PlannedOrphan is an object without a record that purge removes.
type PlannedOrphan struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// PurgeTotals counts one side of a plan.
type PurgeTotals struct {
	Backups     int   `json:"backups"`
	Marks       int   `json:"marks"`
	WALFiles    int   `json:"wal_files"`
	WALPieces   int   `json:"wal_pieces"` // streamed pieces (stream_purge.go)
	Orphans     int   `json:"orphans"`
	StoredBytes int64 `json:"stored_bytes"`
}

// PurgePlan is exactly what a purge deletes and keeps, and why. It is
// computed from the records alone and changes nothing.
type PurgePlan struct {
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Policy RetentionPolicy `json:"policy"`
	// CutoffLSN is the start of the oldest kept backup: WAL before it goes.
	CutoffLSN string          `json:"cutoff_lsn,omitempty"`
	CutoffWAL string          `json:"cutoff_wal,omitempty"`
	Backups   []PlannedBackup `json:"backups"`
	Marks     []PlannedMark   `json:"marks"`
	WAL       []PlannedWAL    `json:"wal"`
	Pieces    []PlannedPieces `json:"wal_pieces"`
	Orphans   []PlannedOrphan `json:"orphans"`
	Delete    PurgeTotals     `json:"delete"`
	Keep      PurgeTotals     `json:"keep"`
	// Warnings are facts a human should look at; none stops the purge.
	Warnings []string `json:"warnings"`

	delBackups []Backup
	delWAL     []WALRecord
	delPieces  []WALPiece
}

// Empty reports whether the plan deletes nothing.
func (p *PurgePlan) Empty() bool {
	d := p.Delete
	return d.Backups == 0 && d.Marks == 0 && d.WALFiles == 0 && d.WALPieces == 0 && d.Orphans == 0
}

// PlanPurge decides what the policy deletes, as of now. It never deletes
// what a kept backup or a kept mark needs (Chain.NeededBy; Chain.Needs of
// the mark's Chain.Reach), nor any timeline history file, nor any WAL at or
// after the start of the oldest kept backup (so restores to any moment
// since stay possible).
// Marks before that start go: no kept backup can reach them.
func (c *Catalog) PlanPurge(ctx context.Context, pol RetentionPolicy, now time.Time) (*PurgePlan, error) {
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	pol.RecoveryWindowDays = pol.RecoveryWindow.Hours() / 24
	ch, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	p := &PurgePlan{Source: c.source, Time: now.UTC(), Policy: pol,
		Backups: []PlannedBackup{}, Marks: []PlannedMark{}, WAL: []PlannedWAL{}, Pieces: []PlannedPieces{}, Orphans: []PlannedOrphan{}, Warnings: []string{}}
	if len(ch.Backups) == 0 {
		p.Warnings = append(p.Warnings, "no complete backup in the catalog: nothing is deleted, since WAL without a base backup cannot be restored")
		for _, m := range ch.Marks {
			p.Marks = append(p.Marks, plannedMark(m, ActionKeep, "no backup to judge it by", ""))
		}
		p.planWAL(ch, 0, "", nil)
		p.total()
		return p, nil
	}

	pins, err := c.pinSet(ctx)
	if err != nil {
		return nil, err
	}
	keep := policyKeeps(ch.Backups, pol, now)
	keepPinned(ch, keep, pins)
	keepAncestors(ch, keep)
	// Runs, not names: a damaged record spanning exabytes of WAL must not
	// cost more than one spanning a segment.
	needs := newNeededSet()
	cutoff, oldest := p.keepForMarks(ch, keep, needs, pins.marks)
	for i, b := range ch.Backups {
		pb := PlannedBackup{ID: b.ID, Timeline: b.Timeline, StartLSN: b.StartLSN, EndTime: b.EndTime.UTC().Format(time.RFC3339),
			StoredSize: b.StoredSize, Action: ActionKeep, Reason: keep[i]}
		if keep[i] == "" {
			pb.Action, pb.Reason = ActionDelete, deleteReason(pol, len(ch.Backups))
			p.delBackups = append(p.delBackups, b)
		} else {
			needs.add(ch.NeededBy(b), "backup "+b.ID)
		}
		p.Backups = append(p.Backups, pb)
	}
	p.CutoffLSN = cutoff.String()
	p.CutoffWAL = oldest.StartWAL
	p.planWAL(ch, cutoff, oldest.ID, needs)
	if err := p.planOrphans(ctx, c, ch, cutoff, now); err != nil {
		return nil, err
	}
	if err := p.planPieces(ctx, c, ch, cutoff); err != nil {
		return nil, err
	}
	p.total()
	return p, nil
}

// policyKeeps returns, per backup (oldest first), why the policy keeps it,
// or "" when it does not.
func policyKeeps(bs []Backup, pol RetentionPolicy, now time.Time) []string {
	keep := make([]string, len(bs))
	if n := pol.KeepBackups; n > 0 {
		for i := max(0, len(bs)-n); i < len(bs); i++ {
			keep[i] = newestBackups(n) + " " + plural.Word(n, "backup")
		}
	}
	if pol.RecoveryWindow > 0 {
		begin := now.Add(-pol.RecoveryWindow)
		anchor := -1
		for i, b := range bs {
			if !b.EndTime.After(begin) {
				anchor = i
			}
		}
		days := fmt.Sprintf("%g-day", pol.RecoveryWindow.Hours()/24)
		for i := max(anchor, 0); i < len(bs); i++ {
			why := "finished within the " + days + " recovery window"
			if i == anchor {
				why = fmt.Sprintf("the newest backup finished before the %s recovery window began (%s): restores to its first moments start from it",
					days, begin.UTC().Format(time.RFC3339))
			}
			if keep[i] == "" {
				keep[i] = why
			} else {
				keep[i] += "; " + why
			}
		}
	}
	return keep
}

// newestBackups is "the newest" or "one of the n newest", as n asks.
func newestBackups(n int) string {
	if n == 1 {
		return "the newest"
	}
	return fmt.Sprintf("one of the %d newest", n)
}

func deleteReason(pol RetentionPolicy, n int) string {
	var why []string
	if pol.KeepBackups > 0 {
		why = append(why, fmt.Sprintf("not %s of %d backups", newestBackups(pol.KeepBackups), n))
	}
	if pol.RecoveryWindow > 0 {
		why = append(why, fmt.Sprintf("not needed for the %g-day recovery window", pol.RecoveryWindow.Hours()/24))
	}
	return strings.Join(why, " and ")
}

// keepForMarks decides the marks: those at or after the start of the oldest
// kept backup stay, each with the backup a restore to it starts from (kept
// too if the policy had not kept it, which may move the start back and keep
// more marks). It fills needs and returns the final cutoff LSN and the
// oldest kept backup, which starts there. A pinned mark is never deleted.
func (p *PurgePlan) keepForMarks(ch *Chain, keep []string, needs *neededSet, pinned map[string]bool) (pg.LSN, Backup) {
	index := map[string]int{}
	for i, b := range ch.Backups {
		index[b.ID] = i
	}
	kept := func(b Backup) bool { return keep[index[b.ID]] != "" }
	cutoff := func() (pg.LSN, Backup) {
		var oldest *Backup
		for i, b := range ch.Backups {
			if keep[i] != "" && (oldest == nil || b.StartLSN < oldest.StartLSN) {
				oldest = &ch.Backups[i]
			}
		}
		return oldest.StartLSN, *oldest
	}
	for {
		lsn, _ := cutoff()
		grew := false
		for _, m := range ch.Marks {
			if m.LSN < lsn {
				continue
			}
			if _, err := ch.ReachMark(m, kept); err == nil {
				continue
			}
			// No kept backup reaches the mark (its timeline branched off
			// before them): keep the backup that does.
			if r, err := ch.ReachMark(m, nil); err == nil && !kept(r.Backup) {
				keep[index[r.Backup.ID]] = "needed by kept mark " + m.Name
				grew = true
			}
		}
		if !grew {
			break
		}
		keepAncestors(ch, keep)
	}
	lsn, oldest := cutoff()
	for _, m := range ch.Marks {
		if m.LSN < lsn && pinned[m.Name] {
			// Only when no backup reaches it at all (keepPinned kept the one that does).
			p.Marks = append(p.Marks, plannedMark(m, ActionKeep, "pinned, but no backup can restore it", ""))
			p.Warnings = append(p.Warnings, fmt.Sprintf("pinned mark %s cannot be restored from any backup: run logship verify", m.Name))
			continue
		}
		if m.LSN < lsn {
			p.Marks = append(p.Marks, plannedMark(m, ActionDelete,
				fmt.Sprintf("before %s, the start of the oldest kept backup %s: no kept backup can reach it", lsn, oldest.ID), ""))
			continue
		}
		r, err := ch.ReachMark(m, kept)
		if err != nil {
			p.Marks = append(p.Marks, plannedMark(m, ActionKeep, "after the start of the oldest kept backup, but not restorable from any backup: "+err.Error(), ""))
			p.Warnings = append(p.Warnings, fmt.Sprintf("mark %s cannot be restored (%v): run logship verify", m.Name, err))
			continue
		}
		why := "restorable from kept backup " + r.ID
		if pinned[m.Name] {
			why = "pinned; " + why
		}
		p.Marks = append(p.Marks, plannedMark(m, ActionKeep, why, r.ID))
		needs.add(ch.Needs(r), "mark "+m.Name)
	}
	return lsn, oldest
}

func plannedMark(m Mark, action, reason, backup string) PlannedMark {
	return PlannedMark{Name: m.Name, LSN: m.LSN, Time: m.Time.UTC().Format(time.RFC3339Nano), Backup: backup,
		Action: action, Reason: reason, mark: m}
}

// planWAL judges every WAL record. With needs nil everything is kept.
func (p *PurgePlan) planWAL(ch *Chain, cutoff pg.LSN, oldest string, needs *neededSet) {
	cutSeg := pg.SegmentOf(cutoff, ch.SegmentSize)
	for _, r := range ch.WAL {
		action, why, tli := ActionKeep, "", uint32(0)
		f, err := pg.ParseWALFileName(r.Name, ch.SegmentSize)
		switch {
		case err != nil:
			why = "not a WAL file name purge understands"
		case f.Kind == pg.History:
			tli, why = uint32(f.Timeline), "timeline history files are always kept"
		case needs == nil:
			tli, why = uint32(f.Timeline), "no backup"
		case f.SegNo >= cutSeg:
			tli, why = uint32(f.Timeline), fmt.Sprintf("at or after %s, the start of the oldest kept backup %s", cutoff, oldest)
		case needs.why(f) != "":
			// Cannot happen while every chain starts at a kept backup; the
			// check guards the invariant should that ever change.
			tli, why = uint32(f.Timeline), "needed by "+needs.why(f)
		default:
			tli, action = uint32(f.Timeline), ActionDelete
			why = fmt.Sprintf("before %s, the start of the oldest kept backup %s", cutoff, oldest)
			p.delWAL = append(p.delWAL, r)
		}
		if n := len(p.WAL); n > 0 && p.WAL[n-1].Action == action && p.WAL[n-1].Reason == why && p.WAL[n-1].Timeline == tli {
			last := &p.WAL[n-1]
			last.Last = r.Name
			last.Files++
			last.StoredBytes += r.StoredSize
			continue
		}
		p.WAL = append(p.WAL, PlannedWAL{Timeline: tli, First: r.Name, Last: r.Name, Files: 1, StoredBytes: r.StoredSize, Action: action, Reason: why})
	}
}

// planOrphans finds objects no record points at and nothing will: the
// leftovers of an interrupted backup or purge. A backup's objects go only
// when all are older than the grace period (a running backup writes its
// record last); WAL objects go only before the cutoff, where PostgreSQL
// finished archiving long ago, so no wal-push can be about to record them.
func (p *PurgePlan) planOrphans(ctx context.Context, c *Catalog, ch *Chain, cutoff pg.LSN, now time.Time) error {
	if p.Policy.OrphanGrace < 0 {
		return nil
	}
	old := func(oi store.ObjectInfo) bool {
		return p.Policy.OrphanGrace == 0 || now.Sub(oi.ModTime) >= p.Policy.OrphanGrace
	}
	recorded := map[string]bool{}
	for _, b := range ch.Backups {
		recorded[b.ID] = true
	}
	// A backup's objects go as one: only if every one of them is old.
	type dir struct {
		objs []store.ObjectInfo
		old  bool
	}
	dirs := map[string]*dir{}
	var ids []string
	prefix := c.key("backups/")
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		id, _, ok := strings.Cut(strings.TrimPrefix(oi.Key, prefix), "/")
		if !ok || recorded[id] {
			return nil
		}
		d := dirs[id]
		if d == nil {
			d = &dir{old: true}
			dirs[id] = d
			ids = append(ids, id)
		}
		d.objs = append(d.objs, oi)
		d.old = d.old && old(oi)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list backup objects: %w", err)
	}
	// Listed after the objects: a backup puts its lease before its first
	// object, so one whose objects were seen shows its lease here unless
	// it has ended since (see running).
	leases, err := c.Leases(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if hasDoc(dirs[id].objs, c.backupPrefix(id)+BackupDocName) {
			// A complete backup whose record was lost: never an orphan.
			p.Warnings = append(p.Warnings, fmt.Sprintf("backup %s is complete but has no catalog record: run logship catalog rebuild", id))
			continue
		}
		if run, err := p.running(ctx, c, id, leases, now); err != nil || run {
			if err != nil {
				return err
			}
			continue
		}
		if d := dirs[id]; d.old {
			for _, oi := range d.objs {
				p.Orphans = append(p.Orphans, PlannedOrphan{Key: oi.Key, Size: oi.Size,
					Reason: "part of backup " + id + ", which has no record (interrupted, or its purge was)"})
			}
		}
	}
	if err := p.planLeaseOrphans(ctx, c, leases, now); err != nil {
		return err
	}
	return p.planWALOrphans(ctx, c, ch, cutoff)
}

// planWALOrphans finds WAL objects without a record before the cutoff.
func (p *PurgePlan) planWALOrphans(ctx context.Context, c *Catalog, ch *Chain, cutoff pg.LSN) error {
	if cutoff == 0 {
		return nil
	}
	cutSeg := pg.SegmentOf(cutoff, ch.SegmentSize)
	have := map[string]bool{}
	for _, r := range ch.WAL {
		have[r.Name] = true
	}
	walPrefix := c.key("wal/")
	err := c.st.List(ctx, walPrefix, func(oi store.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, walPrefix)
		if have[name] {
			return nil
		}
		f, err := pg.ParseWALFileName(name, ch.SegmentSize)
		if err != nil || f.Kind == pg.History || f.SegNo >= cutSeg {
			return nil
		}
		p.Orphans = append(p.Orphans, PlannedOrphan{Key: oi.Key, Size: oi.Size,
			Reason: "WAL file without a record, before the start of the oldest kept backup"})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list WAL objects: %w", err)
	}
	return nil
}

func (p *PurgePlan) total() {
	for _, b := range p.Backups {
		t := &p.Keep
		if b.Action == ActionDelete {
			t = &p.Delete
		}
		t.Backups++
		t.StoredBytes += b.StoredSize
	}
	for _, m := range p.Marks {
		if m.Action == ActionDelete {
			p.Delete.Marks++
		} else {
			p.Keep.Marks++
		}
	}
	for _, w := range p.WAL {
		t := &p.Keep
		if w.Action == ActionDelete {
			t = &p.Delete
		}
		t.WALFiles += w.Files
		t.StoredBytes += w.StoredBytes
	}
	for _, pp := range p.Pieces {
		t := &p.Keep
		if pp.Action == ActionDelete {
			t = &p.Delete
		}
		t.WALPieces += pp.Pieces
		t.StoredBytes += pp.StoredBytes
	}
	for _, o := range p.Orphans {
		p.Delete.Orphans++
		p.Delete.StoredBytes += o.Size
	}
}

func hasDoc(objs []store.ObjectInfo, key string) bool {
	for _, oi := range objs {
		if oi.Key == key {
			return true
		}
	}
	return false
}

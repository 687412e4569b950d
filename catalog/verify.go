package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// Severity of a verify problem: an error means some restore would fail; a
// warning means something needs tidying but every restore still works.
type Severity string

// Severities.
const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Problem codes. They are part of verify's JSON output.
const (
	CodeNoSource            = "no-source"
	CodeBadRecord           = "bad-record"
	CodeConflictingRecords  = "conflicting-records"
	CodeRecordWithoutObject = "record-without-object"
	CodeSizeMismatch        = "size-mismatch"
	CodeObjectWithoutRecord = "object-without-record"
	CodeUnrecordedBackup    = "unrecorded-backup-objects"
	CodeMissingPart         = "missing-part"
	CodeMissingManifest     = "missing-manifest"
	CodeBackupWAL           = "backup-wal-missing"
	CodeWrongSystem         = "wrong-system"
	CodeMissingHistory      = "missing-history"
	CodeBadHistory          = "bad-history"
	CodeNoBackup            = "no-backup"
	CodeWALGap              = "wal-gap"
	CodeMarkUnreachable     = "mark-unreachable"
	CodeCorrupt             = "corrupt-object"
	CodeRecordMismatch      = "record-mismatch"
	CodeManifestMismatch    = "manifest-mismatch"
	CodeProgress            = "verify-progress"
	CodeStrayKey            = "stray-key"
	CodeDuplicateMark       = "duplicate-mark"
)

// Problem is one thing verify found wrong, with the exact object it is
// about and what to do.
type Problem struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Object   string   `json:"object,omitempty"` // store key or WAL file name
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

// Check kinds: one check per backup, mark and timeline, and one for the
// store's records as a whole.
const (
	CheckStore    = "store"
	CheckBackup   = "backup"
	CheckMark     = "mark"
	CheckTimeline = "timeline"
)

// Check is one verdict that CI shows on its own (a JUnit testcase).
type Check struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	OK       bool      `json:"ok"`
	Summary  string    `json:"summary"`
	Problems []Problem `json:"problems"`
}

// NewestSegment is the latest WAL that reached the store: its age is the
// data a disaster right now would lose (the RPO).
type NewestSegment struct {
	Name       string    `json:"name"`
	Time       time.Time `json:"time"`
	AgeSeconds float64   `json:"age_seconds"`
}

// DeepStats counts what a deep run downloaded and checked.
type DeepStats struct {
	Objects         int    `json:"objects"`          // objects a deep run covers
	Checked         int    `json:"checked"`          // checked in this run
	Skipped         int    `json:"skipped"`          // checked by an earlier run, unchanged
	Downloaded      int    `json:"downloaded"`       // objects fetched to check them
	DownloadedBytes int64  `json:"downloaded_bytes"` // stored bytes fetched to check them
	ProgressReads   int    `json:"progress_reads"`   // progress records of earlier runs read
	ProgressKey     string `json:"progress_key,omitempty"`
}

// VerifyReport is the outcome of a verify run.
type VerifyReport struct {
	Source    string         `json:"source"`
	Store     string         `json:"store"`
	SystemID  uint64         `json:"system_id,string"`
	Deep      bool           `json:"deep"`
	Full      bool           `json:"full"`
	Started   time.Time      `json:"started"`
	Duration  float64        `json:"duration_seconds"`
	OK        bool           `json:"ok"`
	Errors    int            `json:"errors"`
	Warnings  int            `json:"warnings"`
	Backups   int            `json:"backups"`
	Marks     int            `json:"marks"`
	Reachable int            `json:"marks_reachable"`
	Timelines int            `json:"timelines"`
	Segments  int            `json:"segments"`
	Newest    *NewestSegment `json:"newest_segment"`
	// StreamedTail is the newest segment stored only as pieces streamed
	// by receive; nil when there is none.
	StreamedTail *StreamedTailInfo `json:"streamed_tail"`
	DeepStats    *DeepStats        `json:"deep_stats,omitempty"`
	Problems     []Problem         `json:"problems"`
	Checks       []Check           `json:"checks"`
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Deep downloads and decodes every object not checked by an earlier
	// deep run, and each backup against its backup_manifest.
	Deep bool
	// Full makes a deep run check everything again.
	Full bool
	// Parallel is how many objects a deep run checks at once; 0 = 4.
	Parallel int
	// NoRecord keeps a deep run from recording what it checked (for a
	// read-only store).
	NoRecord bool
	// Now is the clock; nil = time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Verify checks that every backup, every mark and the latest point of every
// timeline can be restored from what the store holds. Problems go in the
// report; an error means the run itself could not be done (the store could
// not be read, or nothing was ever shipped for the source).
func (c *Catalog) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := &verifier{cat: c, opts: opts, started: opts.Now(), problems: map[string]int{},
		badWAL: map[string]bool{}, badBackup: map[string]bool{}}
	v.rep = &VerifyReport{Source: c.source, Store: c.st.String(), Deep: opts.Deep, Full: opts.Full && opts.Deep,
		Started: v.started.UTC(), Problems: []Problem{}, Checks: []Check{}}
	v.storeCheck = v.check(CheckStore, "records")

	ch, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	if !ch.SourceKnown && len(ch.WAL) == 0 && len(ch.Backups) == 0 {
		return nil, fmt.Errorf("%w for %q in %s: nothing was ever shipped there; check --store and --source", ErrNoSource, c.source, c.st)
	}
	v.rep.SystemID = ch.Source.SystemID
	v.checkStray()
	if !ch.SourceKnown {
		v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeNoSource, Object: c.key("catalog/source"),
			Message: "the source record is missing, so the cluster the WAL belongs to cannot be checked",
			Fix:     "run logship catalog rebuild to restore it from the WAL objects"})
	}
	if err := v.compareWAL(ctx, ch); err != nil {
		return nil, err
	}
	if err := v.checkStreamed(ctx, ch); err != nil {
		return nil, err
	}
	objects, err := v.listBackupObjects(ctx)
	if err != nil {
		return nil, err
	}
	v.compareBackups(ch, objects)
	if err := v.checkManifests(ctx, ch); err != nil {
		return nil, err
	}
	v.storeCheck.Summary = fmt.Sprintf("%s, %s, %s; system %d",
		plural.N(len(ch.WAL), "WAL record"), plural.N(len(v.walSizes), "WAL object"), plural.N(len(objects), "backup object"), ch.Source.SystemID)
	objects = nil
	if opts.Deep {
		if err := v.deep(ctx, ch); err != nil {
			return nil, err
		}
	}
	// From here on only what is really there counts: a segment whose object
	// is missing or damaged breaks the chain as surely as one never shipped.
	v.checkAncestry(ch)
	eff := ch.without(v.badWAL)
	v.checkBackups(eff)
	v.checkTimelines(eff, ch)
	v.checkMarks(eff)
	v.finish()
	if v.rep.StreamedTail, err = c.StreamedTailInfo(ctx, ch.SegmentSize, opts.Now()); err != nil {
		return nil, err
	}
	return v.rep, nil
}

type verifier struct {
	cat        *Catalog
	opts       VerifyOptions
	started    time.Time
	rep        *VerifyReport
	storeCheck *Check
	checks     []*Check

	mu           sync.Mutex
	problems     map[string]int  // code+object -> index in rep.Problems
	badWAL       map[string]bool // WAL names whose object is missing or damaged
	badBackup    map[string]bool // backup IDs that cannot be restored
	walSizes     map[string]int64
	backupChecks map[string]*Check
	newest       *NewestSegment
	deepStats    DeepStats
	downloaded   atomic.Int64
}

func (v *verifier) check(kind, name string) *Check {
	c := &Check{Kind: kind, Name: name, OK: true, Problems: []Problem{}}
	v.checks = append(v.checks, c)
	return c
}

// add records p once in the report and against every check it affects.
func (v *verifier) add(c *Check, p Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := p.Code + "\x00" + p.Object + "\x00" + p.Message
	if _, ok := v.problems[k]; !ok {
		v.problems[k] = len(v.rep.Problems)
		v.rep.Problems = append(v.rep.Problems, p)
	}
	if c != nil {
		c.Problems = append(c.Problems, p)
		if p.Severity == SevError {
			c.OK = false
		}
	}
}

func (v *verifier) finish() {
	for _, c := range v.checks {
		v.rep.Checks = append(v.rep.Checks, *c)
	}
	for _, p := range v.rep.Problems {
		if p.Severity == SevError {
			v.rep.Errors++
		} else {
			v.rep.Warnings++
		}
	}
	v.rep.OK = v.rep.Errors == 0
	if v.newest != nil {
		n := *v.newest
		n.AgeSeconds = v.opts.Now().Sub(n.Time).Seconds()
		v.rep.Newest = &n
	}
	if v.opts.Deep {
		s := v.deepStats
		s.DownloadedBytes = v.downloaded.Load()
		v.rep.DeepStats = &s
	}
	v.rep.Duration = v.opts.Now().Sub(v.started).Seconds()
}

// without is the chain minus the segments whose objects are not usable.
func (ch *Chain) without(bad map[string]bool) *Chain {
	if len(bad) == 0 {
		return ch
	}
	wal := make([]WALRecord, 0, len(ch.WAL))
	for _, r := range ch.WAL {
		if !bad[r.Name] {
			wal = append(wal, r)
		}
	}
	var src *Source
	if ch.SourceKnown {
		src = &ch.Source
	}
	out := NewChain(src, wal, ch.Backups, ch.Marks, ch.history)
	for t, err := range ch.historyErr {
		out.historyErr[t] = err
	}
	for t := range ch.history {
		if bad[pg.HistoryFileName(t)] {
			out.historyErr[t] = fmt.Errorf("%s: %w: its object is missing or damaged", pg.HistoryFileName(t), pg.ErrInvalidHistory)
		}
	}
	return out
}

// compareWAL walks the WAL records and the WAL objects side by side, both
// in name order, so that memory does not grow with a second index.
func (v *verifier) compareWAL(ctx context.Context, ch *Chain) error {
	c := v.cat
	recs := ch.WAL
	prefix := c.key("wal/")
	v.walSizes = make(map[string]int64, len(recs))
	i := 0
	// missingUpTo reports the records sorting before name, which have no object.
	missingUpTo := func(name string, all bool) {
		for i < len(recs) && (all || recs[i].Name < name) {
			r := recs[i]
			i++
			if i > 1 && recs[i-2].Name == r.Name {
				continue
			}
			v.badWAL[r.Name] = true
			v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeRecordWithoutObject, Object: c.walKey(r.Name),
				Message: fmt.Sprintf("%s is recorded in the catalog but its object %s is missing from the store", r.Name, c.walKey(r.Name)),
				Fix:     fmt.Sprintf("if PostgreSQL (or a standby) still has pg_wal/%s, push it again with logship wal-push; otherwise it is lost: take a new backup", r.Name)})
		}
	}
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, prefix)
		missingUpTo(name, false)
		var matched []WALRecord
		for i < len(recs) && recs[i].Name == name {
			matched = append(matched, recs[i])
			i++
		}
		v.walSizes[name] = oi.Size
		v.noteNewest(ch, name, oi)
		if len(matched) == 0 {
			if !oi.ModTime.Before(v.started) {
				return nil // pushed while we listed: its record comes right after
			}
			v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeObjectWithoutRecord, Object: oi.Key,
				Message: fmt.Sprintf("%s is stored but has no catalog record (a wal-push interrupted between the two, or records lost)", oi.Key),
				Fix:     "run logship catalog rebuild to record it"})
			return nil
		}
		if len(matched) > 1 {
			v.badWAL[name] = true
			v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeConflictingRecords, Object: name,
				Message: fmt.Sprintf("%s has %d catalog records with different sizes or checksums", name, len(matched)),
				Fix:     fmt.Sprintf("run logship verify --deep to find which one the object matches, then delete the other record under %s", c.walRecordPrefix())})
		}
		for _, r := range matched {
			if r.SystemID != 0 && ch.SourceKnown && r.SystemID != ch.Source.SystemID {
				v.badWAL[name] = true
				v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeWrongSystem, Object: oi.Key,
					Message: fmt.Sprintf("%s comes from PostgreSQL system %d, but source %q is system %d", name, r.SystemID, c.source, ch.Source.SystemID),
					Fix:     fmt.Sprintf("another cluster's WAL was put into source %q: delete %s and its record, and give each cluster its own --source", c.source, oi.Key)})
			}
			if r.StoredSize != oi.Size {
				v.badWAL[name] = true
				v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeSizeMismatch, Object: oi.Key,
					Message: fmt.Sprintf("%s is %d bytes but its record says %d: the object was truncated or replaced", oi.Key, oi.Size, r.StoredSize),
					Fix:     fmt.Sprintf("run logship verify --deep; if the object is damaged, delete it and its record and push pg_wal/%s again if PostgreSQL still has it", name)})
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list WAL objects: %w", err)
	}
	missingUpTo("", true)
	for _, r := range recs {
		if _, err := pg.ParseWALFileName(r.Name, ch.SegmentSize); err != nil {
			v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeBadRecord, Object: r.Name,
				Message: fmt.Sprintf("record of %q: %v", r.Name, err), Fix: "delete the record; no restore reads it"})
		}
	}
	return nil
}

// noteNewest keeps the segment that reached the store last.
func (v *verifier) noteNewest(ch *Chain, name string, oi store.ObjectInfo) {
	f, err := pg.ParseWALFileName(name, ch.SegmentSize)
	if err != nil || (f.Kind != pg.Segment && f.Kind != pg.Partial) {
		return
	}
	v.rep.Segments++
	if v.newest.replacedBy(name, oi.ModTime) {
		v.newest = &NewestSegment{Name: name, Time: oi.ModTime.UTC()}
	}
}

func (v *verifier) listBackupObjects(ctx context.Context) (map[string]store.ObjectInfo, error) {
	objs := map[string]store.ObjectInfo{}
	err := v.cat.st.List(ctx, v.cat.key("backups/"), func(oi store.ObjectInfo) error {
		objs[oi.Key] = oi
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backup objects: %w", err)
	}
	return objs, nil
}

// compareBackups checks every backup's parts and manifest against the
// listing, and reports objects no backup record claims.
func (v *verifier) compareBackups(ch *Chain, objs map[string]store.ObjectInfo) {
	c := v.cat
	claimed := map[string]bool{}
	v.backupChecks = map[string]*Check{}
	for _, b := range ch.Backups {
		bc := v.check(CheckBackup, b.ID)
		v.backupChecks[b.ID] = bc
		if ch.SourceKnown && b.SystemID != 0 && b.SystemID != ch.Source.SystemID {
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeWrongSystem, Object: c.backupRecordPrefix() + b.ID + ".json",
				Message: fmt.Sprintf("backup %s was taken of system %d but source %q is system %d", b.ID, b.SystemID, c.source, ch.Source.SystemID),
				Fix:     "this backup belongs to another cluster: move it to that cluster's source, or delete its record"})
		}
		if len(b.Parts) == 0 {
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeBadRecord, Object: c.backupRecordPrefix() + b.ID + ".json",
				Message: fmt.Sprintf("backup %s has no parts in its record", b.ID), Fix: "take a new backup; delete this record"})
		}
		for _, p := range b.AllParts() {
			claimed[p.Key] = true
			oi, ok := objs[p.Key]
			switch {
			case !ok:
				v.badBackup[b.ID] = true
				v.add(bc, Problem{Severity: SevError, Code: CodeMissingPart, Object: p.Key,
					Message: fmt.Sprintf("backup %s: part %s is missing from the store", b.ID, p.Key),
					Fix:     "the backup cannot be restored: take a new backup (logship backup); restores fall back to older backups"})
			case oi.Size != p.StoredSize:
				v.badBackup[b.ID] = true
				v.add(bc, Problem{Severity: SevError, Code: CodeSizeMismatch, Object: p.Key,
					Message: fmt.Sprintf("backup %s: part %s is %d bytes but the record says %d: truncated or replaced", b.ID, p.Key, oi.Size, p.StoredSize),
					Fix:     "the backup cannot be restored: take a new backup (logship backup)"})
			}
		}
		claimed[b.ManifestKey] = true
		claimed[c.backupPrefix(b.ID)+BackupDocName] = true
		if _, ok := objs[b.ManifestKey]; !ok || b.ManifestKey == "" {
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeMissingManifest, Object: b.ManifestKey,
				Message: fmt.Sprintf("backup %s: its backup_manifest %s is missing, so a restore cannot be checked", b.ID, b.ManifestKey),
				Fix:     "take a new backup (logship backup)"})
		}
	}
	// Objects of a backup without a record: an interrupted backup, or one
	// still running. One warning per backup folder.
	orphans := map[string]int{}
	for k, oi := range objs {
		if claimed[k] || !oi.ModTime.Before(v.started) {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(k, c.key("backups/")), "/")
		orphans[id]++
	}
	ids := make([]string, 0, len(orphans))
	for id := range orphans {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeUnrecordedBackup, Object: c.backupPrefix(id),
			Message: fmt.Sprintf("%s under %s %s to no recorded backup (an interrupted backup, or one still running)", plural.N(orphans[id], "object"), c.backupPrefix(id), plural.Word(orphans[id], "belongs", "belong")),
			Fix:     "nothing restores from them; delete them when no backup is running"})
	}
}

// checkBackups checks that each backup's own WAL is there.
func (v *verifier) checkBackups(ch *Chain) {
	v.rep.Backups = len(ch.Backups)
	for _, b := range ch.Backups {
		bc := v.backupChecks[b.ID]
		runs := ch.BackupWAL(b)
		var n uint64
		for _, r := range runs {
			n += r.Len()
		}
		for _, m := range ch.Missing(runs) {
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeBackupWAL, Object: m.First,
				Message: fmt.Sprintf("backup %s needs WAL %s to %s to be consistent; missing: %s", b.ID, b.StartWAL, b.EndWAL, m),
				Fix:     "if PostgreSQL still has these files in pg_wal, push them with logship wal-push; otherwise the backup is unusable: take a new one"})
		}
		bc.Summary = fmt.Sprintf("timeline %d, %s to %s, %s, WAL %s to %s (%s)",
			b.Timeline, b.StartLSN, b.EndLSN, plural.N(len(b.Parts), "part"), b.StartWAL, b.EndWAL, plural.N(n, "segment"))
		if !bc.OK {
			bc.Summary = "NOT RESTORABLE: " + bc.Summary
		}
	}
}

func (v *verifier) usable(b Backup) bool { return !v.badBackup[b.ID] }

// historyProblem reports why timeline tli's path cannot be followed.
func (v *verifier) historyProblem(c *Check, tli pg.TimelineID, err error) {
	name := pg.HistoryFileName(tli)
	if errors.Is(err, ErrMissingHistory) {
		v.add(c, Problem{Severity: SevError, Code: CodeMissingHistory, Object: name,
			Message: fmt.Sprintf("%s is not in the store: timeline %d cannot be followed back to the timeline it branched from", name, tli),
			Fix:     fmt.Sprintf("copy pg_wal/%s from the server that switched to timeline %d (or any standby that followed it) and push it with logship wal-push", name, tli)})
		return
	}
	v.add(c, Problem{Severity: SevError, Code: CodeBadHistory, Object: name,
		Message: fmt.Sprintf("timeline %d: %v", tli, err),
		Fix:     fmt.Sprintf("replace %s: delete its object and record, and push pg_wal/%s again from a server on timeline %d", v.cat.walKey(name), name, tli)})
}

// checkTimelines checks that WAL is whole from the oldest backup on each
// timeline's path to its newest recorded segment (in all: a damaged newest
// segment must not quietly move the end of the timeline back).
func (v *verifier) checkTimelines(ch, all *Chain) {
	tls := all.Timelines()
	v.rep.Timelines = len(tls)
	var latest pg.TimelineID
	for _, t := range tls {
		if _, ok := all.Newest(t); ok {
			latest = t
		}
	}
	noBackup := Problem{Severity: SevError, Code: CodeNoBackup, Object: v.cat.backupRecordPrefix(),
		Message: fmt.Sprintf("source %q has no complete backup: nothing can be restored", v.cat.source),
		Fix:     "take one with logship backup"}
	if len(ch.Backups) == 0 {
		v.add(v.storeCheck, noBackup)
	}
	for _, t := range tls {
		tc := v.check(CheckTimeline, strconv.FormatUint(uint64(t), 10))
		path, err := ch.Path(t)
		if err != nil {
			v.historyProblem(tc, t, err)
			tc.Summary = "cannot be followed: history unknown"
			continue
		}
		newest, ok := all.Newest(t)
		if !ok {
			tc.Summary = "path " + describePath(path) + "; no segments stored on it yet"
			continue
		}
		end := pg.SegmentStart(newest+1, ch.SegmentSize)
		var oldest *Backup
		for i, b := range ch.Backups {
			if OnPath(b, path) && b.EndLSN <= end && (oldest == nil || b.StartLSN < oldest.StartLSN) {
				oldest = &ch.Backups[i]
			}
		}
		newestName := pg.SegmentName(t, newest, ch.SegmentSize)
		if oldest == nil {
			if len(ch.Backups) == 0 {
				v.add(tc, noBackup)
				tc.Summary = "no backup: WAL up to " + newestName + " cannot be restored"
				continue
			}
			sev := SevWarning
			if t == latest {
				sev = SevError
			}
			v.add(tc, Problem{Severity: sev, Code: CodeNoBackup, Object: newestName,
				Message: fmt.Sprintf("no backup lies on the path of timeline %d, so its WAL (up to %s) cannot be restored", t, newestName),
				Fix:     "take a new backup (logship backup) on the current timeline"})
			tc.Summary = "path " + describePath(path) + "; no backup on it"
			continue
		}
		runs := replayPath(path, oldest.StartLSN, end, ch.SegmentSize)
		var n uint64
		for _, r := range runs {
			n += r.Len()
		}
		for _, m := range ch.Missing(runs) {
			v.add(tc, Problem{Severity: SevError, Code: CodeWALGap, Object: m.First,
				Message: fmt.Sprintf("WAL gap on timeline %d: %s missing; no restore can replay past it (needed from backup %s to %s)", m.Timeline, m, oldest.ID, newestName),
				Fix:     "if PostgreSQL or a standby still has these files in pg_wal, push them with logship wal-push; otherwise take a new backup now so that restores past the gap work again"})
		}
		tc.Summary = fmt.Sprintf("path %s; %s from backup %s (%s) to %s", describePath(path), plural.N(n, "segment"), oldest.ID, oldest.StartWAL, newestName)
	}
}

func describePath(path []pg.TimelineRange) string {
	parts := make([]string, len(path))
	for i, r := range path {
		parts[i] = strconv.FormatUint(uint64(r.Timeline), 10)
		if r.End != 0 {
			parts[i] += " (until " + r.End.String() + ")"
		}
	}
	return strings.Join(parts, " -> ")
}

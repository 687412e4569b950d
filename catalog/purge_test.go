package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// purgeStore is a source in a fresh file store, filled through the catalog
// API the way the shipper fills it.
type purgeStore struct {
	t   *testing.T
	st  store.Store
	cat *catalog.Catalog
	// t0 is the time of segment 0; segment n was written n hours later.
	t0 time.Time
}

func newPurgeStore(t *testing.T) *purgeStore {
	t.Helper()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ps := &purgeStore{t: t, st: st, cat: catalog.New(st, "p"), t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := ps.cat.ClaimSource(context.Background(), catalog.Source{SystemID: 7, SegmentSize: segSize}); err != nil {
		t.Fatal(err)
	}
	return ps
}

func (ps *purgeStore) put(key string, data []byte) {
	ps.t.Helper()
	if err := ps.st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		ps.t.Fatal(err)
	}
}

// wal stores WAL files: a real object (catalog rebuild reads its header),
// then its record.
func (ps *purgeStore) wal(names ...string) {
	ps.t.Helper()
	for _, name := range names {
		enc, err := object.Encode(strings.NewReader("wal "+name), object.KindWAL, name, nil, object.EncodeOptions{})
		if err != nil {
			ps.t.Fatal(err)
		}
		ps.put(ps.cat.WALKey(name), enc.Bytes())
		r := catalog.WALRecord{Name: name, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}
		if err := ps.cat.AddWAL(context.Background(), r); err != nil {
			ps.t.Fatal(err)
		}
	}
}

func (ps *purgeStore) segments(tli pg.TimelineID, first, last uint64) {
	for s := first; s <= last; s++ {
		ps.wal(seg(tli, s))
	}
}

// history stores a real (encoded) history file, which the chain reads.
func (ps *purgeStore) history(tli pg.TimelineID, content string) {
	ps.t.Helper()
	name := pg.HistoryFileName(tli)
	enc, err := object.Encode(strings.NewReader(content), object.KindHistory, name, nil, object.EncodeOptions{})
	if err != nil {
		ps.t.Fatal(err)
	}
	ps.put(ps.cat.WALKey(name), enc.Bytes())
	r := catalog.WALRecord{Name: name, RawSize: int64(len(content)), SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}
	if err := ps.cat.AddWAL(context.Background(), r); err != nil {
		ps.t.Fatal(err)
	}
}

func (ps *purgeStore) at(segNo uint64) time.Time { return ps.t0.Add(time.Duration(segNo) * time.Hour) }

// backup records a backup from startSeg to endSeg with two parts.
func (ps *purgeStore) backup(id string, tli uint32, startSeg, endSeg uint64) catalog.Backup {
	ps.t.Helper()
	b := backup(id, tli, startSeg, endSeg)
	b.StartTime, b.EndTime = ps.at(startSeg), ps.at(endSeg)
	b.StoredSize = 2
	for i := 1; i <= 2; i++ {
		key := fmt.Sprintf("%spart-%06d", ps.cat.BackupPrefix(id), i)
		ps.put(key, []byte{byte(i)})
		b.Parts = append(b.Parts, catalog.BackupPart{Key: key, RawSize: 1, SHA256: zeroSHA, StoredSize: 1})
	}
	if err := ps.cat.AddBackup(context.Background(), b); err != nil {
		ps.t.Fatal(err)
	}
	return b
}

func (ps *purgeStore) mark(name string, tli uint32, segNo uint64) {
	ps.t.Helper()
	m := mark(name, tli, segNo)
	m.Time = ps.at(segNo)
	if err := ps.cat.AddMark(context.Background(), m); err != nil {
		ps.t.Fatal(err)
	}
}

func (ps *purgeStore) keys() []string {
	ps.t.Helper()
	var keys []string
	if err := ps.st.List(context.Background(), "p/", func(oi store.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		ps.t.Fatal(err)
	}
	return keys
}

// whole checks what verify relies on: every record's object is there,
// every backup has its WAL, every mark is reachable.
func (ps *purgeStore) whole() error {
	ctx := context.Background()
	ch, err := ps.cat.Chain(ctx)
	if err != nil {
		return err
	}
	for _, r := range ch.WAL {
		if _, err := ps.st.Stat(ctx, ps.cat.WALKey(r.Name)); err != nil {
			return fmt.Errorf("record of %s without object: %w", r.Name, err)
		}
	}
	for _, b := range ch.Backups {
		for _, p := range b.Parts {
			if _, err := ps.st.Stat(ctx, p.Key); err != nil {
				return fmt.Errorf("backup %s lacks %s: %w", b.ID, p.Key, err)
			}
		}
		if m := ch.Missing(ch.BackupWAL(b)); len(m) > 0 {
			return fmt.Errorf("backup %s lacks WAL %v", b.ID, m)
		}
	}
	for _, m := range ch.Marks {
		if _, err := ch.ReachMark(m, nil); err != nil {
			return err
		}
	}
	for _, tl := range ch.Timelines() {
		if tl > 1 {
			if _, err := ch.History(tl); err != nil {
				return err
			}
		}
	}
	return nil
}

func actions[T any](items []T, name func(T) string, action func(T) string) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		out[name(it)] = action(it)
	}
	return out
}

func backupActions(p *catalog.PurgePlan) map[string]string {
	return actions(p.Backups, func(b catalog.PlannedBackup) string { return b.ID }, func(b catalog.PlannedBackup) string { return b.Action })
}

func markActions(p *catalog.PurgePlan) map[string]string {
	return actions(p.Marks, func(m catalog.PlannedMark) string { return m.Name }, func(m catalog.PlannedMark) string { return m.Action })
}

// walRuns renders the WAL side of a plan as "action first..last" lines.
func walRuns(p *catalog.PurgePlan) []string {
	var out []string
	for _, w := range p.WAL {
		out = append(out, fmt.Sprintf("%s %s..%s", w.Action, w.First, w.Last))
	}
	return out
}

// fourBackups is one timeline, segments 1-13, backups starting at 2, 5, 8
// and 11 (each ends in the next segment), and marks in 3, 6, 9 and 12.
func fourBackups(t *testing.T) *purgeStore {
	ps := newPurgeStore(t)
	ps.segments(1, 1, 13)
	for i, s := range []uint64{2, 5, 8, 11} {
		ps.backup(fmt.Sprintf("b%d", i+1), 1, s, s+1)
		ps.mark(fmt.Sprintf("m%d", i+1), 1, s+1)
	}
	return ps
}

func TestPlanPurge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(*testing.T) *purgeStore
		policy  catalog.RetentionPolicy
		now     func(*purgeStore) time.Time
		backups map[string]string
		marks   map[string]string
		wal     []string
	}{
		{
			name:    "keep the last two backups",
			setup:   fourBackups,
			policy:  catalog.RetentionPolicy{KeepBackups: 2},
			backups: map[string]string{"b1": "delete", "b2": "delete", "b3": "keep", "b4": "keep"},
			marks:   map[string]string{"m1": "delete", "m2": "delete", "m3": "keep", "m4": "keep"},
			wal:     []string{"delete " + seg(1, 1) + ".." + seg(1, 7), "keep " + seg(1, 8) + ".." + seg(1, 13)},
		},
		{
			name:    "keeping more backups than there are deletes nothing",
			setup:   fourBackups,
			policy:  catalog.RetentionPolicy{KeepBackups: 10},
			backups: map[string]string{"b1": "keep", "b2": "keep", "b3": "keep", "b4": "keep"},
			marks:   map[string]string{"m1": "keep", "m2": "keep", "m3": "keep", "m4": "keep"},
			wal:     []string{"delete " + seg(1, 1) + ".." + seg(1, 1), "keep " + seg(1, 2) + ".." + seg(1, 13)},
		},
		{
			// The window begins at hour 7.5: b2 (ended at 6) can restore to
			// its start, b1 is not needed.
			name:    "recovery window keeps the backup before the window",
			setup:   fourBackups,
			policy:  catalog.RetentionPolicy{RecoveryWindow: 6 * time.Hour},
			now:     func(ps *purgeStore) time.Time { return ps.at(13).Add(30 * time.Minute) },
			backups: map[string]string{"b1": "delete", "b2": "keep", "b3": "keep", "b4": "keep"},
			marks:   map[string]string{"m1": "delete", "m2": "keep", "m3": "keep", "m4": "keep"},
			wal:     []string{"delete " + seg(1, 1) + ".." + seg(1, 4), "keep " + seg(1, 5) + ".." + seg(1, 13)},
		},
		{
			name:    "either rule keeps a backup",
			setup:   fourBackups,
			policy:  catalog.RetentionPolicy{KeepBackups: 1, RecoveryWindow: 6 * time.Hour},
			now:     func(ps *purgeStore) time.Time { return ps.at(13).Add(30 * time.Minute) },
			backups: map[string]string{"b1": "delete", "b2": "keep", "b3": "keep", "b4": "keep"},
			marks:   map[string]string{"m1": "delete", "m2": "keep", "m3": "keep", "m4": "keep"},
			wal:     []string{"delete " + seg(1, 1) + ".." + seg(1, 4), "keep " + seg(1, 5) + ".." + seg(1, 13)},
		},
		{
			name: "no backup: nothing goes",
			setup: func(t *testing.T) *purgeStore {
				ps := newPurgeStore(t)
				ps.segments(1, 1, 4)
				ps.mark("m", 1, 2)
				return ps
			},
			policy:  catalog.RetentionPolicy{KeepBackups: 1},
			backups: map[string]string{},
			marks:   map[string]string{"m": "keep"},
			wal:     []string{"keep " + seg(1, 1) + ".." + seg(1, 4)},
		},
		{
			// Timeline 2 branches off in segment 6. Kept backup b3 is on
			// timeline 2; mark "old-branch" lies on timeline 1 after the
			// branch point, so only b2 (timeline 1) reaches it: b2 stays.
			name: "a mark on another branch keeps its backup",
			setup: func(t *testing.T) *purgeStore {
				ps := newPurgeStore(t)
				ps.segments(1, 1, 8)
				ps.segments(2, 6, 10)
				ps.history(2, fmt.Sprintf("1\t%s\tno recovery target specified\n", pg.LSN(lsn(6, 0x4000))))
				ps.backup("b1", 1, 1, 2)
				ps.backup("b2", 1, 3, 4)
				ps.backup("b3", 2, 7, 8)
				ps.mark("old-branch", 1, 7)
				ps.mark("early", 1, 2)
				return ps
			},
			policy:  catalog.RetentionPolicy{KeepBackups: 1},
			backups: map[string]string{"b1": "delete", "b2": "keep", "b3": "keep"},
			marks:   map[string]string{"early": "delete", "old-branch": "keep"},
			wal: []string{
				"delete " + seg(1, 1) + ".." + seg(1, 2),
				"keep " + seg(1, 3) + ".." + seg(1, 8),
				"keep 00000002.history..00000002.history",
				"keep " + seg(2, 6) + ".." + seg(2, 10),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := tt.setup(t)
			now := ps.at(20)
			if tt.now != nil {
				now = tt.now(ps)
			}
			p, err := ps.cat.PlanPurge(context.Background(), tt.policy, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := backupActions(p); !reflect.DeepEqual(got, tt.backups) {
				t.Errorf("backups: %v, want %v", got, tt.backups)
			}
			if got := markActions(p); !reflect.DeepEqual(got, tt.marks) {
				t.Errorf("marks: %v, want %v", got, tt.marks)
			}
			if got := walRuns(p); !reflect.DeepEqual(got, tt.wal) {
				t.Errorf("wal:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.wal, "\n"))
			}
			for _, b := range p.Backups {
				if b.Reason == "" {
					t.Errorf("backup %s has no reason", b.ID)
				}
			}
			if t.Failed() {
				for _, w := range p.WAL {
					t.Logf("%s %s..%s: %s", w.Action, w.First, w.Last, w.Reason)
				}
			}
		})
	}
}

func TestPlanPurgeNeedsAPolicy(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t)
	for _, pol := range []catalog.RetentionPolicy{{}, {KeepBackups: -1}} {
		if _, err := ps.cat.PlanPurge(context.Background(), pol, ps.at(20)); !errors.Is(err, catalog.ErrNoPolicy) {
			t.Errorf("policy %+v: err %v, want ErrNoPolicy", pol, err)
		}
	}
}

func TestPurgeDeletesExactlyThePlan(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t)
	ctx := context.Background()
	before := ps.keys()
	p, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ps.keys(), before) {
		t.Fatal("planning changed the store")
	}
	res, err := ps.cat.Purge(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted.Backups != 2 || res.Deleted.Marks != 2 || res.Deleted.WALFiles != 7 {
		t.Fatalf("deleted %+v", res.Deleted)
	}
	after := map[string]bool{}
	for _, k := range ps.keys() {
		after[k] = true
	}
	for _, k := range before {
		gone := strings.Contains(k, "/b1/") || strings.Contains(k, "/b2/") || strings.HasSuffix(k, "b1.json") ||
			strings.HasSuffix(k, "b2.json") || strings.Contains(k, "marks/m1~") || strings.Contains(k, "marks/m2~") ||
			k == "p/marks/m1" || k == "p/marks/m2"
		for s := uint64(1); s <= 7; s++ {
			gone = gone || strings.Contains(k, seg(1, s))
		}
		if after[k] == gone {
			t.Errorf("%s: still there %v, want %v", k, after[k], !gone)
		}
	}
	if err := ps.whole(); err != nil {
		t.Fatal(err)
	}
	if rr, err := ps.cat.Rebuild(ctx); err != nil || rr.Added+rr.Backups+rr.Marks != 0 {
		t.Fatalf("rebuild after purge revived %+v (%v)", rr, err)
	}
	again, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Fatalf("second plan is not empty: %+v", again.Delete)
	}
}

// failingStore fails every Delete after the first n, like a purge killed
// midway.
type failingStore struct {
	store.Store
	left atomic.Int64
}

var errKilled = errors.New("killed")

func (f *failingStore) Delete(ctx context.Context, key string) error {
	if f.left.Add(-1) < 0 {
		return errKilled
	}
	return f.Store.Delete(ctx, key)
}

// A purge cut short after any number of deletions leaves a whole store, and
// a second purge finishes the job.
func TestPurgeKilledMidway(t *testing.T) {
	t.Parallel()
	ref := fourBackups(t)
	p, err := ref.cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 2, OrphanGrace: 0}, ref.at(20))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ref.cat.Purge(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	final := ref.keys()
	for n := 0; n < res.Objects; n++ {
		t.Run(fmt.Sprintf("after %d deletions", n), func(t *testing.T) {
			t.Parallel()
			ps := fourBackups(t)
			fs := &failingStore{Store: ps.st}
			fs.left.Store(int64(n))
			cat := catalog.New(fs, "p")
			p, err := cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cat.Purge(context.Background(), p); !errors.Is(err, errKilled) {
				t.Fatalf("purge: %v, want killed", err)
			}
			if err := ps.whole(); err != nil {
				t.Fatalf("store broken after %d deletions: %v", n, err)
			}
			// Nor does a rebuild of the catalog from the objects break it.
			if _, err := ps.cat.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := ps.whole(); err != nil {
				t.Fatalf("store broken by a rebuild after %d deletions: %v", n, err)
			}
			p, err = ps.cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ps.cat.Purge(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			got := ps.keys()
			if !reflect.DeepEqual(got, final) {
				t.Fatalf("second purge left\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(final, "\n"))
			}
		})
	}
}

// Objects of a backup that was never recorded go only once they are older
// than the grace period: a running backup writes its record last.
func TestPurgeOrphanBackupObjects(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t)
	ps.put(ps.cat.BackupPrefix("b0-interrupted")+"part-000001", []byte("x"))
	for _, tt := range []struct {
		grace time.Duration
		want  int
	}{{time.Hour, 0}, {-time.Hour, -1}, {0, 1}} {
		p, err := ps.cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 4, OrphanGrace: tt.grace}, time.Now())
		if tt.want < 0 { // a negative grace is refused (F5), not "never"
			if !errors.Is(err, catalog.ErrBadPolicy) {
				t.Errorf("grace %s: %v, want ErrBadPolicy", tt.grace, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Orphans) != tt.want {
			t.Errorf("grace %s: %d orphans %+v, want %d", tt.grace, len(p.Orphans), p.Orphans, tt.want)
		}
	}
}

// A complete backup whose catalog record was lost is not an orphan: its
// copy of the record is there, and catalog rebuild brings it back.
func TestPurgeKeepsBackupWithLostRecord(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t)
	lost := ps.backup("b9-lost-record", 1, 30, 31)
	if err := ps.cat.DeleteBackupRecord(context.Background(), lost.ID); err != nil {
		t.Fatal(err)
	}
	p, err := ps.cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 4, OrphanGrace: 0}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Orphans {
		if strings.HasPrefix(o.Key, ps.cat.BackupPrefix(lost.ID)) {
			t.Fatalf("purge plans to delete %s of a complete backup whose record was lost", o.Key)
		}
	}
	if len(p.Warnings) == 0 || !strings.Contains(strings.Join(p.Warnings, " "), "catalog rebuild") {
		t.Fatalf("no warning to rebuild the catalog: %v", p.Warnings)
	}
}

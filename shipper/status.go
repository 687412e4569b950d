package shipper

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/sqlsource"
)

// StatusOptions tune GetStatus.
type StatusOptions struct {
	// ConnString, if set, is used to read pg_stat_archiver from the source.
	ConnString string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxRPO, if above 0, makes an RPO above it (or none: nothing shipped)
	// one of the Status's Problems.
	MaxRPO time.Duration
	// Slot and MaxSlotRetained: the replication slots of logship receive
	// read with ConnString, as CheckOptions has them; a slot over the limit
	// is one of the Problems.
	Slot            string
	MaxSlotRetained int64
	// SlotConnString, when ConnString is "", reads only the slots (the
	// schedule daemon's metrics), not the archiver.
	SlotConnString string
}

// Status is how the source's shipping stands, as `logship status` shows it.
type Status struct {
	Source         string    `json:"source"`
	Store          string    `json:"store"`
	Time           time.Time `json:"time"`
	StoreReachable bool      `json:"store_reachable"`
	StoreError     string    `json:"store_error,omitempty"`
	SystemID       uint64    `json:"system_id,string,omitempty"`
	// RPOSeconds is the age of the newest shipped segment: how much of the
	// source's history a loss of the source would cost at most, if it wrote
	// anything since. Null when nothing is shipped.
	RPOSeconds    *float64       `json:"rpo_seconds"`
	NewestSegment *SegmentStatus `json:"newest_segment"`
	NewestBackup  *BackupStatus  `json:"newest_backup"`
	NewestMark    *MarkStatus    `json:"newest_mark"`
	WALFiles      int            `json:"wal_files"`
	Segments      int            `json:"segments"`
	RawBytes      int64          `json:"raw_bytes"`
	StoredBytes   int64          `json:"stored_bytes"`
	Backups       int            `json:"backups"`
	Marks         int            `json:"marks"`
	Pins          []catalog.Pin  `json:"pins"` // kept whatever purge's policy
	Archiver      *ArchiverStats `json:"archiver,omitempty"`
	ArchiverError string         `json:"archiver_error,omitempty"`
	// StreamedTail is the newest segment stored only as pieces by
	// logship receive (catalog.StreamedTailInfo); nil when there is none.
	StreamedTail *catalog.StreamedTailInfo `json:"streamed_tail"`
	// ReplicationSlots are the source's slots of logship receive, read
	// with the archiver; absent when it has none or could not be asked.
	ReplicationSlots []SlotStatus `json:"replication_slots,omitempty"`
	SlotsError       string       `json:"replication_slots_error,omitempty"`
	// Problems says why `logship status` exits 1: the store unreachable,
	// the archiver failing (when the source could be asked), the RPO over
	// --max-rpo. Empty when all is well.
	Problems []string `json:"problems,omitempty"`
}

// SegmentStatus describes the newest shipped WAL segment.
type SegmentStatus struct {
	Name       string    `json:"name"`
	Timeline   uint32    `json:"timeline"`
	EndLSN     string    `json:"end_lsn"`
	ShippedAt  time.Time `json:"shipped_at"`
	AgeSeconds float64   `json:"age_seconds"`
	// ShippedFrom is the server that started the segment's timeline (the
	// promoted one, after a failover), when its wal-push recorded it.
	ShippedFrom *catalog.TimelineOrigin `json:"shipped_from,omitempty"`
}

// BackupStatus describes the newest complete base backup.
type BackupStatus struct {
	ID         string    `json:"id"`
	Timeline   uint32    `json:"timeline"`
	StartLSN   string    `json:"start_lsn"`
	EndTime    time.Time `json:"end_time"`
	AgeSeconds float64   `json:"age_seconds"`
	StoredSize int64     `json:"stored_size"`
}

// MarkStatus describes the newest mark.
type MarkStatus struct {
	Name       string    `json:"name"`
	LSN        string    `json:"lsn"`
	Timeline   uint32    `json:"timeline"`
	Time       time.Time `json:"time"`
	AgeSeconds float64   `json:"age_seconds"`
}

// ArchiverStats is the source's pg_stat_archiver.
type ArchiverStats struct {
	ArchivedCount    int64      `json:"archived_count"`
	LastArchivedWAL  string     `json:"last_archived_wal"`
	LastArchivedTime *time.Time `json:"last_archived_time"`
	FailedCount      int64      `json:"failed_count"`
	LastFailedWAL    string     `json:"last_failed_wal"`
	LastFailedTime   *time.Time `json:"last_failed_time"`
	StatsReset       *time.Time `json:"stats_reset"`
	// Failing is true when the last failure is newer than the last
	// success: the archiver is stuck and WAL piles up on the source.
	Failing bool `json:"failing"`
}

// GetStatus reads the catalog (and pg_stat_archiver when opts.ConnString is
// set). The returned error is the store's: the status is filled in as far
// as it could be either way; an unreachable source only sets ArchiverError.
func GetStatus(ctx context.Context, cat *catalog.Catalog, opts StatusOptions) (Status, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	// Pins is [], not null, in --json also when the store cannot be read.
	st := Status{Source: cat.SourceName(), Store: cat.StoreURL(), Time: now().UTC(), Pins: []catalog.Pin{}}
	if opts.ConnString != "" {
		a, err := archiverStats(ctx, opts.ConnString)
		if err != nil {
			st.ArchiverError = err.Error()
		} else {
			st.Archiver = &a
			// Only once the source answered: a second wait for an
			// unreachable one would only double the time status takes.
			st.ReplicationSlots, err = statusSlots(ctx, opts.ConnString, opts)
			if err != nil {
				st.SlotsError = err.Error()
			}
		}
	} else if opts.SlotConnString != "" {
		var err error
		if st.ReplicationSlots, err = statusSlots(ctx, opts.SlotConnString, opts); err != nil {
			st.SlotsError = err.Error()
		}
	}
	err := fillCatalogStatus(ctx, cat, &st, now)
	if err != nil {
		st.StoreError = err.Error()
	} else {
		st.StoreReachable = true
	}
	st.Problems = problems(st, opts.MaxRPO)
	for _, s := range st.ReplicationSlots {
		if w := slotWarning(s, opts.MaxSlotRetained); w != "" {
			st.Problems = append(st.Problems, w)
		}
	}
	return st, err
}

// problems lists what makes the status a failure, in the words status
// prints them.
func problems(st Status, maxRPO time.Duration) []string {
	var out []string
	if !st.StoreReachable {
		out = append(out, "the store is unreachable: "+st.StoreError)
	}
	if a := st.Archiver; a != nil && a.Failing {
		out = append(out, fmt.Sprintf("archiving is failing: %s failed at %s (see the PostgreSQL log)",
			a.LastFailedWAL, a.LastFailedTime.UTC().Format(time.RFC3339)))
	}
	if maxRPO > 0 && st.StoreReachable {
		switch {
		case st.RPOSeconds == nil:
			out = append(out, fmt.Sprintf("no segment was shipped yet (--max-rpo %s)", maxRPO))
		case *st.RPOSeconds > maxRPO.Seconds():
			rpo := time.Duration(*st.RPOSeconds * float64(time.Second)).Round(time.Second)
			out = append(out, fmt.Sprintf("the RPO %s is over --max-rpo %s", rpo, maxRPO))
		}
	}
	return out
}

func fillCatalogStatus(ctx context.Context, cat *catalog.Catalog, st *Status, now func() time.Time) error {
	l, err := cat.List(ctx)
	if err != nil {
		return err
	}
	if l.Source != nil {
		st.SystemID = l.Source.SystemID
	}
	st.WALFiles, st.RawBytes, st.StoredBytes = l.Files, l.RawBytes, l.StoredBytes
	st.Backups, st.Marks, st.Pins = len(l.Backups), len(l.Marks), l.Pins
	segSize := uint64(pg.DefaultSegmentSize)
	if l.Source != nil && pg.ValidSegmentSize(l.Source.SegmentSize) {
		segSize = l.Source.SegmentSize
	}
	for _, e := range l.WAL {
		if e.Kind == pg.Segment.String() {
			st.Segments++
		}
	}
	newest, err := cat.NewestSegment(ctx, segSize)
	if err != nil {
		return err
	}
	if newest != nil {
		age := now().Sub(newest.Time).Seconds()
		seg := &SegmentStatus{Name: newest.Name, ShippedAt: newest.Time, AgeSeconds: age}
		if f, err := pg.ParseWALFileName(newest.Name, segSize); err == nil {
			seg.Timeline, seg.EndLSN = uint32(f.Timeline), pg.SegmentStart(f.SegNo+1, segSize).String()
		}
		// Only informs: an unreadable record leaves it out.
		if origins, err := cat.TimelineOrigins(ctx); err == nil {
			if o, ok := origins[seg.Timeline]; ok {
				seg.ShippedFrom = &o
			}
		}
		st.NewestSegment = seg
		st.RPOSeconds = &age
	}
	if t := l.StreamedTail; t != nil {
		if !t.NewestPiece.IsZero() {
			t.AgeSeconds = now().Sub(t.NewestPiece).Seconds()
		}
		st.StreamedTail = t
	}
	if n := len(l.Backups); n > 0 {
		b := newestBackup(l.Backups)
		st.NewestBackup = &BackupStatus{ID: b.ID, Timeline: uint32(b.Timeline), StartLSN: b.StartLSN.String(), EndTime: b.EndTime,
			AgeSeconds: now().Sub(b.EndTime).Seconds(), StoredSize: b.StoredSize}
	}
	if m, ok := catalog.LatestMark(l.Marks); ok {
		st.NewestMark = &MarkStatus{Name: m.Name, LSN: m.LSN.String(), Timeline: uint32(m.Timeline), Time: m.Time,
			AgeSeconds: now().Sub(m.Time).Seconds()}
	}
	return nil
}

// newestBackup is the backup that finished last (IDs sort by start time,
// and a long backup may finish after a later short one).
func newestBackup(bs []catalog.Backup) catalog.Backup {
	b := bs[0]
	for _, x := range bs[1:] {
		if x.EndTime.After(b.EndTime) {
			b = x
		}
	}
	return b
}

// archiverTimeout bounds how long status waits for an unreachable source.
const archiverTimeout = 10 * time.Second

func archiverStats(ctx context.Context, connString string) (ArchiverStats, error) {
	ctx, cancel := context.WithTimeout(ctx, archiverTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return ArchiverStats{}, fmt.Errorf("connect to the source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var a ArchiverStats
	var lastWAL, failedWAL *string
	err = conn.QueryRow(ctx, `SELECT archived_count, last_archived_wal, last_archived_time,
		failed_count, last_failed_wal, last_failed_time, stats_reset FROM pg_stat_archiver`).
		Scan(&a.ArchivedCount, &lastWAL, &a.LastArchivedTime, &a.FailedCount, &failedWAL, &a.LastFailedTime, &a.StatsReset)
	if err != nil {
		return ArchiverStats{}, fmt.Errorf("read pg_stat_archiver: %w", err)
	}
	if lastWAL != nil {
		a.LastArchivedWAL = *lastWAL
	}
	if failedWAL != nil {
		a.LastFailedWAL = *failedWAL
	}
	a.Failing = a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime))
	return a, nil
}

// statusSlots reads the replication slots of logship receive.
func statusSlots(ctx context.Context, connString string, opts StatusOptions) ([]SlotStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, archiverTimeout)
	defer cancel()
	conn, err := sqlsource.Connect(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("connect to the source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	slots, err := receiverSlots(ctx, conn, opts.Slot, opts.MaxSlotRetained)
	if len(slots) == 0 {
		slots = nil // absent from --json, as when not asked
	}
	return slots, err
}

package catalog

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// WALEntry is a WAL record with what its name tells.
type WALEntry struct {
	WALRecord
	Kind     string `json:"kind"`
	Timeline uint32 `json:"timeline"`
	StartLSN string `json:"start_lsn,omitempty"`
	EndLSN   string `json:"end_lsn,omitempty"`
	segNo    uint64
	isSeg    bool
}

// Gap is a run of missing segments between two stored ones on a timeline.
type Gap struct {
	After   string `json:"after"`
	Before  string `json:"before"`
	Missing uint64 `json:"missing_segments"`
}

// TimelineSummary describes the stored segments of one timeline.
type TimelineSummary struct {
	Timeline    uint32 `json:"timeline"`
	Segments    int    `json:"segments"`
	First       string `json:"first"`
	Last        string `json:"last"`
	StartLSN    string `json:"start_lsn"`
	EndLSN      string `json:"end_lsn"`
	HistoryFile string `json:"history_file,omitempty"`
	Gaps        []Gap  `json:"gaps"`
	// Origin is the server that started shipping the timeline, when its
	// wal-push recorded it (timelines/<tli>.json): after a failover, the
	// promoted server.
	Origin *TimelineOrigin `json:"origin,omitempty"`
}

// Listing is the whole WAL side of the catalog, as `catalog list` shows it.
type Listing struct {
	Source      *Source           `json:"source"`
	Backups     []Backup          `json:"backups"`
	Marks       []Mark            `json:"marks"`
	Pins        []Pin             `json:"pins"` // marks and backups purge never deletes
	Timelines   []TimelineSummary `json:"timelines"`
	Files       int               `json:"files"`
	RawBytes    int64             `json:"raw_bytes"`
	StoredBytes int64             `json:"stored_bytes"`
	WAL         []WALEntry        `json:"wal"`
	// StreamedTail is the newest segment stored only as pieces streamed
	// by receive; nil when there is none.
	StreamedTail *StreamedTailInfo `json:"streamed_tail"`
}

// List reads the source record and every WAL record and summarizes them.
func (c *Catalog) List(ctx context.Context) (Listing, error) {
	var l Listing
	src, err := c.Source(ctx)
	switch {
	case err == nil:
		l.Source = &src
	case !errors.Is(err, ErrNoSource):
		return l, err
	}
	segSize := uint64(pg.DefaultSegmentSize)
	if l.Source != nil && pg.ValidSegmentSize(l.Source.SegmentSize) {
		segSize = l.Source.SegmentSize
	}
	l.WAL = []WALEntry{}
	err = c.ListWAL(ctx, func(r WALRecord) error {
		l.WAL = append(l.WAL, describe(r, segSize))
		l.Files++
		l.RawBytes += r.RawSize
		l.StoredBytes += r.StoredSize
		return nil
	})
	if err != nil {
		return l, err
	}
	l.Timelines = summarize(l.WAL, segSize)
	if err := c.addOrigins(ctx, l.Timelines); err != nil {
		return l, err
	}
	if l.Backups, err = c.Backups(ctx); err != nil {
		return l, err
	}
	if l.Marks, err = c.Marks(ctx); err != nil {
		return l, err
	}
	if l.Marks == nil {
		l.Marks = []Mark{}
	}
	if l.Pins, err = c.Pins(ctx); err != nil {
		return l, err
	}
	if l.StreamedTail, err = c.StreamedTailInfo(ctx, segSize, time.Now()); err != nil {
		return l, err
	}
	return l, nil
}

func describe(r WALRecord, segSize uint64) WALEntry {
	e := WALEntry{WALRecord: r, Kind: "unknown"}
	wf, err := pg.ParseWALFileName(r.Name, segSize)
	if err != nil {
		return e
	}
	e.Kind = wf.Kind.String()
	e.Timeline = uint32(wf.Timeline)
	if wf.Kind == pg.Segment {
		e.segNo, e.isSeg = wf.SegNo, true
		e.StartLSN = pg.SegmentStart(wf.SegNo, segSize).String()
		e.EndLSN = pg.SegmentStart(wf.SegNo+1, segSize).String()
	}
	return e
}

func summarize(entries []WALEntry, segSize uint64) []TimelineSummary {
	byTLI := map[uint32]*TimelineSummary{}
	var prev = map[uint32]WALEntry{}
	for _, e := range entries {
		t := byTLI[e.Timeline]
		if t == nil {
			t = &TimelineSummary{Timeline: e.Timeline, Gaps: []Gap{}}
			byTLI[e.Timeline] = t
		}
		if e.Kind == pg.History.String() {
			t.HistoryFile = e.Name
		}
		if !e.isSeg {
			continue
		}
		if p, ok := prev[e.Timeline]; ok && e.segNo > p.segNo+1 {
			t.Gaps = append(t.Gaps, Gap{After: p.Name, Before: e.Name, Missing: e.segNo - p.segNo - 1})
		}
		if t.Segments == 0 {
			t.First, t.StartLSN = e.Name, e.StartLSN
		}
		t.Last, t.EndLSN = e.Name, e.EndLSN
		t.Segments++
		prev[e.Timeline] = e
	}
	out := make([]TimelineSummary, 0, len(byTLI))
	for _, t := range byTLI {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timeline < out[j].Timeline })
	return out
}

// replacedBy says whether a segment stored at t under name is newer than
// n, the newest so far (nil: none yet). Newest means shipped last, names
// breaking ties; the RPO is the age of that segment, so status, verify and
// the metrics agree on it.
func (n *NewestSegment) replacedBy(name string, t time.Time) bool {
	return n == nil || t.After(n.Time) || (t.Equal(n.Time) && name > n.Name)
}

// NewestSegment lists the stored WAL objects and returns the segment (or
// partial segment) shipped last, or nil when there is none.
func (c *Catalog) NewestSegment(ctx context.Context, segSize uint64) (*NewestSegment, error) {
	var newest *NewestSegment
	prefix := c.key("wal/")
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, prefix)
		f, err := pg.ParseWALFileName(name, segSize)
		if err != nil || (f.Kind != pg.Segment && f.Kind != pg.Partial) {
			return nil
		}
		if newest.replacedBy(name, oi.ModTime) {
			newest = &NewestSegment{Name: name, Time: oi.ModTime.UTC()}
		}
		return nil
	})
	return newest, err
}

package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// One question, every target kind: which backup, and WAL up to where.
func TestReachTargetKinds(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	b1, b2 := backup("b1", 1, 2, 3), backup("b2", 1, 8, 9)
	b1.EndTime, b2.EndTime = t0.Add(3*time.Minute), t0.Add(9*time.Minute)
	ch := catalog.NewChain(&catalog.Source{SegmentSize: segSize}, walRecords(1, 1, 14), []catalog.Backup{b1, b2}, nil, nil)
	tests := []struct {
		name   string
		target catalog.Target
		backup string
		last   uint64 // the last segment replayed
	}{
		{"mark", catalog.MarkTarget(mark("m5", 1, 5)), "b1", 5},
		{"time between", catalog.Target{Kind: catalog.TargetTime, Time: t0.Add(5 * time.Minute)}, "b1", 14},
		{"time after", catalog.Target{Kind: catalog.TargetTime, Time: t0.Add(time.Hour)}, "b2", 14},
		{"lsn at a boundary", catalog.Target{Kind: catalog.TargetLSN, LSN: pg.LSN(lsn(10, 0))}, "b2", 10},
		{"immediate", catalog.Target{Kind: catalog.TargetImmediate}, "b2", 9},
		{"all", catalog.Target{}, "b2", 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ch.Reach(tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			last := r.Runs[len(r.Runs)-1].Last
			if r.ID != tt.backup || last != tt.last || r.Timeline != 1 || r.Latest != (tt.target.Kind != catalog.TargetMark) {
				t.Fatalf("reach %s to segment %d on timeline %d (latest %v); want %s to %d", r.ID, last, r.Timeline, r.Latest, tt.backup, tt.last)
			}
		})
	}
}

// A target before every backup, and a backup of another system, which
// reaches nothing of this source.
func TestReachError(t *testing.T) {
	t.Parallel()
	foreign := backup("b0", 1, 1, 1)
	foreign.SystemID = 99
	b1 := backup("b1", 1, 4, 5)
	b1.SystemID = 7
	ch := catalog.NewChain(&catalog.Source{SystemID: 7, SegmentSize: segSize}, walRecords(1, 1, 9), []catalog.Backup{foreign, b1}, nil, nil)
	_, err := ch.Reach(catalog.MarkTarget(mark("m2", 1, 2)), nil)
	var re *catalog.ReachError
	if !errors.As(err, &re) || !errors.Is(err, catalog.ErrUnreachable) {
		t.Fatalf("err %v, want a ReachError", err)
	}
	if re.Attempt.ID != "" || len(re.OnPath) != 1 || re.OnPath[0].ID != "b1" {
		t.Fatalf("attempt %q, on path %v; want none, and only b1", re.Attempt.ID, re.OnPath)
	}
}

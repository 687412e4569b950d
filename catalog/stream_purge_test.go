package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
)

// Purge drops the pieces of segments stored in full and of segments before
// the cutoff, with their orphaned objects, and keeps the newest tail.
func TestPurgeStreamedPieces(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t) // segments 1-13, backups from 2, 5, 8, 11
	ctx := context.Background()
	piece := func(segNo uint64, start, end uint32) {
		t.Helper()
		raw := make([]byte, end-start)
		for i := range raw {
			raw[i] = byte(segNo) + byte(i)
		}
		if _, err := ps.cat.PutWALPiece(ctx, seg(1, segNo), start, raw, object.EncodeOptions{}, 7, segSize); err != nil {
			t.Fatal(err)
		}
	}
	piece(1, 0, 100)  // stored in full, and before the cutoff
	piece(12, 0, 100) // stored in full
	piece(12, 100, 50000)
	piece(14, 0, 4096) // the newest tail: kept
	// A piece of a segment stored in full whose record was never written.
	orphan := "p/wal-stream/" + seg(1, 13) + "/00000000-00000010"
	ps.put(orphan, []byte("x"))
	// One of the newest segment: a receiver may be about to record it.
	young := "p/wal-stream/" + seg(1, 14) + "/00001000-00002000"
	ps.put(young, []byte("y"))

	p, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, pp := range p.Pieces {
		got[pp.Segment] = pp.Action
	}
	want := map[string]string{seg(1, 1): "delete", seg(1, 12): "delete", seg(1, 14): "keep"}
	if len(got) != len(want) || got[seg(1, 1)] != "delete" || got[seg(1, 12)] != "delete" || got[seg(1, 14)] != "keep" {
		t.Fatalf("pieces %v, want %v", got, want)
	}
	if p.Delete.WALPieces != 3 || p.Keep.WALPieces != 1 {
		t.Fatalf("totals: delete %+v keep %+v", p.Delete, p.Keep)
	}
	var orphans []string
	for _, o := range p.Orphans {
		if strings.Contains(o.Key, "wal-stream") {
			orphans = append(orphans, o.Key)
		}
	}
	if len(orphans) != 1 || orphans[0] != orphan {
		t.Fatalf("piece orphans %v, want %s", orphans, orphan)
	}
	if _, err := ps.cat.Purge(ctx, p); err != nil {
		t.Fatal(err)
	}
	left, err := ps.cat.ListWALPieces(ctx)
	if err != nil || len(left) != 1 || left[0].Segment != seg(1, 14) {
		t.Fatalf("pieces left %+v, %v", left, err)
	}
	var stream []string
	for _, k := range ps.keys() {
		if strings.Contains(k, "wal-stream") {
			stream = append(stream, k)
		}
	}
	if len(stream) != 3 { // the tail's object and record, the young object
		t.Errorf("keys left: %v", stream)
	}
	for _, k := range stream {
		if !strings.Contains(k, seg(1, 14)) {
			t.Errorf("left behind: %s", k)
		}
	}
	if err := ps.whole(); err != nil {
		t.Fatal(err)
	}
	if s, end, ok, err := ps.cat.StreamedTail(ctx); err != nil || !ok || s != seg(1, 14) || end != 4096 {
		t.Fatalf("tail after purge: %s %d %v %v", s, end, ok, err)
	}
}

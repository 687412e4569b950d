package pg_test

import (
	"testing"

	"github.com/logship/logship/pg"
)

// A streamed tail replays to the end of the last record wholly stored:
// exactly at a record's end, one byte short of it, across pages, and a
// record continued from the previous segment.
func TestWholeRecordsEnd(t *testing.T) {
	w := newWALWriter(0)
	var ends []int // MAXALIGNed ends of the records, in stream offsets
	sizes := []int{100, 3000, 9000, 40, 20000, 8100, 64, 5000}
	for w.pos < testSeg+30000 {
		w.write(walRecord(1, 0, make([]byte, sizes[len(ends)%len(sizes)])))
		ends = append(ends, w.pos)
	}
	for segIdx := 0; segIdx < 2; segIdx++ {
		seg := w.segment(segIdx)
		base := segIdx * testSeg
		prev := -1 // the last end in this segment before the one checked
		for _, e := range ends {
			if e <= base {
				continue
			}
			if e > base+testSeg {
				break
			}
			for _, limit := range []int{e - base, e - base - 9} {
				want, wantOK := prev, prev >= 0
				if limit == e-base {
					want, wantOK = e-base, true
				}
				got, ok, err := pg.WholeRecordsEnd(append([]byte(nil), seg...), limit)
				if err != nil || ok != wantOK || (ok && got != pg.LSN(base+want)) {
					t.Fatalf("segment %d, limit %d: %s %v %v; want %s %v", segIdx, limit, got, ok, err, pg.LSN(base+want), wantOK)
				}
			}
			prev = e - base
		}
	}
	// Zeros from the first byte after the header: nothing to replay.
	fresh := newWALWriter(3)
	fresh.pageHeader(false, 0)
	if _, ok, err := pg.WholeRecordsEnd(fresh.segment(0), 40); ok || err != nil {
		t.Fatalf("empty segment: ok %v, %v", ok, err)
	}
}

package restore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
)

// streamedSegment is the start of segment segNo as PostgreSQL writes it:
// the long page header, then records of 100 bytes from offset 40, each at
// an 8-byte boundary (ends 144, 248, 352, ...). The rest is zeros.
func streamedSegment(segNo uint64, records int) []byte {
	b := make([]byte, planSegSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0xD110)
	le.PutUint16(b[2:], 0x0002) // XLP_LONG_HEADER
	le.PutUint32(b[4:], 1)
	le.PutUint64(b[8:], segNo*planSegSize)
	le.PutUint64(b[24:], 7)
	le.PutUint32(b[32:], planSegSize)
	le.PutUint32(b[36:], 8192)
	off := 40
	for i := 0; i < records; i++ {
		le.PutUint32(b[off:], 100)
		b[off+17] = 1 // a resource manager other than XLOG
		for j := 24; j < 100; j++ {
			b[off+j] = byte(i + j)
		}
		off = (off + 100 + 7) &^ 7
	}
	return b
}

func (s *synth) pieces(segNo uint64, raw []byte, ranges ...[2]uint32) {
	s.t.Helper()
	name := pg.SegmentName(1, segNo, planSegSize)
	for _, r := range ranges {
		if _, err := s.cat.PutWALPiece(context.Background(), name, r[0], raw[r[0]:r[1]], object.EncodeOptions{}, 7, planSegSize); err != nil {
			s.t.Fatal(err)
		}
	}
}

// A restore without target whose newest WAL is a streamed tail plans to
// replay to the end of the tail's last whole record, and is short when it
// does not get there.
func TestPlanStreamedTail(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	s.mark("m1", 1, 8)
	raw := streamedSegment(11, 3) // records end at 144, 248, 352
	s.pieces(11, raw, [2]uint32{0, 100}, [2]uint32{100, 300})
	ctx := context.Background()
	p, err := restore.NewPlan(ctx, s.cat, restore.Target{})
	if err != nil {
		t.Fatal(err)
	}
	wantEnd := pg.LSN(segLSN(11, 248))
	if p.LastWAL != pg.SegmentName(1, 10, planSegSize) || p.StreamedWAL != pg.SegmentName(1, 11, planSegSize) ||
		p.StreamedBytes != 300 || p.StreamedEnd != wantEnd {
		t.Fatalf("plan: last %s, streamed %s %d bytes, end %s; want the tail of segment 11 to %s", p.LastWAL, p.StreamedWAL, p.StreamedBytes, p.StreamedEnd, wantEnd)
	}
	for _, tt := range []struct {
		end   pg.LSN
		short bool
	}{
		{wantEnd, false},
		{wantEnd + 0x100, false}, // the receiver stored more since the plan
		{pg.LSN(segLSN(11, 144)), true},
		{pg.LSN(segLSN(10, 0x500)), true}, // never got into the tail
	} {
		err := restore.CheckReachedEnd(p, tt.end.String())
		if short := errors.Is(err, restore.ErrShortReplay); short != tt.short {
			t.Errorf("replay to %s: %v, want short %v", tt.end, err, tt.short)
		}
	}
	// A target is PostgreSQL's to check; the tail is not planned for.
	if p, err := restore.NewPlan(ctx, s.cat, restore.Target{Mark: "m1"}); err != nil || p.StreamedWAL != "" {
		t.Fatalf("plan to a mark: %+v, %v", p, err)
	}
}

func TestPlanIgnoresTailThatIsNotNext(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	s.pieces(12, streamedSegment(12, 2), [2]uint32{0, 300}) // segment 11 is missing
	p, err := restore.NewPlan(context.Background(), s.cat, restore.Target{})
	if err != nil || p.StreamedWAL != "" || p.StreamedEnd != 0 {
		t.Fatalf("plan: %+v, %v", p, err)
	}
}

func TestPlanRefusesDamagedTail(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	raw := streamedSegment(11, 3)
	s.pieces(11, raw, [2]uint32{0, 300})
	root, _ := s.cat.LocalRoot()
	name := pg.SegmentName(1, 11, planSegSize)
	if err := os.Remove(filepath.Join(root, "plan", "wal-stream", name, "00000000-0000012C")); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.NewPlan(context.Background(), s.cat, restore.Target{}); !errors.Is(err, catalog.ErrMissingObject) {
		t.Fatalf("plan with a lost piece: %v, want ErrMissingObject", err)
	}
}

// wal-fetch serves a segment stored only as pieces as their tail,
// zero-padded, under the segment's own name; one with no piece at its
// first byte is absent.
func TestFetchWALServesStreamedTail(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	raw := streamedSegment(11, 3)
	s.pieces(11, raw, [2]uint32{0, 200}, [2]uint32{150, 300})
	s.pieces(12, streamedSegment(12, 1), [2]uint32{8192, 9000})
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	if _, err := restore.FetchWAL(ctx, s.cat, pg.SegmentName(1, 11, planSegSize), dest); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	want := append(append([]byte(nil), raw[:300]...), make([]byte, planSegSize-300)...)
	if err != nil || string(got) != string(want) {
		t.Fatalf("fetched %d bytes, %v; want the 300-byte tail zero-padded to %d", len(got), err, planSegSize)
	}
	if _, err := restore.FetchWAL(ctx, s.cat, pg.SegmentName(1, 12, planSegSize), dest); !errors.Is(err, restore.ErrAbsent) {
		t.Fatalf("segment without a piece at 0: %v, want ErrAbsent", err)
	}
}

// A segment the receiver stored wholly in pieces, but not as the full
// segment, leads on to the tail of the next.
func TestPlanFollowsWhollyStreamedSegments(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	s.pieces(11, streamedSegment(11, 3), [2]uint32{0, planSegSize / 2}, [2]uint32{planSegSize / 2, planSegSize})
	s.pieces(12, streamedSegment(12, 3), [2]uint32{0, 260})
	p, err := restore.NewPlan(context.Background(), s.cat, restore.Target{})
	if err != nil {
		t.Fatal(err)
	}
	if p.StreamedWAL != pg.SegmentName(1, 12, planSegSize) || p.StreamedBytes != 260 || p.StreamedEnd != pg.LSN(segLSN(12, 248)) {
		t.Fatalf("plan: streamed %s, %d bytes, to %s", p.StreamedWAL, p.StreamedBytes, p.StreamedEnd)
	}
}

// A time after the newest full segment but before the receiver's newest
// piece is in the store: not refused.
func TestPlanTimeInStreamedTail(t *testing.T) {
	t.Parallel()
	s := newSynth(t)
	s.segments(1, 1, 10)
	s.backup("B1", 1, 2, 3)
	// The synthetic segments have records but no objects: give the newest
	// one an object, as wal-push stores it, so that it has a time.
	name := pg.SegmentName(1, 10, planSegSize)
	obj, err := object.Encode(strings.NewReader("x"), object.KindWAL, name, nil, object.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cat.PutWAL(context.Background(), name, obj); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	if _, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Time: after}); !errors.Is(err, restore.ErrBadTarget) {
		t.Fatalf("time after the newest segment, no tail: %v, want ErrBadTarget", err)
	}
	s.pieces(11, streamedSegment(11, 3), [2]uint32{0, 300})
	root, _ := s.cat.LocalRoot()
	piece := filepath.Join(root, "plan", "wal-stream", pg.SegmentName(1, 11, planSegSize), "00000000-0000012C")
	if err := os.Chtimes(piece, after.Add(time.Second), after.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.NewPlan(context.Background(), s.cat, restore.Target{Time: after}); err != nil {
		t.Fatalf("time before the newest piece: %v", err)
	}
}

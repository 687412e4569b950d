package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/crypt"
	"github.com/logship/logship/object"
)

var pieceOpts = object.EncodeOptions{Compression: object.Zstd, Concurrency: 1}

// putPiece stores seg[start:end) of raw as a piece of name.
func (f *fixture) putPiece(name string, raw []byte, start, end uint32) catalog.WALPiece {
	f.t.Helper()
	p, err := f.cat.PutWALPiece(context.Background(), name, start, raw[start:end], pieceOpts, fxSystem, fxSegSize)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func readStreamed(t *testing.T, cat *catalog.Catalog, name string) ([]byte, uint32, error) {
	t.Helper()
	rc, end, err := cat.OpenStreamedSegment(context.Background(), name, fxSegSize)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, end, err
}

// zeroPadded is raw's first end bytes followed by zeros to a segment.
func zeroPadded(raw []byte, end uint32) []byte {
	b := make([]byte, fxSegSize)
	copy(b, raw[:end])
	return b
}

func TestPutWALPieceRoundTripAndRetry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := fxSeg(1, 4)
	raw := segmentBytes(1, 4, fxSystem)
	p := f.putPiece(name, raw, 0, 8192)
	if p.Segment != name || p.Start != 0 || p.End != 8192 || p.SystemID != fxSystem || p.StoredSize <= 0 {
		t.Fatalf("piece %+v", p)
	}
	// A retry of the same bytes, even encoded otherwise, is success and
	// records what is stored.
	again, err := f.cat.PutWALPiece(ctx, name, 0, raw[:8192], object.EncodeOptions{Compression: object.None}, fxSystem, fxSegSize)
	if err != nil || again != p {
		t.Fatalf("retry: %+v, %v; want %+v", again, err, p)
	}
	other := bytes.Clone(raw[:8192])
	other[100] ^= 1
	if _, err := f.cat.PutWALPiece(ctx, name, 0, other, pieceOpts, fxSystem, fxSegSize); !errors.Is(err, catalog.ErrPieceConflict) {
		t.Fatalf("other bytes for the same range: %v, want ErrPieceConflict", err)
	}
	ps, err := f.cat.WALPieces(ctx, name)
	if err != nil || len(ps) != 1 || ps[0] != p {
		t.Fatalf("pieces %+v, %v", ps, err)
	}
	got, end, err := readStreamed(t, f.cat, name)
	if err != nil || end != 8192 || !bytes.Equal(got, zeroPadded(raw, 8192)) {
		t.Fatalf("read back: end %d, %v", end, err)
	}
}

func TestPutWALPieceRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		segment string
		start   uint32
		n       int
	}{
		{"empty", fxSeg(1, 1), 0, 0},
		{"beyond the segment", fxSeg(1, 1), fxSegSize - 10, 11},
		{"partial name", fxSeg(1, 1) + ".partial", 0, 10},
		{"history name", "00000002.history", 0, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.cat.PutWALPiece(ctx, tt.segment, tt.start, make([]byte, tt.n), pieceOpts, fxSystem, fxSegSize); err == nil {
				t.Fatal("stored")
			}
		})
	}
}

func TestStreamedTailRuns(t *testing.T) {
	raw := segmentBytes(1, 5, fxSystem)
	type rng struct{ start, end uint32 }
	for _, tt := range []struct {
		name   string
		pieces []rng
		want   uint32
	}{
		{"one piece", []rng{{0, 100}}, 100},
		{"contiguous", []rng{{0, 100}, {100, 300}, {300, 301}}, 301},
		{"gap", []rng{{0, 100}, {200, 300}}, 100},
		{"overlap after a restart", []rng{{0, 100}, {100, 250}, {8, 400}, {400, 500}}, 500},
		{"contained piece", []rng{{0, 1000}, {100, 200}}, 1000},
		{"no piece at 0", []rng{{8192, 16384}}, 0},
		{"whole segment", []rng{{0, fxSegSize / 2}, {fxSegSize / 2, fxSegSize}}, fxSegSize},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			name := fxSeg(1, 5)
			var ps []catalog.WALPiece
			for _, r := range tt.pieces {
				ps = append(ps, f.putPiece(name, raw, r.start, r.end))
			}
			if got := catalog.TailEnd(ps); got != tt.want {
				t.Errorf("TailEnd = %d, want %d", got, tt.want)
			}
			seg, end, ok, err := f.cat.StreamedTail(ctx)
			if err != nil || !ok || seg != name || end != tt.want {
				t.Fatalf("StreamedTail = %s %d %v %v, want %s %d", seg, end, ok, err, name, tt.want)
			}
			got, end, err := readStreamed(t, f.cat, name)
			if tt.want == 0 {
				if !errors.Is(err, catalog.ErrNotExist) {
					t.Fatalf("open without a piece at 0: %v, want ErrNotExist", err)
				}
				return
			}
			if err != nil || end != tt.want || !bytes.Equal(got, zeroPadded(raw, tt.want)) {
				t.Fatalf("read back: end %d, %v", end, err)
			}
		})
	}
}

func TestOverlappingPiecesMustAgree(t *testing.T) {
	f := newFixture(t)
	name := fxSeg(1, 6)
	raw := segmentBytes(1, 6, fxSystem)
	f.putPiece(name, raw, 0, 300)
	bad := bytes.Clone(raw)
	bad[250] ^= 0xFF
	f.putPiece(name, bad, 200, 500)
	if _, _, err := readStreamed(t, f.cat, name); !errors.Is(err, catalog.ErrPiecesDisagree) {
		t.Fatalf("disagreeing overlap: %v, want ErrPiecesDisagree", err)
	}
}

func TestStreamedPieceCheckedAgainstRecord(t *testing.T) {
	f := newFixture(t)
	name := fxSeg(1, 7)
	raw := segmentBytes(1, 7, fxSystem)
	p := f.putPiece(name, raw, 0, 4096)
	// Another piece's bytes under this piece's key: the header names the
	// other range, and the record catches it.
	other := catalog.WALPiece{Segment: name, Start: 4096, End: 8192}
	q := f.putPiece(name, raw, other.Start, other.End)
	body, err := os.ReadFile(filepath.Join(f.dir, f.cat.PieceObjectKey(q)))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(f.dir, f.cat.PieceObjectKey(p))
	if err := os.WriteFile(key, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readStreamed(t, f.cat, name); !errors.Is(err, catalog.ErrRecordMismatch) {
		t.Fatalf("swapped object: %v, want ErrRecordMismatch", err)
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readStreamed(t, f.cat, name); !errors.Is(err, catalog.ErrMissingObject) {
		t.Fatalf("lost object: %v, want ErrMissingObject", err)
	}
}

func TestStreamedTailSkipsFullSegments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, ok, err := f.cat.StreamedTail(ctx); ok || err != nil {
		t.Fatalf("empty store: ok %v, %v", ok, err)
	}
	f.segments(1, 1, 2)
	f.putPiece(fxSeg(1, 2), segmentBytes(1, 2, fxSystem), 0, 100)
	if _, _, ok, err := f.cat.StreamedTail(ctx); ok || err != nil {
		t.Fatalf("pieces of a stored segment only: ok %v, %v", ok, err)
	}
	f.putPiece(fxSeg(1, 3), segmentBytes(1, 3, fxSystem), 0, 200)
	f.putPiece(fxSeg(2, 3), segmentBytes(2, 3, fxSystem), 0, 300)
	seg, end, ok, err := f.cat.StreamedTail(ctx)
	if err != nil || !ok || seg != fxSeg(2, 3) || end != 300 {
		t.Fatalf("StreamedTail = %s %d %v %v, want the newer timeline", seg, end, ok, err)
	}
	// The full segment wins over its pieces, which then go.
	f.segments(2, 3, 3)
	seg, end, ok, err = f.cat.StreamedTail(ctx)
	if err != nil || !ok || seg != fxSeg(1, 3) || end != 200 {
		t.Fatalf("StreamedTail = %s %d %v %v", seg, end, ok, err)
	}
	n, err := f.cat.DropStreamedPieces(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DropStreamedPieces = %d, %v; want 2", n, err)
	}
	ps, err := f.cat.ListWALPieces(ctx)
	if err != nil || len(ps) != 1 || ps[0].Segment != fxSeg(1, 3) {
		t.Fatalf("left %+v, %v", ps, err)
	}
	left, err := os.ReadDir(filepath.Join(f.dir, "src", "wal-stream"))
	if err != nil || len(left) != 1 || left[0].Name() != fxSeg(1, 3) {
		t.Fatalf("objects left: %v, %v", left, err)
	}
}

func TestEncryptedPieces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	content, rcp, err := crypt.Generate()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(idFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := crypt.ParseRecipients([]string{rcp}, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := crypt.LoadIdentities(idFile)
	if err != nil {
		t.Fatal(err)
	}
	name := fxSeg(1, 8)
	raw := segmentBytes(1, 8, fxSystem)
	if _, err := f.cat.PutWALPiece(ctx, name, 0, raw[:5000], object.EncodeOptions{Compression: object.Zstd, Encrypt: rs}, fxSystem, fxSegSize); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readStreamed(t, f.cat, name); !errors.Is(err, object.ErrEncrypted) {
		t.Fatalf("without identities: %v, want ErrEncrypted", err)
	}
	f.cat.SetDecrypter(ids)
	got, end, err := readStreamed(t, f.cat, name)
	if err != nil || end != 5000 || !bytes.Equal(got, zeroPadded(raw, 5000)) {
		t.Fatalf("with identities: end %d, %v", end, err)
	}
}

// catalog rebuild records a piece whose record was lost (a receiver
// stopped between object and record), and leaves a foreign object alone.
func TestRebuildPieceRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := fxSeg(1, 9)
	raw := segmentBytes(1, 9, fxSystem)
	p := f.putPiece(name, raw, 0, 4096)
	q := f.putPiece(name, raw, 4096, 9000)
	for _, pc := range []catalog.WALPiece{p, q} {
		if err := f.st.Delete(ctx, f.cat.PieceRecordKey(pc)); err != nil {
			t.Fatal(err)
		}
	}
	// Another piece's object under a third range's key.
	body, err := os.ReadFile(filepath.Join(f.dir, f.cat.PieceObjectKey(q)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "src", "wal-stream", name, "00002328-00003000"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := f.cat.Rebuild(ctx)
	if err != nil || res.Pieces != 2 {
		t.Fatalf("rebuild: %+v, %v; want 2 pieces", res, err)
	}
	ps, err := f.cat.WALPieces(ctx, name)
	if err != nil || len(ps) != 2 || ps[0] != p || ps[1] != q {
		t.Fatalf("pieces %+v, %v; want %+v and %+v", ps, err, p, q)
	}
	if res, err := f.cat.Rebuild(ctx); err != nil || res.Pieces != 0 {
		t.Fatalf("second rebuild: %+v, %v", res, err)
	}
}

func TestDropWALPiecesOfOneSegment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.putPiece(fxSeg(1, 2), segmentBytes(1, 2, fxSystem), 0, 100)
	f.putPiece(fxSeg(1, 2), segmentBytes(1, 2, fxSystem), 100, 200)
	if n, err := f.cat.DropWALPieces(ctx, fxSeg(1, 2)); n != 0 || err != nil {
		t.Fatalf("segment not recorded in full: dropped %d, %v", n, err)
	}
	f.segments(1, 2, 2)
	if n, err := f.cat.DropWALPieces(ctx, fxSeg(1, 2)); n != 2 || err != nil {
		t.Fatalf("segment recorded in full: dropped %d, %v", n, err)
	}
	if ps, err := f.cat.ListWALPieces(ctx); len(ps) != 0 || err != nil {
		t.Fatalf("left %+v, %v", ps, err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "src", "wal-stream")); !os.IsNotExist(err) {
		t.Fatalf("wal-stream folder left: %v", err)
	}
}

package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// StreamedTail answers, for the newest segment (highest timeline, then
// segment number) that has pieces and no full segment record, the segment
// name and the end of its run of pieces contiguous from offset 0 (0 when no
// piece starts there). ok is false when every segment with pieces is also
// stored in full, or none has pieces. It reads records only: the bytes are
// checked when the tail is opened (OpenStreamedSegment) or verified.
func (c *Catalog) StreamedTail(ctx context.Context) (segment string, end uint32, ok bool, err error) {
	ps, err := c.ListWALPieces(ctx)
	if err != nil {
		return "", 0, false, err
	}
	for i := len(ps) - 1; i >= 0; {
		seg := ps[i].Segment
		j := i
		for j >= 0 && ps[j].Segment == seg {
			j--
		}
		full, err := c.hasFullRecord(ctx, seg)
		if err != nil {
			return "", 0, false, err
		}
		if !full {
			_, end := contiguousRun(ps[j+1 : i+1])
			return seg, end, true, nil
		}
		i = j
	}
	return "", 0, false, nil
}

// hasFullRecord reports whether the catalog records segment as a whole
// WAL file.
func (c *Catalog) hasFullRecord(ctx context.Context, segment string) (bool, error) {
	_, err := c.LookupWAL(ctx, segment)
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// readPiece reads one piece's bytes, checked against its record (kind,
// name, size, checksum, stored size, system) as they are read.
func (c *Catalog) readPiece(ctx context.Context, p WALPiece) ([]byte, error) {
	key := c.pieceObjectKey(p)
	o, err := c.openChecked(ctx, key, expect{kind: object.KindWALPiece, name: p.Name(),
		rawSize: int64(p.End - p.Start), sha256: p.SHA256, storedSize: p.StoredSize, systemID: p.SystemID})
	if errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: it is recorded in the catalog but %s is not in the store; the store is damaged", p.Name(), ErrMissingObject, key)
	}
	if err != nil {
		return nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// assemblePieces reads the pieces of run (sorted, contiguous from offset
// 0) into buf, checking that where two overlap they hold the same bytes.
func (c *Catalog) assemblePieces(ctx context.Context, run []WALPiece, buf []byte) error {
	var filled uint32
	for _, p := range run {
		if int64(p.End) > int64(len(buf)) {
			return fmt.Errorf("%s: %w: the piece ends beyond the %d-byte segment", p.Name(), ErrRecordMismatch, len(buf))
		}
		b, err := c.readPiece(ctx, p)
		if err != nil {
			return err
		}
		if overlap := min(p.End, filled); overlap > p.Start {
			if !bytes.Equal(buf[p.Start:overlap], b[:overlap-p.Start]) {
				return fmt.Errorf("%w: %s and the pieces before it hold different bytes in [%08X, %08X)", ErrPiecesDisagree, p.Name(), p.Start, overlap)
			}
		}
		if p.End > filled {
			copy(buf[filled:p.End], b[filled-p.Start:])
			filled = p.End
		}
	}
	return nil
}

// OpenStreamedSegment reads the run of pieces of segment contiguous from
// offset 0, each checked against its record and overlapping ones against
// each other, and returns it zero-padded to segmentSize with the end of the
// run: what wal-fetch hands PostgreSQL when only pieces are stored.
// PostgreSQL reads the zeros as the end of WAL. When no piece starts at
// offset 0 the error wraps ErrNotExist, as for a segment not stored at all.
// The catalog's decrypter (SetDecrypter) opens encrypted pieces.
func (c *Catalog) OpenStreamedSegment(ctx context.Context, segment string, segmentSize uint32) (io.ReadCloser, uint32, error) {
	ps, err := c.WALPieces(ctx, segment)
	if err != nil {
		return nil, 0, fmt.Errorf("list the pieces of %s: %w", segment, err)
	}
	run, end := contiguousRun(ps)
	if end == 0 {
		return nil, 0, fmt.Errorf("no streamed piece of %s from its first byte: %w", segment, store.ErrNotExist)
	}
	buf := make([]byte, segmentSize)
	if err := c.assemblePieces(ctx, run, buf); err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(buf)), end, nil
}

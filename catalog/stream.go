package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// Streamed WAL: `logship receive` stores the open segment as it arrives, in
// create-only pieces (byte ranges), so that a primary lost mid-segment
// loses no more than what the receiver had not stored yet. A piece is an
// object under wal-stream/<segment>/<start>-<end> and a record under
// catalog/wal-stream/ that, like a WAL record, holds every fact in its key.
// The full segment, once stored under wal/, always wins over its pieces.
// See docs/FORMAT.md, "Streamed WAL".

// ErrPieceConflict means another piece with other bytes is already stored
// for the same byte range of a segment; the stored one is kept.
var ErrPieceConflict = errors.New("a different piece is already stored for this byte range")

// ErrPiecesDisagree means two stored pieces of a segment overlap and hold
// different bytes where they do: at least one is not what PostgreSQL wrote.
var ErrPiecesDisagree = errors.New("overlapping pieces of a streamed segment disagree")

// WALPiece is one stored byte range [Start, End) of a WAL segment streamed
// by receive.
type WALPiece struct {
	Segment    string `json:"segment"` // 24-hex-digit segment name
	Start      uint32 `json:"start"`
	End        uint32 `json:"end"`
	SHA256     string `json:"sha256"` // of the raw bytes, lowercase hex
	StoredSize int64  `json:"stored_size"`
	SystemID   uint64 `json:"system_id,string"`
}

// Name is the name a piece's object header carries:
// <segment>@<start>-<end>, offsets as 8 upper-case hex digits.
func (p WALPiece) Name() string { return pieceName(p.Segment, p.Start, p.End) }

func pieceName(segment string, start, end uint32) string {
	return fmt.Sprintf("%s@%08X-%08X", segment, start, end)
}

func (c *Catalog) pieceRecordPrefix() string { return c.key("catalog/wal-stream/") }

// pieceObjectPrefix is the folder of segment's piece objects; a segment
// of "" gives the folder of all of them.
func (c *Catalog) pieceObjectPrefix(segment string) string {
	if segment == "" {
		return c.key("wal-stream/")
	}
	return c.key("wal-stream/" + segment + "/")
}

func (c *Catalog) pieceObjectKey(p WALPiece) string {
	return c.pieceObjectPrefix(p.Segment) + fmt.Sprintf("%08X-%08X", p.Start, p.End)
}

func (c *Catalog) pieceRecordKey(p WALPiece) string {
	return c.pieceRecordPrefix() + formatPieceRecord(p)
}

func formatPieceRecord(p WALPiece) string {
	return strings.Join([]string{
		p.Segment, fmt.Sprintf("%08X", p.Start), fmt.Sprintf("%08X", p.End), p.SHA256,
		strconv.FormatInt(p.StoredSize, 10), strconv.FormatUint(p.SystemID, 10),
	}, recordSep)
}

// parsePieceRecordKey accepts only the exact spelling formatPieceRecord
// writes, for the reason parseWALRecordKey gives: purge deletes the key it
// computes from the record.
func parsePieceRecordKey(key, prefix string) (WALPiece, error) {
	rel := strings.TrimPrefix(key, prefix)
	f := strings.Split(rel, recordSep)
	bad := fmt.Errorf("malformed WAL piece record key %q", key)
	if len(f) != 6 || !validSegmentName(f[0]) || len(f[1]) != 8 || len(f[2]) != 8 {
		return WALPiece{}, bad
	}
	start, err1 := strconv.ParseUint(f[1], 16, 32)
	end, err2 := strconv.ParseUint(f[2], 16, 32)
	sum, err3 := hex.DecodeString(f[3])
	stored, err4 := strconv.ParseInt(f[4], 10, 64)
	sysid, err5 := strconv.ParseUint(f[5], 10, 64)
	p := WALPiece{Segment: f[0], Start: uint32(start), End: uint32(end), SHA256: f[3], StoredSize: stored, SystemID: sysid}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || len(sum) != sha256.Size ||
		start >= end || stored <= 0 || formatPieceRecord(p) != rel {
		return WALPiece{}, bad
	}
	return p, nil
}

// validSegmentName: 24 upper-case hex digits with a timeline other than 0
// (whatever the segment size, which the record does not carry).
func validSegmentName(s string) bool {
	if len(s) != 24 || s[:8] == "00000000" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'A' <= s[i] && s[i] <= 'F') {
			return false
		}
	}
	return true
}

// PutWALPiece stores raw as the piece [start, start+len(raw)) of segment,
// create-only, object then record, encoded with opts (which carry the
// source's recipients when it is encrypted). An identical piece already
// stored is success (a retry after a crash); another one under the same
// range is ErrPieceConflict. The caller checks that the source belongs to
// systemID and may store clear objects, as wal-push does.
func (c *Catalog) PutWALPiece(ctx context.Context, segment string, start uint32, raw []byte, opts object.EncodeOptions, systemID uint64, segmentSize uint32) (WALPiece, error) {
	wf, err := pg.ParseWALFileName(segment, uint64(segmentSize))
	if err != nil {
		return WALPiece{}, fmt.Errorf("store WAL piece: %w", err)
	}
	if wf.Kind != pg.Segment {
		return WALPiece{}, fmt.Errorf("store WAL piece: %s is not a segment name", segment)
	}
	if len(raw) == 0 || uint64(start)+uint64(len(raw)) > uint64(segmentSize) {
		return WALPiece{}, fmt.Errorf("store WAL piece of %s: %d bytes at offset %d do not fit a %d-byte segment", segment, len(raw), start, segmentSize)
	}
	p := WALPiece{Segment: segment, Start: start, End: start + uint32(len(raw)), SystemID: systemID}
	meta := map[string]string{
		"timeline":      strconv.FormatUint(uint64(wf.Timeline), 10),
		MetaSystemID:    strconv.FormatUint(systemID, 10),
		MetaSegmentSize: strconv.FormatUint(uint64(segmentSize), 10),
	}
	enc, err := object.EncodeBytes(raw, object.KindWALPiece, p.Name(), meta, opts)
	if err != nil {
		return WALPiece{}, fmt.Errorf("compress %s: %w", p.Name(), err)
	}
	p.SHA256, p.StoredSize = enc.Header.ChecksumHex(), enc.Size()
	key := c.pieceObjectKey(p)
	err = c.st.Put(ctx, key, enc.Reader(), enc.Size())
	if errors.Is(err, store.ErrExist) {
		h, herr := c.readHeader(ctx, key)
		if herr != nil {
			return p, fmt.Errorf("%s is already stored and could not be compared: %w", p.Name(), herr)
		}
		if h.RawSHA256 != enc.Header.RawSHA256 || h.RawSize != enc.Header.RawSize {
			return p, fmt.Errorf("%w: %s is stored with sha256 %s; this piece has sha256 %s; the stored piece was kept",
				ErrPieceConflict, p.Name(), h.ChecksumHex(), p.SHA256)
		}
		p.StoredSize = h.ObjectSize() // the record describes what is stored
	} else if err != nil {
		return p, fmt.Errorf("store %s: %w", p.Name(), err)
	}
	err = c.st.Put(ctx, c.pieceRecordKey(p), bytes.NewReader(nil), 0)
	if err != nil && !errors.Is(err, store.ErrExist) {
		return p, fmt.Errorf("record %s: %w", p.Name(), err)
	}
	return p, nil
}

// listPieces calls fn for every piece record whose key starts with the
// record prefix plus sub, in key order. Keys that are not records are
// skipped and remembered for StrayKeys, as ListWAL does.
func (c *Catalog) listPieces(ctx context.Context, sub string, fn func(WALPiece) error) error {
	prefix := c.pieceRecordPrefix()
	return c.st.List(ctx, prefix+sub, func(oi store.ObjectInfo) error {
		p, err := parsePieceRecordKey(oi.Key, prefix)
		if err != nil {
			c.stray.add(oi.Key)
			return nil
		}
		return fn(p)
	})
}

// ListWALPieces lists every piece record of the source, sorted by segment,
// then Start, then End.
func (c *Catalog) ListWALPieces(ctx context.Context) ([]WALPiece, error) {
	var ps []WALPiece
	err := c.listPieces(ctx, "", func(p WALPiece) error { ps = append(ps, p); return nil })
	if err != nil {
		return nil, err
	}
	sortPieces(ps)
	return ps, nil
}

// WALPieces lists the piece records of one segment, sorted by Start then
// End.
func (c *Catalog) WALPieces(ctx context.Context, segment string) ([]WALPiece, error) {
	var ps []WALPiece
	err := c.listPieces(ctx, segment+recordSep, func(p WALPiece) error { ps = append(ps, p); return nil })
	if err != nil {
		return nil, err
	}
	sortPieces(ps)
	return ps, nil
}

func sortPieces(ps []WALPiece) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Segment != b.Segment {
			return a.Segment < b.Segment
		}
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.SHA256 < b.SHA256
	})
}

// contiguousRun returns the pieces (of one segment, sorted) that make up
// the run contiguous from offset 0, and where it ends. Overlaps are
// allowed (a receiver that restarts sends some bytes again); a gap ends the
// run.
func contiguousRun(ps []WALPiece) ([]WALPiece, uint32) {
	var end uint32
	var run []WALPiece
	for _, p := range ps {
		if p.Start > end {
			break
		}
		run = append(run, p)
		end = max(end, p.End)
	}
	return run, end
}

// TailEnd is the end of the run of pieces contiguous from offset 0 (0 when
// no piece starts there); ps are the pieces of one segment, in any order.
func TailEnd(ps []WALPiece) uint32 {
	s := append([]WALPiece(nil), ps...)
	sortPieces(s)
	_, end := contiguousRun(s)
	return end
}

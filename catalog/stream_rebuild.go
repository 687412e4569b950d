package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// rebuildPieces adds a record for every streamed piece object that has
// none, from its header: a receiver stopped between object and record, or
// records lost. An object whose header does not name the piece of its key,
// or whose size differs from what the header makes it, is left alone
// (verify reports it). It returns how many records it added.
func (c *Catalog) rebuildPieces(ctx context.Context) (int, error) {
	ps, err := c.ListWALPieces(ctx)
	if err != nil {
		return 0, err
	}
	have := map[string]bool{}
	for _, p := range ps {
		have[c.pieceObjectKey(p)] = true
	}
	var todo []store.ObjectInfo
	err = c.st.List(ctx, c.pieceObjectPrefix(""), func(oi store.ObjectInfo) error {
		if !have[oi.Key] {
			todo = append(todo, oi)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list WAL piece objects: %w", err)
	}
	added := 0
	for _, oi := range todo {
		h, err := c.readHeader(ctx, oi.Key)
		if err != nil {
			continue // damaged or gone: not something to record
		}
		p, ok := pieceFromHeader(h)
		if !ok || c.pieceObjectKey(p) != oi.Key || h.ObjectSize() != oi.Size {
			continue
		}
		p.StoredSize = oi.Size
		if err := c.st.Put(ctx, c.pieceRecordKey(p), strings.NewReader(""), 0); err != nil && !errors.Is(err, store.ErrExist) {
			return added, fmt.Errorf("record %s: %w", p.Name(), err)
		}
		added++
	}
	return added, nil
}

// pieceFromHeader reads a piece's facts from its object header.
func pieceFromHeader(h object.Header) (WALPiece, bool) {
	seg, rng, ok := strings.Cut(h.Name, "@")
	if h.Kind != object.KindWALPiece || !ok || !validSegmentName(seg) || len(rng) != 17 || rng[8] != '-' {
		return WALPiece{}, false
	}
	start, err1 := strconv.ParseUint(rng[:8], 16, 32)
	end, err2 := strconv.ParseUint(rng[9:], 16, 32)
	sysid, err3 := strconv.ParseUint(h.Meta[MetaSystemID], 10, 64)
	p := WALPiece{Segment: seg, Start: uint32(start), End: uint32(end), SHA256: h.ChecksumHex(), SystemID: sysid}
	if err1 != nil || err2 != nil || err3 != nil || start >= end || h.RawSize != int64(end-start) || p.Name() != h.Name {
		return WALPiece{}, false
	}
	return p, true
}

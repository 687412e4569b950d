package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
)

// A segment that `logship receive` was streaming when the primary died is
// stored only as pieces (catalog.OpenStreamedSegment). wal-fetch serves
// their verified contiguous tail, zero-padded, under the segment's own
// name: PostgreSQL never asks for a .partial, and reads the zeros as the
// end of WAL, so a restore without target replays up to the last byte the
// receiver stored. The full segment, when stored, always wins.

// fetchStreamed writes the streamed tail of name to dest, or answers as
// FetchWAL does for a file that is not in the archive.
func fetchStreamed(ctx context.Context, cat *catalog.Catalog, name, dest string) (object.Header, error) {
	rc, segSize, err := openStreamed(ctx, cat, name)
	if errors.Is(err, catalog.ErrNotExist) {
		return object.Header{}, confirmAbsent(ctx, cat, name)
	}
	if err != nil {
		return object.Header{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	defer rc.Close()
	guard := func(tmp string) error { return guardTablespaces(ctx, cat, name, tmp, dest) }
	if err := writeVerified(dest, rc, guard); err != nil {
		return object.Header{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	return object.Header{Kind: object.KindWALPiece, Name: name, RawSize: int64(segSize)}, nil
}

// openStreamed opens the zero-padded streamed tail of the segment name.
// The error wraps catalog.ErrNotExist when name is no segment, the source
// record is missing (confirmAbsent then says why), or no piece starts at
// the segment's first byte.
func openStreamed(ctx context.Context, cat *catalog.Catalog, name string) (io.ReadCloser, uint32, error) {
	if len(name) != 24 {
		return nil, 0, fmt.Errorf("%s: %w", name, catalog.ErrNotExist)
	}
	src, err := cat.Source(ctx)
	if errors.Is(err, catalog.ErrNoSource) {
		return nil, 0, fmt.Errorf("%s: %w", name, catalog.ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	if !pg.ValidSegmentSize(src.SegmentSize) {
		return nil, 0, fmt.Errorf("the source record gives segment size %d", src.SegmentSize)
	}
	if _, err := pg.ParseWALFileName(name, src.SegmentSize); err != nil {
		return nil, 0, err
	}
	rc, _, err := cat.OpenStreamedSegment(ctx, name, uint32(src.SegmentSize))
	return rc, uint32(src.SegmentSize), err
}

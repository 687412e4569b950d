package incremental

import (
	"errors"
	"fmt"
	"io"
)

// File is the file being rebuilt; *os.File is one.
type File interface {
	io.WriterAt
	Truncate(size int64) error
}

// Apply rebuilds a file from one more incremental version. dst holds what
// the older backups of the chain made of the file (a full version, then
// every older incremental applied); r is the incremental file's content
// (the INCREMENTAL.<name> tar member), read once, front to back.
//
// Applied oldest first, the result is byte for byte pg_combinebackup's,
// whose rule is: a block comes from the newest backup that has it, but an
// older backup supplies only blocks below the NEWEST version's truncation
// length; anything else up to the rebuilt length is zeros. So every
// incremental but the newest only writes its blocks (dst keeps its length,
// however its own truncation length reads), and the newest (newest true)
// then cuts dst at Header.Length, zeroing the blocks from its truncation
// length on that it does not hold itself.
//
// A file whose newer version is a full file is simply replaced by it; a
// file that a backup of the chain lacks altogether is deleted, so an
// incremental version of it in a later backup finds no dst, which is an
// error, as in pg_combinebackup.
func Apply(dst File, r io.Reader, newest bool) (Header, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return h, err
	}
	buf := make([]byte, BlockSize)
	for i, b := range h.Blocks {
		if _, err := io.ReadFull(r, buf); err != nil {
			return h, fmt.Errorf("%w: block %d of %d: %w", ErrBadIncremental, i+1, len(h.Blocks), noEOF(err))
		}
		if _, err := dst.WriteAt(buf, int64(b)*BlockSize); err != nil {
			return h, fmt.Errorf("write block %d: %w", b, err)
		}
	}
	var extra [1]byte
	if n, err := r.Read(extra[:]); n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
		if err == nil {
			err = fmt.Errorf("%w: data after the last block (want %d bytes)", ErrBadIncremental, h.FileSize())
		}
		return h, err
	}
	if !newest {
		return h, nil
	}
	return h, finish(dst, h)
}

// finish zeroes the blocks between the truncation length and the rebuilt
// length that the newest version does not hold (an older backup's data
// there is stale) and cuts the file at the rebuilt length. Blocks below the
// truncation length that no version held read as zeros: either a hole of dst
// or the part that Truncate adds.
func finish(dst File, h Header) error {
	length := h.Length()
	if length > h.TruncationBlocks {
		held := make(map[uint32]bool, len(h.Blocks))
		for _, b := range h.Blocks {
			held[b] = true
		}
		zero := make([]byte, BlockSize)
		for b := h.TruncationBlocks; b < length; b++ {
			if held[b] {
				continue
			}
			if _, err := dst.WriteAt(zero, int64(b)*BlockSize); err != nil {
				return fmt.Errorf("zero block %d: %w", b, err)
			}
		}
	}
	if err := dst.Truncate(int64(length) * BlockSize); err != nil {
		return fmt.Errorf("cut at %d blocks: %w", length, err)
	}
	return nil
}

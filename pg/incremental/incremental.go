// Package incremental reads the incremental files of a PostgreSQL 17+
// incremental base backup and rebuilds full files from them, as
// pg_combinebackup does, but streaming: a restore applies each backup's tar
// archive in order, oldest first, onto the data directory the previous ones
// produced, holding one block and one file's block list in memory.
//
// An incremental backup sends a relation file whose blocks mostly did not
// change as INCREMENTAL.<name> beside where <name> would be
// (basebackup_incremental.c, basebackup.c sendFile). Its layout, in the
// server's byte order (logship reads little-endian, as for WAL):
//
//	uint32 magic                    0xd3ae1f0d
//	uint32 num_blocks               blocks stored in the file
//	uint32 truncation_block_length  the file's length in blocks, as far as
//	                                older backups may supply blocks
//	uint32 block numbers[num_blocks]
//	zero padding to a multiple of BLCKSZ, only if num_blocks > 0
//	num_blocks blocks of BLCKSZ bytes, in the order of the block numbers
//
// The padding aligns the blocks for copy_file_range. This is the layout of
// PostgreSQL 18.6's basebackup.c and reconstruct.c, checked against its
// pg_combinebackup; 17's files were not checked here.
package incremental

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

const (
	// Magic starts every incremental file (INCREMENTAL_MAGIC).
	Magic = 0xd3ae1f0d
	// BlockSize is BLCKSZ. PostgreSQL can be built with another block size;
	// logship supports the default only, as do the packaged builds.
	BlockSize = 8192
	// RelSegBlocks is RELSEG_SIZE, the most blocks a relation segment file
	// (and so an incremental file) may have: 1 GiB of 8 kB blocks.
	RelSegBlocks = 131072
	// Prefix marks an incremental file's name.
	Prefix = "INCREMENTAL."
)

// ErrBadIncremental marks bytes that are not a valid incremental file.
var ErrBadIncremental = errors.New("invalid incremental file")

// Header is the start of an incremental file.
type Header struct {
	// Blocks are the numbers of the blocks the file holds, in file order.
	Blocks []uint32
	// TruncationBlocks is truncation_block_length: blocks from this one on
	// come only from this file, never from an older backup.
	TruncationBlocks uint32
}

// Size is the length of the header in the file, padding included: where
// the first block starts.
func (h Header) Size() int64 {
	n := int64(12 + 4*len(h.Blocks))
	if len(h.Blocks) > 0 && n%BlockSize != 0 {
		n += BlockSize - n%BlockSize
	}
	return n
}

// FileSize is the length the whole incremental file must have.
func (h Header) FileSize() int64 {
	return h.Size() + int64(len(h.Blocks))*BlockSize
}

// Length is the length in blocks of the file rebuilt with this header as
// the newest version: the truncation length, or further if the file holds
// blocks beyond it (reconstruct.c: find_reconstructed_block_length).
func (h Header) Length() uint32 {
	n := h.TruncationBlocks
	for _, b := range h.Blocks {
		if b >= n {
			n = b + 1
		}
	}
	return n
}

// ReadHeader reads an incremental file's header from r and leaves r at the
// first block, the padding consumed.
func ReadHeader(r io.Reader) (Header, error) {
	var fixed [12]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrBadIncremental, noEOF(err))
	}
	le := binary.LittleEndian
	if m := le.Uint32(fixed[0:]); m != Magic {
		return Header{}, fmt.Errorf("%w: magic %#x, want %#x", ErrBadIncremental, m, uint32(Magic))
	}
	n, trunc := le.Uint32(fixed[4:]), le.Uint32(fixed[8:])
	if n > RelSegBlocks {
		return Header{}, fmt.Errorf("%w: %d blocks, more than a segment's %d", ErrBadIncremental, n, RelSegBlocks)
	}
	if trunc > RelSegBlocks {
		return Header{}, fmt.Errorf("%w: truncation length %d blocks, more than a segment's %d", ErrBadIncremental, trunc, RelSegBlocks)
	}
	h := Header{TruncationBlocks: trunc}
	if n > 0 {
		raw := make([]byte, 4*n)
		if _, err := io.ReadFull(r, raw); err != nil {
			return Header{}, fmt.Errorf("%w: block numbers: %w", ErrBadIncremental, noEOF(err))
		}
		h.Blocks = make([]uint32, n)
		for i := range h.Blocks {
			if h.Blocks[i] = le.Uint32(raw[4*i:]); h.Blocks[i] >= RelSegBlocks {
				return Header{}, fmt.Errorf("%w: block number %d beyond a segment's %d blocks", ErrBadIncremental, h.Blocks[i], RelSegBlocks)
			}
		}
	}
	if pad := h.Size() - 12 - 4*int64(n); pad > 0 {
		if _, err := io.CopyN(io.Discard, r, pad); err != nil {
			return Header{}, fmt.Errorf("%w: padding: %w", ErrBadIncremental, noEOF(err))
		}
	}
	return h, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Target maps a path in a backup's archive to the path of the file it
// stands for: "base/5/INCREMENTAL.16384" is an incremental version of
// "base/5/16384". Like pg_combinebackup, only files directly in global, in
// a directory under base or pg_tblspc, or anywhere in a tablespace's own
// archive (inTablespace) are incremental, so that a user's file that
// happens to be named INCREMENTAL.x elsewhere is left as it is.
func Target(p string, inTablespace bool) (target string, ok bool) {
	dir, name := path.Split(p)
	bare, ok := strings.CutPrefix(name, Prefix)
	if !ok || bare == "" {
		return p, false
	}
	d := strings.TrimSuffix(dir, "/")
	if !inTablespace && d != "global" && !strings.HasPrefix(d, "base/") && !strings.HasPrefix(d, "pg_tblspc/") {
		return p, false
	}
	return dir + bare, true
}

package pg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SegmentHeaderSize is the size of the long page header that starts every
// WAL segment (SizeOfXLogLongPHD).
const SegmentHeaderSize = 40

// xlpLongHeader is XLP_LONG_HEADER in xlp_info: this page header is the long
// form, which only the first page of a segment has.
const xlpLongHeader = 0x0002

// ErrInvalidSegmentHeader marks bytes that are not the start of a WAL segment.
var ErrInvalidSegmentHeader = errors.New("invalid WAL segment header")

// SegmentHeader is the long page header at the start of every WAL segment
// (XLogLongPageHeaderData in xlog_internal.h). PostgreSQL writes it in the
// server's byte order; logship reads little-endian (x86-64, arm64) WAL:
//
//	offset size field
//	     0    2 xlp_magic      WAL format version (0xD110 for PostgreSQL 15)
//	     2    2 xlp_info       flags; XLP_LONG_HEADER (0x0002) must be set
//	     4    4 xlp_tli        timeline of the first record on the page
//	     8    8 xlp_pageaddr   LSN of the page's first byte
//	    16    4 xlp_rem_len    bytes of a record continued from the last segment
//	    20    4 (padding)
//	    24    8 xlp_sysid      system identifier of the cluster
//	    32    4 xlp_seg_size   WAL segment size
//	    36    4 xlp_xlog_blcksz WAL page size
type SegmentHeader struct {
	Magic       uint16
	Timeline    TimelineID
	PageAddr    LSN
	SystemID    uint64
	SegmentSize uint32
	BlockSize   uint32
}

// ParseSegmentHeader decodes the first SegmentHeaderSize bytes of a WAL
// segment and checks that they can be one.
func ParseSegmentHeader(b []byte) (SegmentHeader, error) {
	if len(b) < SegmentHeaderSize {
		return SegmentHeader{}, fmt.Errorf("%w: %d bytes, want at least %d", ErrInvalidSegmentHeader, len(b), SegmentHeaderSize)
	}
	le := binary.LittleEndian
	h := SegmentHeader{
		Magic:       le.Uint16(b[0:]),
		Timeline:    TimelineID(le.Uint32(b[4:])),
		PageAddr:    LSN(le.Uint64(b[8:])),
		SystemID:    le.Uint64(b[24:]),
		SegmentSize: le.Uint32(b[32:]),
		BlockSize:   le.Uint32(b[36:]),
	}
	info := le.Uint16(b[2:])
	switch {
	case h.Magic == 0:
		return h, fmt.Errorf("%w: magic is zero (an empty or preallocated file?)", ErrInvalidSegmentHeader)
	case info&xlpLongHeader == 0:
		return h, fmt.Errorf("%w: xlp_info %#04x lacks XLP_LONG_HEADER, so this is not the start of a segment", ErrInvalidSegmentHeader, info)
	case h.Timeline == 0:
		return h, fmt.Errorf("%w: timeline 0", ErrInvalidSegmentHeader)
	case !ValidSegmentSize(uint64(h.SegmentSize)):
		return h, fmt.Errorf("%w: segment size %d is not a power of two from 1 MiB to 1 GiB", ErrInvalidSegmentHeader, h.SegmentSize)
	case h.BlockSize < 1<<10 || h.BlockSize > 1<<16 || h.BlockSize&(h.BlockSize-1) != 0:
		return h, fmt.Errorf("%w: WAL block size %d is not a power of two from 1 kB to 64 kB", ErrInvalidSegmentHeader, h.BlockSize)
	case uint64(h.PageAddr)%uint64(h.SegmentSize) != 0:
		return h, fmt.Errorf("%w: page address %s is not at a segment boundary", ErrInvalidSegmentHeader, h.PageAddr)
	}
	return h, nil
}

// CheckName reports whether the header fits the file name f, parsed with
// h.SegmentSize: the page address must be the start of f's segment, and the
// header's timeline may not be newer than the name's. It may be older: at a
// timeline switch PostgreSQL starts the new timeline's first segment as a
// copy of the old one, headers included.
func (h SegmentHeader) CheckName(f WALFile) error {
	if f.Kind != Segment && f.Kind != Partial {
		return fmt.Errorf("%s is a %s file, not a segment", f.Name, f.Kind)
	}
	if want := SegmentStart(f.SegNo, uint64(h.SegmentSize)); h.PageAddr != want {
		return fmt.Errorf("%s: header page address %s, want %s for that name with %d-byte segments", f.Name, h.PageAddr, want, h.SegmentSize)
	}
	if h.Timeline > f.Timeline {
		return fmt.Errorf("%s: header timeline %d is newer than the name's %d", f.Name, h.Timeline, f.Timeline)
	}
	return nil
}

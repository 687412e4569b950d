package pg

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A WAL segment is a sequence of pages of xlp_xlog_blcksz bytes. Each page
// starts with a header (SegmentHeaderSize bytes on the first page of a
// segment, walShortPageHeader on the others):
//
//	offset size field
//	     0    2 xlp_magic
//	     2    2 xlp_info      XLP_FIRST_IS_CONTRECORD (0x0001): the page
//	                          starts with the rest of a record
//	     4    4 xlp_tli
//	     8    8 xlp_pageaddr  LSN of the page's first byte
//	    16    4 xlp_rem_len   bytes of that record still to come
//
// Records follow, each at an 8-byte boundary, and may continue across page
// and segment boundaries (the continuation follows the next page's header).
// A record (XLogRecord, xlogrecord.h) starts with 24 bytes:
//
//	 0    4 xl_tot_len    whole record, header included
//	 4    4 xl_xid
//	 8    8 xl_prev
//	16    1 xl_info       high 4 bits: the resource manager's record type
//	17    1 xl_rmid       resource manager
//	18    2 (padding)
//	20    4 xl_crc        CRC-32C of the bytes after the header, then of
//	                      the header's first 20 bytes
//
// then block headers (id 0..32), the origin (id 253, 2 bytes), the top-level
// xid (id 252, 4 bytes) and the main data header (id 255 with a 1-byte
// length, or 254 with a 4-byte one), then block data, then the main data.
// A tablespace record has no blocks; the main data of XLOG_TBLSPC_CREATE
// (xl_tblspc_create_rec, commands/tablespace.h) is the tablespace's OID
// (4 bytes) and its path, NUL-terminated. Little-endian WAL only, like
// ParseSegmentHeader.
const (
	walShortPageHeader   = 24 // SizeOfXLogShortPHD
	walRecordHeader      = 24 // SizeOfXLogRecord
	xlpFirstIsContRecord = 0x0001

	rmXLOG              = 0    // RM_XLOG_ID
	rmTablespace        = 5    // RM_TBLSPC_ID
	xlrRmgrInfoMask     = 0xF0 // XLR_RMGR_INFO_MASK
	xlogSwitch          = 0x40 // XLOG_SWITCH: the rest of the segment is unused
	xlogTblspcCreate    = 0x00 // XLOG_TBLSPC_CREATE
	xlrBlockIDShort     = 255  // XLR_BLOCK_ID_DATA_SHORT
	xlrBlockIDLong      = 254  // XLR_BLOCK_ID_DATA_LONG
	xlrBlockIDOrigin    = 253  // XLR_BLOCK_ID_ORIGIN
	xlrBlockIDTopXid    = 252  // XLR_BLOCK_ID_TOPLEVEL_XID
	maxTablespaceRecord = 8192 // a path is at most MAXPGPATH (1024) bytes
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TablespaceCreate is a CREATE TABLESPACE as the WAL records it: replaying
// it makes the server use the folder at Path.
type TablespaceCreate struct {
	LSN  LSN    // where the record starts
	OID  uint32 // the tablespace's OID
	Path string // as given to CREATE TABLESPACE; may be relative (in-place)
}

// ScanTablespaceCreates finds the tablespace-create records that start in
// the WAL segment seg. A record that starts in seg may end in the next
// segment; for one that may be a tablespace record, next is called (once)
// for the next segment's bytes, and its error is returned. Scanning stops
// at the end of the valid WAL: a zero length, a page that does not belong
// (a recycled segment's old content), a record switch, or a record whose
// CRC does not match.
func ScanTablespaceCreates(seg []byte, next func() ([]byte, error)) ([]TablespaceCreate, error) {
	h, err := ParseSegmentHeader(seg)
	if err != nil {
		return nil, err
	}
	if len(seg) != int(h.SegmentSize) {
		return nil, fmt.Errorf("%w: %d bytes, the header says %d", ErrInvalidSegmentHeader, len(seg), h.SegmentSize)
	}
	s := &walScan{data: seg, segSize: len(seg), blk: int(h.BlockSize), magic: h.Magic, base: h.PageAddr, next: next}
	var found []TablespaceCreate
	off, ok := s.pageStart(0)
	for ok && off < s.segSize {
		if off%s.blk == 0 {
			if off, ok = s.pageStart(off); !ok || off >= s.segSize {
				break
			}
		}
		// The first 8 bytes of a record never cross a page boundary.
		if off+8 > len(s.data) {
			break
		}
		totLen := int(binary.LittleEndian.Uint32(s.data[off:]))
		if totLen < walRecordHeader {
			break // zeros: the end of the WAL written so far
		}
		rec, end, st, err := s.read(off, walRecordHeader, make([]byte, 0, walRecordHeader), true)
		if err != nil {
			return found, err
		}
		if st != readOK {
			off, ok = s.after(st, end)
			continue
		}
		info, rmid := rec[16]&xlrRmgrInfoMask, rec[17]
		candidate := rmid == rmTablespace && info == xlogTblspcCreate && totLen <= maxTablespaceRecord
		var body []byte
		if candidate {
			body = rec
		}
		body, end, st, err = s.read(end, totLen-walRecordHeader, body, candidate)
		if err != nil {
			return found, err
		}
		if st != readOK {
			off, ok = s.after(st, end)
			continue
		}
		if candidate {
			tc, valid := parseTablespaceCreate(body)
			if !valid {
				break // a damaged record ends the valid WAL for the server too
			}
			tc.LSN = s.base + LSN(off)
			found = append(found, tc)
		}
		if rmid == rmXLOG && info == xlogSwitch {
			break
		}
		off = (end + 7) &^ 7
	}
	return found, nil
}

// parseTablespaceCreate decodes a whole XLOG_TBLSPC_CREATE record, checking
// its CRC; valid is false for a damaged record or one with block
// references, which a tablespace record never has.
func parseTablespaceCreate(rec []byte) (tc TablespaceCreate, valid bool) {
	le := binary.LittleEndian
	crc := crc32.Update(crc32.Checksum(rec[walRecordHeader:], castagnoli), castagnoli, rec[:20])
	if crc != le.Uint32(rec[20:]) {
		return tc, false
	}
	p, mainLen := walRecordHeader, -1
	for mainLen < 0 && p < len(rec) {
		switch rec[p] {
		case xlrBlockIDShort:
			if p+2 > len(rec) {
				return tc, false
			}
			mainLen, p = int(rec[p+1]), p+2
		case xlrBlockIDLong:
			if p+5 > len(rec) {
				return tc, false
			}
			mainLen, p = int(le.Uint32(rec[p+1:])), p+5
		case xlrBlockIDOrigin:
			p += 3
		case xlrBlockIDTopXid:
			p += 5
		default:
			return tc, false
		}
	}
	if mainLen < 5 || p+mainLen > len(rec) {
		return tc, false
	}
	main := rec[p : p+mainLen]
	path := main[4:]
	for i, c := range path {
		if c == 0 {
			path = path[:i]
			break
		}
	}
	return TablespaceCreate{OID: le.Uint32(main), Path: string(path)}, true
}

// walScan reads the logical WAL stream of a segment, and of the next one
// once it is loaded, skipping page headers. Offsets count from the start of
// the first segment.
type walScan struct {
	data    []byte
	segSize int
	blk     int
	magic   uint16
	base    LSN
	next    func() ([]byte, error)
	loaded  bool
}

type readStatus int

const (
	readOK     readStatus = iota
	readEnd               // the WAL ends here (or continues where we may not follow)
	readResume            // a valid page that does not continue the record: start over there
)

// after is where scanning goes on after a read that did not complete.
func (s *walScan) after(st readStatus, at int) (int, bool) {
	if st == readResume && at < s.segSize {
		return at, true
	}
	return at, false
}

func (s *walScan) headerSize(off int) int {
	if off%s.segSize == 0 {
		return SegmentHeaderSize
	}
	return walShortPageHeader
}

// page checks the header of the page at off (a page start) and returns its
// xlp_info and xlp_rem_len; ok is false for a page that is not the one the
// stream expects there.
func (s *walScan) page(off int) (info uint16, remLen uint32, ok bool) {
	if off+s.headerSize(off) > len(s.data) {
		return 0, 0, false
	}
	le := binary.LittleEndian
	b := s.data[off:]
	if le.Uint16(b) != s.magic || LSN(le.Uint64(b[8:])) != s.base+LSN(off) {
		return 0, 0, false
	}
	return le.Uint16(b[2:]), le.Uint32(b[16:]), true
}

// pageStart is where the first record starting on the page at off begins,
// past the header and the rest of a record begun earlier (which may cover
// whole pages). ok is false at the end of the valid WAL.
func (s *walScan) pageStart(off int) (int, bool) {
	for off < s.segSize {
		info, rem, ok := s.page(off)
		if !ok {
			return off, false
		}
		h := s.headerSize(off)
		if info&xlpFirstIsContRecord == 0 || rem == 0 {
			return off + h, true
		}
		if int64(rem) <= int64(s.blk-h) {
			return (off + h + int(rem) + 7) &^ 7, true
		}
		off += s.blk
	}
	return off, false
}

// read appends n bytes of the stream at off to dst (nil: skip them), and
// returns the offset after them. mayLoad allows loading the next segment.
func (s *walScan) read(off, n int, dst []byte, mayLoad bool) ([]byte, int, readStatus, error) {
	for n > 0 {
		if off%s.blk == 0 {
			if err := s.ensure(off+s.headerSize(off), mayLoad); err != nil {
				return dst, off, readEnd, err
			}
			info, _, ok := s.page(off)
			switch {
			case !ok:
				return dst, off, readEnd, nil
			case info&xlpFirstIsContRecord == 0:
				return dst, off, readResume, nil
			}
			off += s.headerSize(off)
		}
		take := min(n, s.blk-off%s.blk)
		if err := s.ensure(off+take, mayLoad); err != nil {
			return dst, off, readEnd, err
		}
		if off+take > len(s.data) {
			return dst, off, readEnd, nil
		}
		if dst != nil {
			dst = append(dst, s.data[off:off+take]...)
		}
		off, n = off+take, n-take
	}
	return dst, off, readOK, nil
}

// ensure loads the next segment when the stream must go past the first
// one and mayLoad allows it. Not loading is no error: read then stops.
func (s *walScan) ensure(upTo int, mayLoad bool) error {
	if upTo <= len(s.data) || !mayLoad || s.loaded || s.next == nil {
		return nil
	}
	s.loaded = true
	b, err := s.next()
	if err != nil {
		return err
	}
	if len(b) != s.segSize {
		return fmt.Errorf("%w: the next segment has %d bytes, want %d", ErrInvalidSegmentHeader, len(b), s.segSize)
	}
	s.data = append(s.data[:len(s.data):len(s.data)], b...)
	return nil
}

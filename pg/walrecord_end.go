package pg

import (
	"encoding/binary"
	"fmt"
)

// WholeRecordsEnd is where replay of the WAL segment seg ends when only its
// first limit bytes are there and zeros follow (a streamed tail): the end,
// MAXALIGNed as PostgreSQL's pg_last_wal_replay_lsn reports it, of the last
// record that lies wholly within those bytes, a record continued from the
// previous segment included. ok is false when no record ends there: replay
// then ends in an earlier segment. CRCs are not checked on purpose: the
// bytes came from the primary, so a record PostgreSQL refuses would end
// replay short of this answer, which the caller reports as a short replay.
func WholeRecordsEnd(seg []byte, limit int) (end LSN, ok bool, err error) {
	h, err := ParseSegmentHeader(seg)
	if err != nil {
		return 0, false, err
	}
	if len(seg) != int(h.SegmentSize) || limit < 0 || limit > len(seg) {
		return 0, false, fmt.Errorf("%w: %d bytes of %d, the header says %d", ErrInvalidSegmentHeader, limit, len(seg), h.SegmentSize)
	}
	s := &walScan{data: seg[:limit], segSize: len(seg), blk: int(h.BlockSize), magic: h.Magic, base: h.PageAddr}
	last := s.contEnd()
	off, more := s.pageStart(0)
	for more && off < s.segSize {
		if off%s.blk == 0 {
			if off, more = s.pageStart(off); !more || off >= s.segSize {
				break
			}
		}
		if off+walRecordHeader > len(s.data) {
			break
		}
		totLen := int(binary.LittleEndian.Uint32(s.data[off:]))
		if totLen < walRecordHeader {
			break // zeros: the end of the WAL stored
		}
		rec, recEnd, st, _ := s.read(off, walRecordHeader, make([]byte, 0, walRecordHeader), false)
		if st == readOK {
			_, recEnd, st, _ = s.read(recEnd, totLen-walRecordHeader, nil, false)
		}
		if st == readResume {
			off = recEnd
			continue
		}
		if st != readOK {
			break // torn: its rest was not stored
		}
		last = (recEnd + 7) &^ 7
		if rec[17] == rmXLOG && rec[16]&xlrRmgrInfoMask == xlogSwitch {
			last = s.segSize // replay goes on at the next segment
			break
		}
		off = last
	}
	if last < 0 {
		return 0, false, nil
	}
	return h.PageAddr + LSN(last), true, nil
}

// contEnd is the MAXALIGNed end of the record that the segment's first
// page continues from the previous segment, when its rest is wholly in
// s.data; -1 otherwise.
func (s *walScan) contEnd() int {
	for off := 0; off < s.segSize; off += s.blk {
		info, rem, ok := s.page(off)
		if !ok || info&xlpFirstIsContRecord == 0 || rem == 0 {
			return -1
		}
		h := s.headerSize(off)
		if int64(rem) <= int64(s.blk-h) {
			if end := off + h + int(rem); end <= len(s.data) {
				return (end + 7) &^ 7
			}
			return -1
		}
	}
	return -1
}

package pg_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/logship/logship/pg"
)

func segmentHeaderBytes(magic, info uint16, tli uint32, pageAddr, sysID uint64, segSize, blockSize uint32) []byte {
	b := make([]byte, pg.SegmentHeaderSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], magic)
	le.PutUint16(b[2:], info)
	le.PutUint32(b[4:], tli)
	le.PutUint64(b[8:], pageAddr)
	le.PutUint64(b[24:], sysID)
	le.PutUint32(b[32:], segSize)
	le.PutUint32(b[36:], blockSize)
	return b
}

// FuzzParseSegmentHeader checks that an accepted header has every property
// ParseSegmentHeader checks, that its fields come from the documented
// offsets, and that it fits the segment name its page address gives.
func FuzzParseSegmentHeader(f *testing.F) {
	f.Add(segmentHeaderBytes(0xD110, 2, 1, 0x3000000, 7312345678901234567, 16<<20, 8192))
	f.Add(segmentHeaderBytes(0xD110, 6, 3, 0x1_0000_0000, 1, 1<<20, 1024))
	f.Add(segmentHeaderBytes(0xD110, 2, 1, 0x3000000, 1, 3<<20, 8192))
	f.Add(segmentHeaderBytes(0xD110, 0, 1, 0x3000000, 1, 16<<20, 8192))
	f.Add(make([]byte, 39))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := pg.ParseSegmentHeader(b)
		if err != nil {
			if !errors.Is(err, pg.ErrInvalidSegmentHeader) {
				t.Fatalf("error %v is not ErrInvalidSegmentHeader", err)
			}
			return
		}
		if h.Magic == 0 || h.Timeline == 0 || !pg.ValidSegmentSize(uint64(h.SegmentSize)) ||
			h.BlockSize < 1<<10 || h.BlockSize > 1<<16 || h.BlockSize&(h.BlockSize-1) != 0 ||
			uint64(h.PageAddr)%uint64(h.SegmentSize) != 0 || binary.LittleEndian.Uint16(b[2:])&2 == 0 {
			t.Fatalf("accepted %+v", h)
		}
		again := segmentHeaderBytes(h.Magic, binary.LittleEndian.Uint16(b[2:]), uint32(h.Timeline), uint64(h.PageAddr), h.SystemID, h.SegmentSize, h.BlockSize)
		copy(again[16:24], b[16:24]) // xlp_rem_len and padding are not decoded
		if !bytes.Equal(again, b[:pg.SegmentHeaderSize]) {
			t.Fatalf("%x decoded to %+v, which encodes as %x", b[:pg.SegmentHeaderSize], h, again)
		}
		segSize := uint64(h.SegmentSize)
		name := pg.SegmentName(h.Timeline, pg.SegmentOf(h.PageAddr, segSize), segSize)
		wf, err := pg.ParseWALFileName(name, segSize)
		if err != nil {
			t.Fatalf("header %+v names segment %q, which does not parse: %v", h, name, err)
		}
		if err := h.CheckName(wf); err != nil {
			t.Fatalf("header %+v does not fit its own segment name: %v", h, err)
		}
	})
}

package pg_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

type headerFields struct {
	magic, info uint16
	tli         uint32
	pageAddr    uint64
	remLen      uint32
	sysID       uint64
	segSize     uint32
	blockSize   uint32
}

// goodHeader is the header of segment 000000010000000000000003 of a
// PostgreSQL 15 cluster with default settings.
var goodHeader = headerFields{
	magic: 0xD110, info: 0x0002 | 0x0004, tli: 1, pageAddr: 0x3000000, remLen: 0,
	sysID: 7312345678901234567, segSize: 16 << 20, blockSize: 8192,
}

func (h headerFields) bytes() []byte {
	b := make([]byte, pg.SegmentHeaderSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], h.magic)
	le.PutUint16(b[2:], h.info)
	le.PutUint32(b[4:], h.tli)
	le.PutUint64(b[8:], h.pageAddr)
	le.PutUint32(b[16:], h.remLen)
	le.PutUint64(b[24:], h.sysID)
	le.PutUint32(b[32:], h.segSize)
	le.PutUint32(b[36:], h.blockSize)
	return b
}

func TestParseSegmentHeader(t *testing.T) {
	got, err := pg.ParseSegmentHeader(goodHeader.bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := pg.SegmentHeader{Magic: 0xD110, Timeline: 1, PageAddr: 0x3000000, SystemID: 7312345678901234567, SegmentSize: 16 << 20, BlockSize: 8192}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// A whole page (or segment) is fine too: only the first 40 bytes count.
	if _, err := pg.ParseSegmentHeader(append(goodHeader.bytes(), make([]byte, 8152)...)); err != nil {
		t.Fatal(err)
	}
}

func TestParseSegmentHeaderInvalid(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		errHas string
	}{
		{"empty", nil, "0 bytes, want at least 40"},
		{"short", goodHeader.bytes()[:39], "39 bytes"},
		{"zeros", make([]byte, 40), "magic is zero"},
		{"short page header", with(func(h *headerFields) { h.info = 0x0001 }), "lacks XLP_LONG_HEADER"},
		{"timeline 0", with(func(h *headerFields) { h.tli = 0 }), "timeline 0"},
		{"segment size 0", with(func(h *headerFields) { h.segSize = 0 }), "segment size 0"},
		{"segment size 24 MiB", with(func(h *headerFields) { h.segSize = 24 << 20 }), "segment size 25165824"},
		{"segment size 2 GiB", with(func(h *headerFields) { h.segSize = 2 << 30 }), "segment size"},
		{"block size 0", with(func(h *headerFields) { h.blockSize = 0 }), "block size 0"},
		{"block size 128k", with(func(h *headerFields) { h.blockSize = 128 << 10 }), "block size"},
		{"block size 3000", with(func(h *headerFields) { h.blockSize = 3000 }), "block size"},
		{"mid-segment address", with(func(h *headerFields) { h.pageAddr = 0x3002000 }), "not at a segment boundary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pg.ParseSegmentHeader(tt.b)
			if !errors.Is(err, pg.ErrInvalidSegmentHeader) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want ErrInvalidSegmentHeader saying %q", err, tt.errHas)
			}
		})
	}
}

func with(change func(*headerFields)) []byte {
	h := goodHeader
	change(&h)
	return h.bytes()
}

func TestSegmentHeaderCheckName(t *testing.T) {
	h, err := pg.ParseSegmentHeader(goodHeader.bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		errHas string // "" = fits
	}{
		{"000000010000000000000003", ""},
		{"000000010000000000000003.partial", ""},
		// The first segment of a new timeline starts as a copy of the old one.
		{"000000020000000000000003", ""},
		{"000000010000000000000004", "page address 0/3000000, want 0/4000000"},
		{"000000010000000100000003", "want 1/3000000"},
		{"000000010000000000000002.00000028.backup", "not a segment"},
		{"00000002.history", "not a segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := pg.ParseWALFileName(tt.name, uint64(h.SegmentSize))
			if err != nil {
				t.Fatal(err)
			}
			err = h.CheckName(f)
			if tt.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want %q", err, tt.errHas)
			}
		})
	}
	h.Timeline = 3
	f, _ := pg.ParseWALFileName("000000020000000000000003", uint64(h.SegmentSize))
	if err := h.CheckName(f); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("header timeline 3 under a timeline 2 name: err = %v", err)
	}
}

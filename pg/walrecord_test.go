package pg_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/logship/logship/pg"
)

// walWriter lays records out as PostgreSQL does: 8-byte aligned, split
// across pages and segments, each page with its header and, where a record
// goes on, XLP_FIRST_IS_CONTRECORD and the bytes still to come.
type walWriter struct {
	buf            []byte
	pos            int
	blk, seg       int
	startAddr      uint64
	noContRecFlags bool // write pages as if the record had been cut off
}

const testBlk, testSeg = 8192, 1 << 20

func newWALWriter(segNo uint64) *walWriter {
	return &walWriter{blk: testBlk, seg: testSeg, startAddr: segNo * testSeg}
}

func (w *walWriter) write(rec []byte) {
	for done := 0; done < len(rec); {
		if w.pos%w.blk == 0 {
			w.pageHeader(done > 0, len(rec)-done)
		}
		n := copy(w.buf[w.pos:w.pos+min(len(rec)-done, w.blk-w.pos%w.blk)], rec[done:])
		w.pos += n
		done += n
	}
	w.pos = (w.pos + 7) &^ 7
}

func (w *walWriter) pageHeader(cont bool, rem int) {
	if w.pos >= len(w.buf) {
		w.buf = append(w.buf, make([]byte, w.seg)...)
	}
	le := binary.LittleEndian
	b := w.buf[w.pos:]
	le.PutUint16(b, 0xD110)
	var info uint16
	if cont && !w.noContRecFlags {
		info |= 0x0001
		le.PutUint32(b[16:], uint32(rem))
	}
	h := 24
	if w.pos%w.seg == 0 {
		info |= 0x0002
		le.PutUint64(b[24:], 42)
		le.PutUint32(b[32:], uint32(w.seg))
		le.PutUint32(b[36:], uint32(w.blk))
		h = 40
	}
	le.PutUint16(b[2:], info)
	le.PutUint32(b[4:], 1)
	le.PutUint64(b[8:], w.startAddr+uint64(w.pos))
	w.pos += h
}

// fill writes filler records up to off (8-aligned), exactly when off is
// more than 200 bytes past a page start.
func (w *walWriter) fill(off int) {
	for off-w.pos > 200 {
		w.write(walRecord(1, 0, make([]byte, min(off-w.pos-150, 4000))))
	}
	if gap := off - w.pos; gap >= 32 {
		w.write(walRecord(1, 0, make([]byte, gap-26)))
	}
}

// segment returns segment i of what was written, page headers included
// for every page (as PostgreSQL initializes them).
func (w *walWriter) segment(i int) []byte {
	for len(w.buf) < (i+1)*w.seg {
		w.buf = append(w.buf, make([]byte, w.seg)...)
	}
	return w.buf[i*w.seg : (i+1)*w.seg]
}

func walRecord(rmid, info byte, main []byte) []byte {
	var hdrs []byte
	if len(main) < 256 {
		hdrs = []byte{255, byte(len(main))}
	} else {
		hdrs = binary.LittleEndian.AppendUint32([]byte{254}, uint32(len(main)))
	}
	rec := make([]byte, 24, 24+len(hdrs)+len(main))
	rec = append(append(rec, hdrs...), main...)
	le := binary.LittleEndian
	le.PutUint32(rec, uint32(len(rec)))
	rec[16], rec[17] = info, rmid
	tab := crc32.MakeTable(crc32.Castagnoli)
	le.PutUint32(rec[20:], crc32.Update(crc32.Checksum(rec[24:], tab), tab, rec[:20]))
	return rec
}

func tablespaceRecord(oid uint32, path string) []byte {
	main := binary.LittleEndian.AppendUint32(nil, oid)
	return walRecord(5, 0x00, append(append(main, path...), 0))
}

func paths(tcs []pg.TablespaceCreate) []string {
	var out []string
	for _, tc := range tcs {
		out = append(out, tc.Path)
	}
	return out
}

// F4: the records that make a restored server use a tablespace folder are
// found wherever they lie in the segment, and only real ones.
func TestF4_ScanTablespaceCreates(t *testing.T) {
	noNext := func() ([]byte, error) { t.Fatal("next segment read"); return nil, nil }
	t.Run("middle, across a page, at the segment end", func(t *testing.T) {
		w := newWALWriter(3)
		w.fill(1000)
		w.write(tablespaceRecord(16384, "/srv/ts1"))
		w.fill(testBlk - 24) // the next record crosses into page 2
		if w.pos != testBlk-24 {
			t.Fatalf("filled to %d", w.pos)
		}
		w.write(tablespaceRecord(16385, "/srv/ts2-across-a-page"))
		w.write(walRecord(5, 0x10, []byte{1, 0, 0, 0})) // XLOG_TBLSPC_DROP
		w.fill(testSeg - 16)                            // header split across the segments
		if w.pos != testSeg-16 {
			t.Fatalf("filled to %d", w.pos)
		}
		w.write(tablespaceRecord(16386, "/srv/ts3-across-segments"))
		w.write(tablespaceRecord(16387, "/srv/ts4-next-segment"))
		got, err := pg.ScanTablespaceCreates(w.segment(0), func() ([]byte, error) { return w.segment(1), nil })
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"/srv/ts1", "/srv/ts2-across-a-page", "/srv/ts3-across-segments"}
		if !slices.Equal(paths(got), want) {
			t.Fatalf("found %q, want %q", paths(got), want)
		}
		if got[0].OID != 16384 || got[0].LSN != pg.LSN(3*testSeg+1000) {
			t.Errorf("first: %+v", got[0])
		}
		// The next segment starts with the rest of ts3, then ts4.
		got, err = pg.ScanTablespaceCreates(w.segment(1), noNext)
		if err != nil || !slices.Equal(paths(got), []string{"/srv/ts4-next-segment"}) {
			t.Fatalf("next segment: %q, %v", paths(got), err)
		}
	})
	t.Run("the next segment cannot be read", func(t *testing.T) {
		w := newWALWriter(3)
		w.fill(testSeg - 104)
		w.write(tablespaceRecord(16386, "/srv/"+string(make([]byte, 200))))
		boom := errors.New("not archived yet")
		if _, err := pg.ScanTablespaceCreates(w.segment(0), func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the next segment's error", err)
		}
	})
	t.Run("a long record spans pages before it", func(t *testing.T) {
		w := newWALWriter(3)
		w.fill(testSeg - 3000)
		w.write(walRecord(1, 0, make([]byte, 3*testBlk))) // ends in segment 1, page 3
		w.write(tablespaceRecord(1, "/srv/after-a-long-continuation"))
		got, err := pg.ScanTablespaceCreates(w.segment(1), noNext)
		if err != nil || !slices.Equal(paths(got), []string{"/srv/after-a-long-continuation"}) {
			t.Fatalf("got %q, %v", paths(got), err)
		}
	})
	t.Run("the valid WAL ends", func(t *testing.T) {
		w := newWALWriter(3)
		w.fill(500)
		bad := tablespaceRecord(2, "/srv/bad-crc")
		bad[len(bad)-2] ^= 1
		w.write(bad)
		w.write(tablespaceRecord(3, "/srv/after-bad-crc"))
		got, _ := pg.ScanTablespaceCreates(w.segment(0), noNext)
		if len(got) != 0 {
			t.Fatalf("found %q in damaged WAL", paths(got))
		}
		w = newWALWriter(3)
		w.write(walRecord(0, 0x40, nil)) // XLOG_SWITCH
		w.write(tablespaceRecord(4, "/srv/after-switch"))
		if got, _ := pg.ScanTablespaceCreates(w.segment(0), noNext); len(got) != 0 {
			t.Fatalf("found %q after a switch", paths(got))
		}
		// A recycled segment's old pages carry other page addresses.
		w = newWALWriter(3)
		w.fill(testBlk + 104)
		old := newWALWriter(1)
		old.fill(2 * testBlk)
		old.write(tablespaceRecord(5, "/srv/recycled"))
		seg := w.segment(0)
		copy(seg[2*testBlk:], old.segment(0)[2*testBlk:])
		if got, _ := pg.ScanTablespaceCreates(seg, noNext); len(got) != 0 {
			t.Fatalf("found %q in a recycled tail", paths(got))
		}
	})
	t.Run("a cut-off record, then new WAL on the next page", func(t *testing.T) {
		w := newWALWriter(3)
		w.fill(testBlk - 104)
		w.noContRecFlags = true
		w.write(walRecord(1, 0, make([]byte, 300))) // its tail page lacks the flag
		w.noContRecFlags = false
		// As after a crash: the page where the rest should be starts anew.
		w.pos = testBlk + 24
		w.write(tablespaceRecord(6, "/srv/after-overwrite"))
		got, err := pg.ScanTablespaceCreates(w.segment(0), noNext)
		if err != nil || !slices.Equal(paths(got), []string{"/srv/after-overwrite"}) {
			t.Fatalf("got %q, %v", paths(got), err)
		}
	})
	t.Run("not a segment", func(t *testing.T) {
		if _, err := pg.ScanTablespaceCreates(make([]byte, testSeg), noNext); !errors.Is(err, pg.ErrInvalidSegmentHeader) {
			t.Fatalf("zeros: %v", err)
		}
	})
}

func FuzzScanTablespaceCreates(f *testing.F) {
	w := newWALWriter(3)
	w.fill(testBlk - 24)
	w.write(tablespaceRecord(16385, "/srv/ts"))
	f.Add(w.segment(0)[:3*testBlk], 0)
	f.Fuzz(func(t *testing.T, head []byte, at int) {
		// Fuzz the first pages of a real-looking segment.
		seg := slices.Clone(w.segment(0))
		if at < 0 {
			at = -at
		}
		copy(seg[at%testSeg:], head)
		_, _ = pg.ScanTablespaceCreates(seg, func() ([]byte, error) { return seg, nil })
	})
}

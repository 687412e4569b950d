package chaos

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Synthetic WAL: 1 MiB segments (the smallest size PostgreSQL allows) with
// a valid long page header of a made-up system, part random and part
// compressible, so that objects vary in size. They exercise wal-push and
// wal-fetch without a server, many per second.
const (
	synSegSize  = 1 << 20
	synSystemID = 7391000000000000001
	pushLimit   = 90 * time.Second // a push or fetch running longer is a hang
)

// ack is what wal-push acknowledged for a name.
type ack struct {
	sum  [32]byte
	size int
}

// synSet is the synthetic segments of one source in one store.
type synSet struct {
	flags []string // store flags with --source
	where string   // the target's name, for messages and usual run times
	next  uint64   // next segment number
	acked map[string]ack
	names []string // acknowledged, in push order
}

func newSynSet(storeFlags []string, source, where string) *synSet {
	return &synSet{flags: append(append([]string{}, storeFlags...), "--source", source), where: where, next: 1, acked: map[string]ack{}}
}

// newName reserves the next segment name.
func (s *synSet) newName() string {
	n := s.next
	s.next++
	perID := uint64(0x100000000 / synSegSize)
	return fmt.Sprintf("%08X%08X%08X", 1, n/perID, n%perID)
}

// acknowledge records that wal-push exited 0 for name with content b.
func (c *Campaign) acknowledge(s *synSet, name string, b []byte) {
	if _, ok := s.acked[name]; !ok {
		s.names = append(s.names, name)
		c.fig.AckSegments++
	}
	s.acked[name] = ack{sha256.Sum256(b), len(b)}
}

// makeSegment writes a synthetic segment for name into dir and returns its
// path and bytes. randomShare (0..1) of its pages are random.
func (c *Campaign) makeSegment(dir, name string, randomShare float64) (string, []byte) {
	b := make([]byte, synSegSize)
	for off := 0; off < len(b); off += 8192 {
		page := b[off : off+8192]
		if c.rng.Float64() < randomShare {
			for i := 0; i < len(page); i += 8 {
				binary.LittleEndian.PutUint64(page[i:], c.rng.Uint64())
			}
		} else {
			fill := byte(c.rng.Uint32())
			for i := range page {
				page[i] = fill ^ byte(i%13)
			}
		}
	}
	var tli uint32
	var hi, lo uint64
	fmt.Sscanf(name[:24], "%08X%08X%08X", &tli, &hi, &lo)
	segNo := hi*(0x100000000/synSegSize) + lo
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0xD110) // XLOG_PAGE_MAGIC of PostgreSQL 15
	le.PutUint16(b[2:], 0x0002) // XLP_LONG_HEADER
	le.PutUint32(b[4:], tli)
	le.PutUint64(b[8:], segNo*synSegSize)
	le.PutUint64(b[16:], 0)
	le.PutUint64(b[24:], synSystemID)
	le.PutUint32(b[32:], synSegSize)
	le.PutUint32(b[36:], 8192)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		panic(err) // the campaign's own scratch disk failed: nothing to test
	}
	return p, b
}

// fetch runs wal-fetch of name from flags into a fresh file and returns the
// result and the fetched bytes (nil when nothing appeared at DEST).
func (c *Campaign) fetch(flags []string, name string) (result, []byte) {
	dest := filepath.Join(c.work, "fetched-"+name)
	os.Remove(dest)
	r := c.run(pushLimit, nil, append(append([]string{}, flags...), "--fetch-ahead", "0", "wal-fetch", name, dest)...)
	b, err := os.ReadFile(dest)
	os.Remove(dest)
	if err != nil {
		b = nil
	}
	return r, b
}

// checkAcked fetches an acknowledged segment and counts any loss or
// corruption. It returns whether the segment is intact.
func (c *Campaign) checkAcked(s *synSet, where, name string) bool {
	want := s.acked[name]
	r, b := c.fetch(s.flags, name)
	c.fig.SegChecks++
	switch {
	case r.hung:
		c.fig.Lost++
		c.finding("lost", fmt.Sprintf("%s: acknowledged %s: fetch hung", where, name))
	case r.code == 0 && (len(b) != want.size || sha256.Sum256(b) != want.sum):
		c.fig.Lost++
		c.fig.CorruptToPG++
		c.fig.CorruptBytes += int64(len(b))
		c.finding("corrupt", fmt.Sprintf("%s: acknowledged %s fetched with exit 0 but %d bytes that differ from the acknowledged %d", where, name, len(b), want.size))
	case r.code == 0:
		return true
	case r.code == 1:
		c.fig.Lost++
		c.finding("lost", fmt.Sprintf("%s: acknowledged %s is absent: %s", where, name, r))
	default:
		c.fig.Lost++
		c.finding("lost", fmt.Sprintf("%s: acknowledged %s is unreadable: %s", where, name, r))
	}
	return false
}

// checkSegments checks the touched segments, plus all of them when all is
// set, else a sample of 3.
func (c *Campaign) checkSegments(tg *target, touched []string, all bool) {
	for _, s := range tg.synSets() {
		names := touched
		if all {
			names = s.names
		} else if len(s.names) > 0 {
			for range 3 {
				names = append(names, s.names[c.rng.IntN(len(s.names))])
			}
		}
		for _, n := range names {
			if _, ok := s.acked[n]; ok {
				c.checkAcked(s, tg.name, n)
			}
		}
	}
}

// pushNew pushes a new segment (no fault) and acknowledges it; used to
// learn how long a push takes and to grow the store.
func (c *Campaign) pushNew(s *synSet) error {
	name := s.newName()
	p, b := c.makeSegment(c.work, name, c.rng.Float64())
	defer os.Remove(p)
	r := c.run(pushLimit, nil, append(append([]string{}, s.flags...), "wal-push", p)...)
	if r.code != 0 {
		return fmt.Errorf("%s", r)
	}
	c.learn("wal-push@"+s.where, r)
	c.acknowledge(s, name, b)
	return nil
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) }

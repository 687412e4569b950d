package object_test

import (
	"encoding/binary"
	"math/rand/v2"
)

// walLike returns size bytes that compress about as well as pgbench WAL
// (~10x with zstd level 3): 8 KiB pages with a page header, filled with
// 192-byte update records whose counters grow and whose CRC, key and balance
// are random, the rest filler, as in pgbench_accounts rows.
func walLike(size int, seed uint64) []byte {
	const (
		pageSize = 8192
		recSize  = 192
		startLSN = 0x3000000
	)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	le := binary.LittleEndian
	out := make([]byte, size)
	xid := uint32(1000)
	for off := 0; off < size; off += pageSize {
		page := out[off:min(off+pageSize, size)]
		var hdr [24]byte
		le.PutUint16(hdr[0:], 0xD110) // XLOG_PAGE_MAGIC of PostgreSQL 15
		le.PutUint16(hdr[2:], 0x0005)
		le.PutUint32(hdr[4:], 1) // timeline
		le.PutUint64(hdr[8:], uint64(startLSN+off))
		le.PutUint32(hdr[16:], uint32(rng.IntN(200)))
		i := copy(page, hdr[:])
		for i < len(page) {
			var rec [recSize]byte
			xid++
			le.PutUint32(rec[0:], recSize)
			le.PutUint32(rec[4:], xid)
			le.PutUint64(rec[8:], uint64(startLSN+off+i))
			rec[16], rec[17] = 0x10, 10 // info, heap resource manager
			le.PutUint32(rec[20:], rng.Uint32())
			le.PutUint32(rec[24:], uint32(rng.IntN(100000))) // aid
			le.PutUint32(rec[28:], 1)                        // bid
			le.PutUint32(rec[32:], uint32(rng.IntN(5000)))   // abalance
			for j := 36; j < recSize-8; j++ {
				rec[j] = ' ' // filler char(84)
			}
			le.PutUint64(rec[recSize-8:], 1735689600+uint64(xid)) // commit time
			i += copy(page[i:], rec[:])
		}
	}
	return out
}

// randomBytes is incompressible input.
func randomBytes(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], rng.Uint64())
	}
	return out
}

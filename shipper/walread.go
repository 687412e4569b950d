package shipper

import (
	"io"
	"os"
	"syscall"
)

// mmapThreshold is the size from which a WAL file is mapped rather than
// read: a 16 MiB segment then reaches the compressor without being copied
// (the copy and the page faults of a fresh buffer cost more than a third
// of the compression itself).
const mmapThreshold = 1 << 20

// readWAL returns the whole content of f, which is size bytes, and a
// function that releases it. PostgreSQL does not touch a segment while its
// archive_command runs, so a read-only mapping is stable.
func readWAL(f *os.File, size int64) ([]byte, func(), error) {
	if size >= mmapThreshold {
		b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
		if err == nil {
			return b, func() { _ = syscall.Munmap(b) }, nil
		}
		// Fall back to reading, e.g. on a file system without mmap.
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}

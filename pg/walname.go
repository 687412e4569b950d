package pg

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultSegmentSize is the WAL segment size initdb picks unless told
// otherwise (--wal-segsize).
const DefaultSegmentSize = 16 << 20

// ValidSegmentSize reports whether n is a WAL segment size PostgreSQL allows:
// a power of two from 1 MiB to 1 GiB.
func ValidSegmentSize(n uint64) bool {
	return n >= 1<<20 && n <= 1<<30 && n&(n-1) == 0
}

// ErrInvalidWALFileName marks a name that PostgreSQL would never archive.
var ErrInvalidWALFileName = errors.New("invalid WAL file name")

// WALFileKind tells the kinds of file PostgreSQL archives apart. The zero
// value is no kind, so a forgotten assignment doesn't pass for a segment.
type WALFileKind int

const (
	// Segment is a WAL segment: 24 hex digits.
	Segment WALFileKind = iota + 1
	// Partial is the incomplete last segment of an old timeline, archived at
	// promotion as <segment>.partial. Recovery never reads it.
	Partial
	// History is a timeline history file: <8 hex TLI>.history.
	History
	// BackupHistory is the <segment>.<8 hex offset>.backup file that
	// pg_backup_stop archives on a primary.
	BackupHistory
)

// String names the kind in lower case, for logs and JSON.
func (k WALFileKind) String() string {
	switch k {
	case Segment:
		return "segment"
	case Partial:
		return "partial"
	case History:
		return "history"
	case BackupHistory:
		return "backup-history"
	}
	return fmt.Sprintf("WALFileKind(%d)", int(k))
}

// WALFile is a parsed archivable file name.
type WALFile struct {
	Name     string
	Kind     WALFileKind
	Timeline TimelineID
	// SegNo is the segment number (LSN / segment size), for Segment, Partial
	// and BackupHistory.
	SegNo uint64
	// BackupOffset is the byte offset within segment SegNo at which the base
	// backup started, for BackupHistory: the 00000028 in
	// 000000010000000000000002.00000028.backup.
	BackupOffset uint32
}

const nameHint = "want 24 hex digits (e.g. 000000010000000000000001), a .history, .backup or .partial file"

// ParseWALFileName validates any name PostgreSQL archives: a 24-hex-digit
// segment, <segment>.partial, <8 hex TLI>.history or
// <segment>.<8 hex offset>.backup, all in upper-case hex as PostgreSQL writes
// them. segSize (needed to split the segment fields into a segment number)
// must be a valid segment size.
func ParseWALFileName(name string, segSize uint64) (WALFile, error) {
	if !ValidSegmentSize(segSize) {
		return WALFile{}, fmt.Errorf("parse WAL file name %q: segment size %d is not a power of two from 1 MiB to 1 GiB", name, segSize)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidWALFileName, name, fmt.Sprintf(format, args...))
	}
	f := WALFile{Name: name}
	var seg string
	switch {
	case len(name) == 24:
		f.Kind, seg = Segment, name
	case len(name) == 24+len(".partial") && strings.HasSuffix(name, ".partial"):
		f.Kind, seg = Partial, name[:24]
	case len(name) == 8+len(".history") && strings.HasSuffix(name, ".history"):
		f.Kind = History
		tli, err := hexField(name[:8])
		if err != nil {
			return WALFile{}, bad("%v", err)
		}
		if tli == 0 {
			return WALFile{}, bad("timeline 0 does not exist; timelines start at 1")
		}
		f.Timeline = TimelineID(tli)
		return f, nil
	case len(name) == 24+1+8+len(".backup") && name[24] == '.' && strings.HasSuffix(name, ".backup"):
		f.Kind, seg = BackupHistory, name[:24]
		off, err := hexField(name[25:33])
		if err != nil {
			return WALFile{}, bad("%v", err)
		}
		if uint64(off) >= segSize {
			return WALFile{}, bad("backup offset %s lies beyond the %d-byte segment", name[25:33], segSize)
		}
		f.BackupOffset = off
	default:
		return WALFile{}, bad(nameHint)
	}

	var fields [3]uint32
	for i := range fields {
		v, err := hexField(seg[i*8 : i*8+8])
		if err != nil {
			return WALFile{}, bad("%v", err)
		}
		fields[i] = v
	}
	if fields[0] == 0 {
		return WALFile{}, bad("timeline 0 does not exist; timelines start at 1")
	}
	perID := segmentsPerXLogID(segSize)
	if uint64(fields[2]) >= perID {
		return WALFile{}, bad("last field %s must be below %08X for %d MiB segments", seg[16:24], perID, segSize>>20)
	}
	f.Timeline = TimelineID(fields[0])
	f.SegNo = uint64(fields[1])*perID + uint64(fields[2])
	return f, nil
}

// hexField parses 8 upper-case hex digits.
func hexField(s string) (uint32, error) {
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint32(c-'0')
		case 'A' <= c && c <= 'F':
			v = v<<4 | uint32(c-'A'+10)
		case 'a' <= c && c <= 'f':
			return 0, fmt.Errorf("%q has lower-case hex; PostgreSQL writes upper case", s)
		default:
			return 0, fmt.Errorf("%q is not hex; %s", s, nameHint)
		}
	}
	return v, nil
}

// segmentsPerXLogID is how many segments share one value of the middle name
// field: 2^32 bytes' worth.
func segmentsPerXLogID(segSize uint64) uint64 {
	return 0x100000000 / segSize
}

// SegmentName is the file name of segment segNo on timeline tli, as
// PostgreSQL's XLogFileName writes it. segSize must be valid
// (ValidSegmentSize); anything else is a programming error and panics.
func SegmentName(tli TimelineID, segNo uint64, segSize uint64) string {
	if !ValidSegmentSize(segSize) {
		panic(fmt.Sprintf("pg: SegmentName with invalid segment size %d", segSize))
	}
	perID := segmentsPerXLogID(segSize)
	var b [24]byte
	putHex8(b[0:8], uint32(tli))
	putHex8(b[8:16], uint32(segNo/perID))
	putHex8(b[16:24], uint32(segNo%perID))
	return string(b[:])
}

func putHex8(b []byte, v uint32) {
	const digits = "0123456789ABCDEF"
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
}

// HistoryFileName is the name of timeline tli's history file.
func HistoryFileName(tli TimelineID) string {
	var b [8]byte
	putHex8(b[:], uint32(tli))
	return string(b[:]) + ".history"
}

// BackupHistoryFileName is the name of the .backup file for a base backup
// that started at lsn on timeline tli.
func BackupHistoryFileName(tli TimelineID, lsn LSN, segSize uint64) string {
	var b [8]byte
	putHex8(b[:], uint32(uint64(lsn)%segSize))
	return SegmentName(tli, SegmentOf(lsn, segSize), segSize) + "." + string(b[:]) + ".backup"
}

// SegmentStart is the LSN of the first byte of segment segNo.
func SegmentStart(segNo, segSize uint64) LSN {
	return LSN(segNo * segSize)
}

// SegmentOf is the number of the segment holding lsn. At an exact segment
// boundary that is the segment starting there; PostgreSQL's
// pg_walfile_name() answers the one before, where the record ending there
// was written.
func SegmentOf(lsn LSN, segSize uint64) uint64 {
	return uint64(lsn) / segSize
}

package pg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidLSN marks text that is not an LSN.
var ErrInvalidLSN = errors.New("invalid LSN")

// LSN is a write-ahead log position: a byte offset into the WAL stream.
type LSN uint64

// ParseLSN parses PostgreSQL's text form of an LSN, "16/B374D848": two groups
// of 1 to 8 hex digits (either case, as pg_lsn accepts) around a slash.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || !isLSNHalf(hi) || !isLSNHalf(lo) {
		return 0, fmt.Errorf("%w %q: want two hex numbers of up to 8 digits, e.g. 16/B374D848", ErrInvalidLSN, s)
	}
	h, _ := strconv.ParseUint(hi, 16, 32)
	l, _ := strconv.ParseUint(lo, 16, 32)
	return LSN(h<<32 | l), nil
}

func isLSNHalf(s string) bool {
	if len(s) < 1 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if hexValue(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// String prints the LSN as PostgreSQL 15 does ("0/3012998"): upper-case hex,
// no zero padding. (PostgreSQL 18 pads the low half to 8 digits; ParseLSN
// reads both.)
func (l LSN) String() string {
	return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l))
}

// MarshalText writes the LSN in its PostgreSQL text form, so that JSON
// records show "0/3012998" rather than a large number.
func (l LSN) MarshalText() ([]byte, error) {
	return []byte(l.String()), nil
}

// UnmarshalText reads the PostgreSQL text form.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// TimelineID names a timeline; timelines start at 1.
type TimelineID uint32

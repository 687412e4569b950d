package s3

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logship/logship/store"
)

// MaxLockDays bounds the retention of --s3-object-lock: a typo of a few
// digits in COMPLIANCE mode would otherwise lock objects nobody can delete
// for centuries.
const MaxLockDays = 36500

// ObjectLock is the S3 Object Lock retention set on every data object
// written: its mode and how many days from the write it lasts. The zero
// value sets none.
type ObjectLock struct {
	// Mode is "GOVERNANCE" or "COMPLIANCE", or "" for no lock.
	Mode string
	// Days from the write until the retention ends.
	Days int
	// Exempt tells which keys get no retention: the transient objects
	// (probes, leases, reservations, pins) that logship must be able to
	// delete. Nil exempts nothing. An interface rather than a func, so
	// that Config stays comparable.
	Exempt KeyMatcher
}

// KeyMatcher matches store keys (without the store's prefix).
type KeyMatcher interface {
	Match(key string) bool
}

// ParseObjectLock parses --s3-object-lock MODE:DAYS; "" is no lock.
func ParseObjectLock(s string) (ObjectLock, error) {
	if s == "" {
		return ObjectLock{}, nil
	}
	mode, days, ok := strings.Cut(s, ":")
	mode = strings.ToUpper(mode)
	n, err := strconv.Atoi(days)
	if !ok || err != nil || (mode != "GOVERNANCE" && mode != "COMPLIANCE") || n < 1 || n > MaxLockDays {
		return ObjectLock{}, fmt.Errorf("%w: s3 object lock %q: want GOVERNANCE:DAYS or COMPLIANCE:DAYS, with 1 to %d days", store.ErrConfig, s, MaxLockDays)
	}
	return ObjectLock{Mode: mode, Days: n}, nil
}

// String is the MODE:DAYS form, or "" for no lock.
func (l ObjectLock) String() string {
	if l.Mode == "" {
		return ""
	}
	return l.Mode + ":" + strconv.Itoa(l.Days)
}

func (l ObjectLock) check() error {
	if l.Mode == "" && l.Days == 0 {
		return nil
	}
	if l.Mode == "" {
		return fmt.Errorf("%w: s3 object lock of %d days without a mode: want GOVERNANCE or COMPLIANCE", store.ErrConfig, l.Days)
	}
	_, err := ParseObjectLock(l.String())
	return err
}

// retention returns the mode and retain-until date for a write of key now,
// or "" and nil when key gets none. The date is whole seconds in UTC, as
// the x-amz-object-lock-retain-until-date header carries it. S3 refuses
// these headers without an integrity checksum (Content-MD5 or
// x-amz-checksum-*); every write of this package sends x-amz-checksum-sha256.
func (l ObjectLock) retention(key string, now time.Time) (types.ObjectLockMode, *time.Time) {
	if l.Mode == "" || l.Exempt != nil && l.Exempt.Match(key) {
		return "", nil
	}
	until := now.UTC().Add(time.Duration(l.Days) * 24 * time.Hour).Truncate(time.Second)
	return types.ObjectLockMode(l.Mode), &until
}

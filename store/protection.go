package store

import (
	"context"
	"fmt"
	"time"
)

// Protection is what a bucket does by itself against overwrites and
// deletes: versioning keeps every version of a key, and Object Lock keeps
// a version until its retention date, whoever asks to delete it.
type Protection struct {
	// Versioning is "Enabled", "Suspended", or "" for never enabled.
	Versioning string
	// ObjectLock is set when the bucket has Object Lock enabled.
	ObjectLock bool
	// DefaultRetention is the bucket's default retention, MODE:DAYS (or
	// MODE:<n>y), "" for none.
	DefaultRetention string
}

// Protector is a Store that can report its Protection (S3).
type Protector interface {
	Protection(ctx context.Context) (Protection, error)
}

// RetainedError is a Delete that removed the key but not all of its
// versions: some are under an Object Lock retention until Until. The key
// reads as absent (a delete marker hides it); the versions are removed by
// the bucket's lifecycle rule for noncurrent versions after Until, not by
// logship, which no longer lists the key.
type RetainedError struct {
	Key   string
	Until time.Time
}

func (e *RetainedError) Error() string {
	return fmt.Sprintf("%s: versions kept by Object Lock until %s", e.Key, e.Until.UTC().Format(time.RFC3339))
}

package store

import "context"

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

package catalog

import (
	"context"
	"errors"
	"strings"

	"github.com/logship/logship/store"
)

// transientPrefixes are the folders, under a source, of the objects that
// logship itself deletes in normal work: check probes, backup leases, mark
// name reservations (and their takeovers), pins (catalog unkeep) and verify
// progress records (superseded by the next snapshot). Everything else —
// WAL, backup parts, manifests, marks, group marks and every record that
// restore reads — is data.
var transientPrefixes = []string{
	"check/",
	"catalog/leases/",
	"catalog/marknames/",
	"catalog/pins/",
	"verify/",
}

// Transient reports whether the store key (as the catalog names it,
// "<source>/...", "_groups/..." or ".check-probe-<hex>") is of an object logship must be able
// to delete, which --s3-object-lock therefore does not lock. Source names
// hold no '/', so the first element is the source.
func Transient(key string) bool {
	_, rel, ok := strings.Cut(key, "/")
	if !ok {
		// The probe of a source not yet created (ProbeWritable).
		return strings.HasPrefix(key, ".check-probe-")
	}
	if strings.HasPrefix(key, "_groups/") {
		return false
	}
	for _, p := range transientPrefixes {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// TransientKeys matches the keys Transient reports, for the S3 store's
// Object Lock exemption.
type TransientKeys struct{}

// Match is Transient.
func (TransientKeys) Match(key string) bool { return Transient(key) }

// ErrNoProtection means the store cannot report versioning or Object Lock:
// it is not a bucket (file://).
var ErrNoProtection = errors.New("the store has no versioning or Object Lock to report")

// StoreProtection reports the store's versioning and Object Lock, for check.
func (c *Catalog) StoreProtection(ctx context.Context) (store.Protection, error) {
	p, ok := c.st.(store.Protector)
	if !ok {
		return store.Protection{}, ErrNoProtection
	}
	return p.Protection(ctx)
}

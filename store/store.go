// Package store defines the object-storage interface that every other part of
// logship writes to and reads from, and the errors its backends answer with.
//
// Backends live in subpackages (store/file, store/s3) and never import
// anything above this package.
package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrNotExist is the answer for an object the backend positively knows is
// absent. Anything else (a network error, a denied request) must NOT be
// reported as ErrNotExist: PostgreSQL treats "absent" as the normal end of
// the archive, so confusing the two would end a recovery early.
// It is fs.ErrNotExist so that errors.Is(err, os.ErrNotExist) also holds.
var ErrNotExist = fs.ErrNotExist

// ErrExist is the answer of a create-only Put whose key is already taken.
// The existing object is left untouched.
var ErrExist = fs.ErrExist

// ErrConfig marks errors in how a store was named or set up (a bad URL, a
// missing bucket or folder, bad credentials): the user has to fix something
// before any retry can help.
var ErrConfig = errors.New("store configuration")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string    `json:"key"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// Store is object storage with create-only writes.
//
// Keys are slash-separated relative paths made of [A-Za-z0-9._~/-]; no key
// starts or ends with a slash, and no path element is "." or "..".
type Store interface {
	// Put creates the object key with exactly size bytes read from body.
	// It returns only once the object is durable. A crash or error at any
	// point leaves either no object under key or the whole one; never a
	// torn one. If key already exists, Put returns an error wrapping
	// ErrExist and leaves the stored object untouched. If body yields a
	// number of bytes other than size, Put fails and stores nothing.
	// body may be read more than once (after Seek to the start) when the
	// backend retries.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error

	// Get opens the object for reading. An absent object is an error
	// wrapping ErrNotExist. A backend resumes interrupted transfers itself;
	// a read that cannot complete fails with an error (never a silent
	// short read followed by io.EOF).
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat describes the object, or answers ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List calls fn for every object whose key starts with prefix, in
	// ascending key order. Backends fetch the listing page by page (about
	// a thousand keys a request) and never hold the whole listing. If fn
	// returns an error, List stops and returns it.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes the object. Deleting an absent object is not an error.
	Delete(ctx context.Context, key string) error

	// String names the store as a URL, without any secret.
	String() string
}

// VersionedStore is a Store that can name the version of an object it
// wrote and read exactly that version later (S3 with versioning). It is a
// separate interface so that Store stays small: the file store has no
// versions and does not implement it; callers type-assert.
//
// A recorded version id defends a restore against credentials that can
// overwrite or delete: on a versioned bucket neither touches an existing
// version, so reading by id gets the bytes logship wrote.
type VersionedStore interface {
	Store

	// PutVersion is Put that also answers the version id the backend gave
	// the new object. The id is empty when the bucket is not versioned, or
	// when a retried write finds that an earlier attempt of its own stored
	// the object and the id of that attempt cannot be told for certain:
	// an empty id means "not known", never an error.
	PutVersion(ctx context.Context, key string, body io.ReadSeeker, size int64) (versionID string, err error)

	// GetVersion is Get of exactly the version versionID of key; an empty
	// versionID is Get. A version that is gone (or never was) is an error
	// wrapping ErrNotExist.
	GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, error)
}

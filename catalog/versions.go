package catalog

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/logship/logship/store"
)

// Version ids. On a versioned bucket a PUT of an existing key makes a new
// version and a DELETE hides the key behind a delete marker, but neither
// touches the versions already there (and Object Lock stops them from
// being deleted). So the catalog records the version id the store gave
// each data object it wrote (WAL, backup parts, manifests) and reads
// exactly that version: a restore then gets the bytes logship wrote,
// whatever stolen credentials did to the key since. A store without
// versions (file://, an unversioned bucket) gives no id, and the records
// are exactly what they were before version ids.

// maxVersionID bounds a version id recorded in a WAL record key, whose
// whole key must stay within S3's 1,024 bytes (AWS's ids are 32 to about
// 100 bytes).
const maxVersionID = 300

// plainVersionRE is a version id that can go into a key as it is.
// versitygw's ids are; AWS's often are not ('+', '/').
var plainVersionRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// versionField is the version id as the last field of a WAL record key:
// "v<id>" when the id is at most 200 characters from [A-Za-z0-9._-], else
// "b<id in unpadded base64url>"; "" for no id, or for one that is not
// printable ASCII or longer than maxVersionID (not recorded: the read then
// falls back to the key).
func versionField(id string) string {
	switch {
	case id == "" || len(id) > maxVersionID:
		return ""
	case plainVersionRE.MatchString(id):
		return "v" + id
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] > '~' {
			return ""
		}
	}
	return "b" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// parseVersionField reads what versionField wrote; only its exact
// spelling is accepted (the record's key is recomputed from it).
func parseVersionField(f string) (string, error) {
	if len(f) < 2 || len(f) > 1+base64.RawURLEncoding.EncodedLen(maxVersionID) {
		return "", errors.New("bad version field")
	}
	var id string
	switch f[0] {
	case 'v':
		id = f[1:]
	case 'b':
		b, err := base64.RawURLEncoding.Strict().DecodeString(f[1:])
		if err != nil {
			return "", err
		}
		id = string(b)
	default:
		return "", errors.New("bad version field")
	}
	if versionField(id) != f {
		return "", errors.New("version field not in its canonical form")
	}
	return id, nil
}

// put stores an object create-only and answers the version id the store
// gave it ("" when it keeps no versions, or cannot tell).
func (c *Catalog) put(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	if vs, ok := c.st.(store.VersionedStore); ok {
		return vs.PutVersion(ctx, key, body, size)
	}
	return "", c.st.Put(ctx, key, body, size)
}

// get opens the version versionID of key, as a record names it. A
// recorded version that cannot be read falls back to the key's current
// object: a version the store does not have (a copy of the bucket, whose
// versions have other ids; a store without versions), or one these
// credentials may not read (the primary's IAM policy has no
// s3:GetObjectVersion, and it reads a parent backup's manifest and history
// files). Every read is checked against its record anyway, so the fallback
// can serve only the bytes the record describes.
func (c *Catalog) get(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	vs, ok := c.st.(store.VersionedStore)
	if !ok || versionID == "" {
		return c.st.Get(ctx, key)
	}
	rc, verr := vs.GetVersion(ctx, key, versionID)
	if verr == nil {
		return rc, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, verr
	}
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w (and its recorded version %s: %v)", err, versionID, verr)
	}
	return rc, nil
}

// versioned tells whether the store can read by version id, so that a
// record's version id is worth looking up before a read.
func (c *Catalog) versioned() bool {
	_, ok := c.st.(store.VersionedStore)
	return ok
}

// walVersions remembers the version ids that PutWAL got, until AddWAL of
// the same object records them: wal-push stores the object, then records
// it, and the caller need not carry the id in between. Safe for
// concurrent use (push ahead stores several files at once).
type walVersions struct {
	mu  sync.Mutex
	put map[string]putWAL // by WAL file name
}

// putWAL is what PutWAL stored: the version id, and the facts that tell
// that a record is of this object.
type putWAL struct {
	id, sha256 string
	storedSize int64
}

func (w *walVersions) set(name string, p putWAL) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.put == nil {
		w.put = map[string]putWAL{}
	}
	w.put[name] = p
}

// take answers the id PutWAL got for the object that r records and
// forgets it; ok is false when this catalog did not store that object (a
// retry found it stored).
func (w *walVersions) take(r WALRecord) (id string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.put[r.Name]
	if !ok || p.sha256 != r.SHA256 || p.storedSize != r.StoredSize {
		return "", false
	}
	delete(w.put, r.Name)
	return p.id, true
}

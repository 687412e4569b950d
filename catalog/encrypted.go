package catalog

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/logship/logship/store"
)

// encryptedMarker is written, create-only, by the first encrypted push
// that finds the source record without "encrypted": encryption was turned
// on after the source was claimed in clear, and the source record is
// create-only, so it cannot say so itself. The marker arms the refusal of
// clear pushes (CheckPlaintext) exactly as the record's flag does.
type encryptedMarker struct {
	Source  string    `json:"source"`
	Created time.Time `json:"created"`
}

func (c *Catalog) encryptedMarkerKey() string { return c.key("catalog/encrypted") }

// GuardPlaintext is CheckPlaintext for a push or backup into source s, read
// from the store just before (or known from wal-push's cache of it). When
// the record does not say "encrypted": an encrypting push makes sure the
// marker exists (one create-only PUT; ErrExist after the first), and a
// clear push without --allow-plaintext looks for it (one request). That
// look-up is the only request a clear push adds, and it is never cached: a
// cached "not armed" would be exactly the hole this closes (an "armed",
// though, stays true: the marker is create-only and never deleted). Sources
// whose record says "encrypted" and clear pushes with --allow-plaintext pay
// nothing more. marked, when not nil, answers the marker look-up (a
// MarkerProbe started beside the source record's read); nil looks it up now.
func (c *Catalog) GuardPlaintext(ctx context.Context, s Source, encrypting, allow bool, marked func() (bool, error)) error {
	if s.Encrypted || (allow && !encrypting) {
		return s.CheckPlaintext(encrypting, allow)
	}
	if encrypting {
		err := c.putJSON(ctx, c.encryptedMarkerKey(), encryptedMarker{Source: c.source, Created: time.Now().UTC()})
		if err != nil && !errors.Is(err, store.ErrExist) {
			return err
		}
		return nil
	}
	if marked == nil {
		marked = func() (bool, error) { return c.EncryptedMarked(ctx) }
	}
	armed, err := marked()
	if err != nil {
		return err
	}
	s.Encrypted = armed
	return s.CheckPlaintext(encrypting, allow)
}

// MarkerProbe starts looking for the encrypted marker now, so that on the
// wal-push path its round trip overlaps the source record's read instead of
// following it; the returned func waits for the answer. It returns nil when
// the push cannot need it (encrypting, or --allow-plaintext).
func (c *Catalog) MarkerProbe(ctx context.Context, encrypting, allow bool) func() (bool, error) {
	if encrypting || allow {
		return nil
	}
	type answer struct {
		marked bool
		err    error
	}
	ch := make(chan answer, 1)
	go func() {
		ok, err := c.EncryptedMarked(ctx)
		ch <- answer{ok, err}
	}()
	return sync.OnceValues(func() (bool, error) {
		a := <-ch
		return a.marked, a.err
	})
}

// EncryptedMarked reports whether the encrypted marker exists. It reads
// the marker rather than asking for its size: on S3 an absent key's HEAD is
// a bare 404 that costs a second request to confirm, a GET's answer says it.
func (c *Catalog) EncryptedMarked(ctx context.Context) (bool, error) {
	rc, err := c.st.Get(ctx, c.encryptedMarkerKey())
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

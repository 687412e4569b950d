package catalog

import (
	"context"
	"errors"
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
// from the store just before. When the record does not say "encrypted":
// an encrypting push makes sure the marker exists (one create-only PUT;
// ErrExist after the first), and a clear push without --allow-plaintext
// looks for it (one Stat). That Stat is the only request a clear push
// adds: wal-push is one process per segment, so there is no place to cache
// the answer, and a cached "not armed" would be exactly the hole this
// closes. Sources whose record says "encrypted" and clear pushes with
// --allow-plaintext pay nothing more.
func (c *Catalog) GuardPlaintext(ctx context.Context, s Source, encrypting, allow bool) error {
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
	armed, err := c.EncryptedMarked(ctx)
	if err != nil {
		return err
	}
	s.Encrypted = armed
	return s.CheckPlaintext(encrypting, allow)
}

// EncryptedMarked reports whether the encrypted marker exists.
func (c *Catalog) EncryptedMarked(ctx context.Context) (bool, error) {
	_, err := c.st.Stat(ctx, c.encryptedMarkerKey())
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

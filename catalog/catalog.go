// Package catalog is the backup history of one source, kept in the store
// itself so that a DR site with nothing but the store can list, verify and
// restore.
//
// Every record is its own immutable, create-only object, so concurrent
// writers never race on a shared index. WAL records carry all their facts in
// the key itself: reading the whole WAL history costs one listing request per
// thousand records and no downloads. See docs/FORMAT.md for the layout.
package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// ErrNoSource means nothing was ever shipped for this source.
var ErrNoSource = errors.New("no source record")

// ErrWrongSystem means an object comes from another PostgreSQL cluster than
// the one this source prefix belongs to.
var ErrWrongSystem = errors.New("system identifier does not match the source")

// Source identifies the one PostgreSQL cluster a store prefix belongs to.
type Source struct {
	Name        string    `json:"name"`
	SystemID    uint64    `json:"system_id,string"`
	SegmentSize uint64    `json:"segment_size"`
	Created     time.Time `json:"created"`
	// Encrypted is set when the first push that claimed the source sealed
	// its objects: from then on a push without recipients is refused
	// (CheckPlaintext). Omitted when false, so clear records are unchanged.
	Encrypted bool `json:"encrypted,omitempty"`
}

// ErrPlaintextRefused: a push or backup without recipients into a source
// whose record says it is encrypted.
var ErrPlaintextRefused = errors.New("the source is encrypted, but no recipients are configured")

// CheckPlaintext refuses to store clear objects into an encrypted source
// unless allow (--allow-plaintext) says so.
func (s Source) CheckPlaintext(encrypting, allow bool) error {
	if s.Encrypted && !encrypting && !allow {
		return fmt.Errorf("%w: source %q stores encrypted objects; give --encrypt-to or --recipients-file (or --allow-plaintext to store this one in clear)", ErrPlaintextRefused, s.Name)
	}
	return nil
}

// maxSourceRecord bounds what we read back for a source record.
const maxSourceRecord = 64 << 10

var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// ValidSourceName reports whether name can be a source (a store prefix).
func ValidSourceName(name string) error {
	if !sourceNameRE.MatchString(name) {
		return fmt.Errorf("invalid source name %q: use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit", name)
	}
	return nil
}

// Catalog reads and writes the records of one source.
type Catalog struct {
	st     store.Store
	source string
	stray  strayKeys // keys that listings skipped (wal.go)
	// walVersions carries the version ids of PutWAL to AddWAL.
	walVersions walVersions
	// decrypt opens encrypted objects (SetDecrypter); nil: they are refused
	// with object.ErrEncrypted, and deep verify checks their stored bytes.
	decrypt object.Decrypter
}

// SetDecrypter gives the catalog the identities that open encrypted
// objects. Clear objects never need one.
func (c *Catalog) SetDecrypter(d object.Decrypter) { c.decrypt = d }

// newReader opens the object rc with the catalog's identities.
func (c *Catalog) newReader(rc io.Reader) (*object.Reader, error) {
	return object.NewReaderOpts(rc, object.ReadOptions{Decrypt: c.decrypt})
}

// New returns the catalog of source in st. The name must be valid.
func New(st store.Store, source string) *Catalog {
	return &Catalog{st: st, source: source}
}

// SourceName is the name of the catalog's source.
func (c *Catalog) SourceName() string { return c.source }

func (c *Catalog) key(rel string) string { return c.source + "/" + rel }

// Source reads the source record, or answers ErrNoSource.
func (c *Catalog) Source(ctx context.Context) (Source, error) {
	var s Source
	err := c.getJSON(ctx, c.key("catalog/source"), &s, maxSourceRecord)
	if errors.Is(err, store.ErrNotExist) {
		return Source{}, fmt.Errorf("%w for %q in %s", ErrNoSource, c.source, c.st)
	}
	return s, err
}

// ClaimSource records s as the source if none is recorded yet, and checks
// that the recorded one has the same system identifier otherwise. Two hosts
// claiming at once cannot both win: the record is create-only.
func (c *Catalog) ClaimSource(ctx context.Context, s Source) (Source, error) {
	s.Name = c.source
	err := c.putJSON(ctx, c.key("catalog/source"), s)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, store.ErrExist) {
		return Source{}, err
	}
	got, err := c.Source(ctx)
	if err != nil {
		return Source{}, err
	}
	if err := got.Check(s.SystemID); err != nil {
		return got, err
	}
	return got, nil
}

// Check fails with ErrWrongSystem when systemID is not the source's.
func (s Source) Check(systemID uint64) error {
	if systemID != s.SystemID {
		return fmt.Errorf("%w: the file comes from system %d but source %q belongs to system %d; "+
			"each PostgreSQL cluster needs its own source (--source)", ErrWrongSystem, systemID, s.Name, s.SystemID)
	}
	return nil
}

func (c *Catalog) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return c.st.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// putDoc stores v as JSON in an object-format object (kind meta), so that
// it carries its checksum like everything else logship stores.
func (c *Catalog) putDoc(ctx context.Context, key, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	enc, err := object.Encode(bytes.NewReader(b), object.KindMeta, name, nil, object.EncodeOptions{Compression: object.Zstd})
	if err != nil {
		return err
	}
	return c.st.Put(ctx, key, enc.Reader(), enc.Size())
}

// getDoc reads what putDoc stored, verified.
func (c *Catalog) getDoc(ctx context.Context, key string, v any, limit int64) error {
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	or, err := object.NewReader(rc)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer or.Close()
	if or.Header().RawSize > limit {
		return fmt.Errorf("read %s: document of %d bytes is larger than %d", key, or.Header().RawSize, limit)
	}
	b, err := io.ReadAll(or)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

func (c *Catalog) getJSON(ctx context.Context, key string, v any, limit int64) error {
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("read %s: record larger than %d bytes", key, limit)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

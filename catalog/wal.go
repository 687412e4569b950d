package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/logship/logship/store"
)

// WALRecord says that a WAL file (segment, .partial, .history or .backup)
// is stored, and what it holds.
type WALRecord struct {
	Name       string `json:"name"`
	RawSize    int64  `json:"raw_size"`
	SHA256     string `json:"sha256"`
	StoredSize int64  `json:"stored_size"`
	// SystemID is the PostgreSQL system a segment's page header names; 0
	// for history and backup files, which carry none. In the key, so that a
	// shallow verify sees another cluster's segment without a download.
	SystemID uint64 `json:"system_id,string,omitempty"`
	// VersionID is the version of the object that the store gave its
	// write, on a versioned bucket; reads get exactly that version. Empty
	// when the store keeps no versions or the write could not tell (a
	// retried push): the key's current object is read.
	VersionID string `json:"version_id,omitempty"`
}

// recordSep cannot appear in a WAL file name, so a key splits unambiguously.
const recordSep = "~"

func (c *Catalog) walRecordPrefix() string { return c.key("catalog/wal/") }

func (c *Catalog) walRecordKey(r WALRecord) string {
	return c.walRecordPrefix() + formatWALRecord(r)
}

func formatWALRecord(r WALRecord) string {
	f := []string{
		r.Name, strconv.FormatInt(r.RawSize, 10), r.SHA256, strconv.FormatInt(r.StoredSize, 10), strconv.FormatUint(r.SystemID, 10),
	}
	if v := versionField(r.VersionID); v != "" {
		f = append(f, v)
	}
	return strings.Join(f, recordSep)
}

func parseWALRecordKey(key, prefix string) (WALRecord, error) {
	rel := strings.TrimPrefix(key, prefix)
	f := strings.Split(rel, recordSep)
	if len(f) != 5 && len(f) != 6 {
		return WALRecord{}, fmt.Errorf("malformed WAL record key %q", key)
	}
	var version string
	var err5 error
	if len(f) == 6 {
		version, err5 = parseVersionField(f[5])
	}
	raw, err1 := strconv.ParseInt(f[1], 10, 64)
	stored, err2 := strconv.ParseInt(f[3], 10, 64)
	sysid, err3 := strconv.ParseUint(f[4], 10, 64)
	sum, err4 := hex.DecodeString(f[2])
	r := WALRecord{Name: f[0], RawSize: raw, SHA256: f[2], StoredSize: stored, SystemID: sysid, VersionID: version}
	// Only the exact spelling AddWAL writes: purge deletes the key it
	// computes from the record, so a record parsed from "+1", "01" or
	// uppercase hex would outlive its object.
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || len(sum) != sha256.Size ||
		raw < 0 || stored < 0 || f[2] != strings.ToLower(f[2]) || formatWALRecord(r) != rel {
		return WALRecord{}, fmt.Errorf("malformed WAL record key %q", key)
	}
	return r, nil
}

// AddWAL records r. The record is create-only and its key holds every fact,
// so a concurrent or repeated add of the same facts is a no-op success.
//
// The version id that PutWAL of the same object got from the store goes
// into the record. A push that found the object already stored knows no
// version id: on a versioned store it then adds nothing when a record of
// the same facts (with its version id) is there, so that a retried push
// does not leave a second record of the file.
func (c *Catalog) AddWAL(ctx context.Context, r WALRecord) error {
	id, stored := c.walVersions.take(r)
	if r.VersionID == "" {
		r.VersionID = id
	}
	if versionField(r.VersionID) == "" {
		r.VersionID = "" // none, or too long for a key
	}
	if r.VersionID == "" && !stored && c.versioned() {
		switch has, err := c.hasWALRecord(ctx, r); {
		case err != nil:
			return fmt.Errorf("record %s: %w", r.Name, err)
		case has:
			return nil
		}
	}
	err := c.st.Put(ctx, c.walRecordKey(r), bytes.NewReader(nil), 0)
	if err != nil && !errors.Is(err, store.ErrExist) {
		if stored { // for the retry of this add
			c.walVersions.set(r.Name, putWAL{id: id, sha256: r.SHA256, storedSize: r.StoredSize})
		}
		return fmt.Errorf("record %s: %w", r.Name, err)
	}
	return nil
}

// hasWALRecord tells whether name has a record of r's facts, whatever its
// version id.
func (c *Catalog) hasWALRecord(ctx context.Context, r WALRecord) (bool, error) {
	recs, err := c.walRecords(ctx, r.Name)
	if err != nil {
		return false, err
	}
	for _, h := range recs {
		h.VersionID = r.VersionID
		if h == r {
			return true, nil
		}
	}
	return false, nil
}

// ListWAL calls fn for every WAL record in name order. A key under the
// record prefix that is not a record (a .DS_Store, a README someone put
// there) is skipped and remembered for StrayKeys: one stray file must not
// make the whole source unlistable, unverifiable and unrestorable.
func (c *Catalog) ListWAL(ctx context.Context, fn func(WALRecord) error) error {
	prefix := c.walRecordPrefix()
	return c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		r, err := parseWALRecordKey(oi.Key, prefix)
		if err != nil {
			c.stray.add(oi.Key)
			return nil
		}
		return fn(r)
	})
}

// strayKeys are keys under a record prefix that are not records, as the
// listings of this catalog met them. Safe for concurrent use.
type strayKeys struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (s *strayKeys) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	s.keys[key] = true
}

// StrayKeys lists, sorted, the keys under catalog/wal/ and catalog/marks/
// that the listings so far skipped because they are not records. Commands
// warn about them; nothing reads them.
func (c *Catalog) StrayKeys() []string {
	c.stray.mu.Lock()
	defer c.stray.mu.Unlock()
	out := make([]string, 0, len(c.stray.keys))
	for k := range c.stray.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LookupWAL finds the record of one WAL file, or answers store.ErrNotExist.
func (c *Catalog) LookupWAL(ctx context.Context, name string) (WALRecord, error) {
	prefix := c.walRecordPrefix()
	var found *WALRecord
	err := c.st.List(ctx, prefix+name+recordSep, func(oi store.ObjectInfo) error {
		r, err := parseWALRecordKey(oi.Key, prefix)
		if err != nil {
			return err
		}
		found = &r
		return nil
	})
	if err != nil {
		return WALRecord{}, err
	}
	if found == nil {
		return WALRecord{}, fmt.Errorf("no record of %s: %w", name, store.ErrNotExist)
	}
	return *found, nil
}

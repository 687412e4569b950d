package shipper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// Every wal-push checks the source record before it stores anything: the
// file must come from the cluster the source belongs to ("never mix
// clusters"), and a clear push must not go into a source that is encrypted
// ("no accidental clear text"). Reading the record is a round trip per
// segment; the cache below saves it. Why that is safe:
//
//   - The record is create-only, and nothing in logship rewrites or deletes
//     it (purge leaves it; catalog rebuild only creates a missing one). Once
//     read, or claimed, with system identifier X, every later read says X.
//     A cached entry is used only by a segment whose system identifier is
//     X; any other misses and reads the record, which refuses it.
//   - Only someone outside logship can make it change: by deleting the
//     source's prefix, or putting another store behind the same address.
//     Entries are keyed by the store's ID (for S3 with its endpoint and
//     region) and the source, and trusted for sourceCacheTTL only; then the
//     record is read again (and claimed again if it is gone). Such a reset
//     can cost at most that long of segments pushed without a source
//     record or, if another cluster claimed the emptied source meanwhile,
//     into it; each one's record names its system, which verify reports.
//   - "Encrypted" grows but never shrinks: the record's flag is set at the
//     claim, and the marker (catalog/encrypted) that an encrypting push or
//     backup adds later is create-only and never deleted. So a cached
//     "encrypted" (the record said it, or this cache saw or wrote the
//     marker) holds for ever: a clear push is refused at once, an
//     encrypting one skips the marker's PUT. A cached "not encrypted" is
//     never trusted by a clear push: it reads the marker every time
//     (GuardPlaintext), so that one host turning encryption on stops the
//     clear pushes of every other host at their next file.
//   - The cache is only ever a shortcut: an entry that cannot be read,
//     written or parsed is no entry, and the push reads the record.

// sourceCacheDir is the folder of the cache beside archive_status in
// pg_wal (not logship-pushed, whose every entry is a marker of a file
// pushed ahead).
const sourceCacheDir = "logship-cache"

// sourceCacheTTL bounds how long a cached source record stands for the
// record itself (see above): one read per this long instead of one per
// segment.
const sourceCacheTTL = 5 * time.Minute

// SourceCache remembers the source records that pushes checked, a file per
// store and source in a folder, for sourceCacheTTL. Safe for concurrent
// use: the pushes of one wal-push call share one, and so may a
// long-running shipper.
type SourceCache struct {
	dir string
	now func() time.Time
	mu  sync.Mutex // pushes that miss together read the record once
}

// NewSourceCache keeps the cache in dir, created when first written.
func NewSourceCache(dir string) *SourceCache {
	return &SourceCache{dir: dir, now: time.Now}
}

// cachedSource is one cache file.
type cachedSource struct {
	Store       string `json:"store"`
	Source      string `json:"source"`
	SystemID    uint64 `json:"system_id,string"`
	SegmentSize uint64 `json:"segment_size"`
	// Encrypted: the record says so, or the marker exists. Clear pushes
	// are refused (unless --allow-plaintext).
	Encrypted bool `json:"encrypted,omitempty"`
	// Checked is when the record was last read or claimed.
	Checked time.Time `json:"checked"`
}

func (sc *SourceCache) file(storeID, source string) string {
	sum := sha256.Sum256([]byte(storeID + "\x00" + source))
	return filepath.Join(sc.dir, "source-"+hex.EncodeToString(sum[:8])+".json")
}

// get returns the entry of cat's source, if there is a fresh one that a
// file with header hdr (nil for history and backup files) may use.
func (sc *SourceCache) get(cat *catalog.Catalog, hdr *pg.SegmentHeader) (cachedSource, bool) {
	id, source := cat.StoreID(), cat.SourceName()
	b, err := os.ReadFile(sc.file(id, source))
	if err != nil {
		return cachedSource{}, false
	}
	var e cachedSource
	if json.Unmarshal(b, &e) != nil || e.Store != id || e.Source != source {
		return cachedSource{}, false
	}
	// A clock set back makes the entry look young: it is not trusted.
	if age := sc.now().Sub(e.Checked); age < 0 || age > sourceCacheTTL {
		return cachedSource{}, false
	}
	if hdr != nil && hdr.SystemID != e.SystemID {
		return cachedSource{}, false
	}
	return e, true
}

// put writes e, atomically; a failure leaves no entry, which costs a read.
func (sc *SourceCache) put(e cachedSource) {
	if err := os.MkdirAll(sc.dir, 0o700); err != nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	f, err := os.CreateTemp(sc.dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), sc.file(e.Store, e.Source)) != nil {
		_ = os.Remove(f.Name())
	}
}

// checkSource makes sure the file with header hdr belongs to the source's
// cluster and may be stored as opts say (in clear or not), claiming the
// source on its first segment. A fresh entry of opts.SourceCache stands
// for the record's read.
func checkSource(ctx context.Context, cat *catalog.Catalog, hdr *pg.SegmentHeader, opts PushOptions) error {
	sc := opts.SourceCache
	if sc == nil {
		_, _, err := verifySource(ctx, cat, hdr, opts)
		return err
	}
	e, ok := sc.get(cat, hdr)
	if !ok {
		sc.mu.Lock()
		// Another push of the same call may have read it meanwhile.
		if e, ok = sc.get(cat, hdr); !ok {
			defer sc.mu.Unlock()
			return sc.fill(ctx, cat, hdr, opts)
		}
		sc.mu.Unlock()
	}
	return sc.guard(ctx, cat, hdr, e, opts)
}

// fill checks the source against the store, and caches what it read.
func (sc *SourceCache) fill(ctx context.Context, cat *catalog.Catalog, hdr *pg.SegmentHeader, opts PushOptions) error {
	src, found, err := verifySource(ctx, cat, hdr, opts)
	if err != nil || !found {
		return err
	}
	// An encrypting push that passed made sure the marker exists.
	sc.put(cachedSource{Store: cat.StoreID(), Source: cat.SourceName(), SystemID: src.SystemID, SegmentSize: src.SegmentSize,
		Encrypted: src.Encrypted || opts.Encode.Encrypt != nil, Checked: sc.now().UTC()})
	return nil
}

// guard is checkSource for a cached record: no request, except the
// marker's look-up by a clear push into a source not known encrypted, and
// the marker's PUT by the first encrypting push that finds it so.
func (sc *SourceCache) guard(ctx context.Context, cat *catalog.Catalog, hdr *pg.SegmentHeader, e cachedSource, opts PushOptions) error {
	encrypting := opts.Encode.Encrypt != nil
	src := catalog.Source{Name: cat.SourceName(), SystemID: e.SystemID, SegmentSize: e.SegmentSize, Encrypted: e.Encrypted}
	err := cat.GuardPlaintext(ctx, src, encrypting, opts.AllowPlaintext, opts.marked)
	if !e.Encrypted && (encrypting && err == nil || errors.Is(err, catalog.ErrPlaintextRefused)) {
		e.Encrypted = true // the marker exists, and stays
		sc.put(e)
	}
	if err != nil || hdr == nil {
		return err
	}
	return src.Check(hdr.SystemID)
}

// verifySource checks the file against the source record read from the
// store, claiming the source on its first segment. found is false when
// there is no record and the file (a history or backup file, which carries
// no system identifier) cannot claim it.
func verifySource(ctx context.Context, cat *catalog.Catalog, hdr *pg.SegmentHeader, opts PushOptions) (catalog.Source, bool, error) {
	encrypting := opts.Encode.Encrypt != nil
	marked := opts.marked
	switch {
	case marked == nil:
		marked = cat.MarkerProbe(ctx, encrypting, opts.AllowPlaintext)
	case !encrypting && !opts.AllowPlaintext:
		go marked() // its round trip overlaps the record's read
	}
	src, err := cat.Source(ctx)
	if errors.Is(err, catalog.ErrNoSource) {
		if hdr == nil {
			return src, false, nil
		}
		src, err = cat.ClaimSource(ctx, catalog.Source{SystemID: hdr.SystemID, SegmentSize: uint64(hdr.SegmentSize), Created: time.Now().UTC(), Encrypted: encrypting})
		if err != nil {
			return src, false, err
		}
		// Another push may have claimed it first.
		return src, true, cat.GuardPlaintext(ctx, src, encrypting, opts.AllowPlaintext, marked)
	}
	if err != nil {
		return src, false, err
	}
	if err := cat.GuardPlaintext(ctx, src, encrypting, opts.AllowPlaintext, marked); err != nil {
		return src, true, err
	}
	if hdr == nil {
		return src, true, nil
	}
	return src, true, src.Check(hdr.SystemID)
}

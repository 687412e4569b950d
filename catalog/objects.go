package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// The catalog owns every key of a source and every verified read of the
// objects its records describe: callers name WAL files, backups and marks,
// never keys, and never talk to the store themselves. An object is opened
// in one place (openChecked) and checked there against what its record
// says before any byte of it is used.

// ErrNotExist is the answer for an object or record that is positively
// absent (not a network error); it is the store's own value, so errors.Is
// holds with either.
var ErrNotExist = store.ErrNotExist

// ErrExist is the answer of a create-only write whose object is already
// there; the stored object is left untouched.
var ErrExist = store.ErrExist

// ErrMissingObject means the catalog records an object the store does not
// have: the store lost it, so its absence is damage, not the end of the
// archive.
var ErrMissingObject = errors.New("recorded object is missing from the store")

// ErrRecordMismatch means a stored object is not what its record says:
// another file, size or checksum than the one recorded.
var ErrRecordMismatch = errors.New("stored object does not match its record")

// StoreURL names the store the catalog lives in, as a URL without secrets
// (what --store accepts).
func (c *Catalog) StoreURL() string { return c.st.String() }

func (c *Catalog) walKey(name string) string { return c.key("wal/" + name) }

// backupPrefix is where the objects of backup id live.
func (c *Catalog) backupPrefix(id string) string { return c.key("backups/" + id + "/") }

// markObjectKey is where a mark is kept as an object of its own (JSON in
// the object format), from which catalog rebuild restores its record.
func (c *Catalog) markObjectKey(name string) string { return c.key("marks/" + name) }

// groupMarkKey is where the record of group mark name of group is stored:
// outside every source prefix, since it belongs to several sources.
func groupMarkKey(group, name string) string { return "_groups/" + group + "/" + name + ".json" }

// listKeys lists the keys under prefix, in the store's order, for which
// keep (given the key without prefix) says yes; a nil keep takes them all.
// The listing is finished before the caller acts on a key, so deleting or
// writing under prefix never races the listing.
func (c *Catalog) listKeys(ctx context.Context, prefix string, keep func(rest string) bool) ([]string, error) {
	var keys []string
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		if keep == nil || keep(strings.TrimPrefix(oi.Key, prefix)) {
			keys = append(keys, oi.Key)
		}
		return nil
	})
	return keys, err
}

// Object is a stored object open for reading. Its header was checked
// against its record when it was opened; its body is checked as it is
// read: Read reports io.EOF only once size and checksum matched.
type Object struct {
	or *object.Reader
	rc io.ReadCloser
}

// Header is the object's checked header.
func (o *Object) Header() object.Header { return o.or.Header() }

func (o *Object) Read(p []byte) (int, error) { return o.or.Read(p) }

// Close releases the object.
func (o *Object) Close() error {
	o.or.Close()
	return o.rc.Close()
}

// expect is what a record says a stored object holds. Zero fields are not
// checked (an object without record is only checked against its key).
type expect struct {
	kind       object.Kind
	name       string
	rawSize    int64 // checked with sha256; -1: the record keeps no size
	sha256     string
	storedSize int64
	systemID   uint64 // of a WAL segment
	// version is the version of the object that the record names: the
	// one read (see get); "" reads the key's current object.
	version string
}

// checkRecord compares an object's header with its record.
func checkRecord(h object.Header, key string, w expect) error {
	switch {
	case w.kind != 0 && h.Kind != w.kind:
		return fmt.Errorf("read %s: %w: object holds a %s, want a %s", key, ErrRecordMismatch, h.Kind, w.kind)
	case w.name != "" && h.Name != w.name:
		return fmt.Errorf("%s: %w: stored object is %q, not %s: the store is damaged", key, ErrRecordMismatch, h.Name, w.name)
	case w.sha256 != "" && w.rawSize >= 0 && h.RawSize != w.rawSize:
		return fmt.Errorf("%s: %w: stored object holds %d bytes, the record says %d", key, ErrRecordMismatch, h.RawSize, w.rawSize)
	case w.sha256 != "" && !strings.EqualFold(h.ChecksumHex(), w.sha256):
		return fmt.Errorf("%s: %w: stored object has sha256 %s, the record says %s", key, ErrRecordMismatch, h.ChecksumHex(), w.sha256)
	case w.storedSize > 0 && h.ObjectSize() != w.storedSize:
		return fmt.Errorf("%s: %w: stored object is %d bytes, the record says %d", key, ErrRecordMismatch, h.ObjectSize(), w.storedSize)
	}
	if w.systemID != 0 {
		if s, ok := h.Meta[MetaSystemID]; ok && s != strconv.FormatUint(w.systemID, 10) {
			return fmt.Errorf("%s: %w: stored object comes from PostgreSQL system %s, the record says %d", key, ErrWrongSystem, s, w.systemID)
		}
	}
	return nil
}

// openChecked opens the object at key (exactly the version the record
// names, if any: see get) and checks its header against w. An absent
// object is an error wrapping ErrNotExist.
func (c *Catalog) openChecked(ctx context.Context, key string, w expect) (*Object, error) {
	rc, err := c.get(ctx, key, w.version)
	return c.checkOpened(key, w, rc, err)
}

// checkOpened checks the object rc that a get of key answered (or err).
func (c *Catalog) checkOpened(key string, w expect, rc io.ReadCloser, err error) (*Object, error) {
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	or, err := c.newReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	o := &Object{or: or, rc: rc}
	if err := checkRecord(or.Header(), key, w); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// walRecords lists every record of the WAL file name (normally one).
func (c *Catalog) walRecords(ctx context.Context, name string) ([]WALRecord, error) {
	prefix := c.walRecordPrefix()
	var recs []WALRecord
	err := c.st.List(ctx, prefix+name+recordSep, func(oi store.ObjectInfo) error {
		r, err := parseWALRecordKey(oi.Key, prefix)
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// OpenWAL opens the stored object of the WAL file name, checked against
// its record: size, SHA-256, stored size and system identifier, besides
// the name its header gives. An absent object is an error wrapping
// ErrNotExist only when the catalog agrees: an object that is recorded but
// missing is ErrMissingObject, and one whose records could not be listed
// is that error, so that neither reads as the end of the archive.
//
// An object without any record is served checked against its own header
// only, as before records were checked: wal-push stores the object first
// and its record right after, so a crash between the two leaves the last
// segment of a dead primary in that state, and recovery needs it.
func (c *Catalog) OpenWAL(ctx context.Context, name string) (*Object, error) {
	type found struct {
		recs []WALRecord
		err  error
	}
	lookup := make(chan found, 1)
	go func() { // one listing request, while the object is fetched
		recs, err := c.walRecords(ctx, name)
		lookup <- found{recs, err}
	}()
	// The key's current object, fetched at once: on a store without
	// versions (or records without version ids) it is what is read, and
	// the listing costs no time.
	o, err := c.openChecked(ctx, c.walKey(name), expect{name: name})
	f := <-lookup
	if f.err != nil {
		if o != nil {
			o.Close()
		}
		return nil, fmt.Errorf("look up the record of %s: %w", name, f.err)
	}
	return c.finishWAL(ctx, name, o, err, f.recs)
}

// finishWAL ends OpenWAL once both the key's object (o, err) and the
// records of name are known: the recorded version when a record names one
// and the store keeps versions, else the key's object, served only if it
// matches one of its records, or has none.
func (c *Catalog) finishWAL(ctx context.Context, name string, o *Object, err error, recs []WALRecord) (*Object, error) {
	if !c.versioned() || !namesVersion(recs) {
		return c.checkWAL(name, o, err, recs)
	}
	v, verr := c.openWALVersion(ctx, name, recs)
	if v != nil || ctx.Err() != nil {
		if o != nil {
			o.Close()
		}
		return v, verr
	}
	o, err = c.checkWAL(name, o, err, recs)
	if err != nil {
		err = fmt.Errorf("%w (and its recorded version: %v)", err, verr)
	}
	return o, err
}

func namesVersion(recs []WALRecord) bool {
	for _, r := range recs {
		if r.VersionID != "" {
			return true
		}
	}
	return false
}

// openWALVersion opens the version of name that a record names, checked
// against that record, trying the records in turn. When none can be read
// whole it answers no object, and the first failure: the caller then uses
// the key's current object, as get falls back (a version gone, or not
// readable with these credentials). Several records of one name are rare:
// a copied store, or records someone else added; with --s3-read-original
// the store serves only the version logship wrote first.
func (c *Catalog) openWALVersion(ctx context.Context, name string, recs []WALRecord) (*Object, error) {
	key := c.walKey(name)
	var first error
	for _, r := range recs {
		if r.VersionID == "" {
			continue
		}
		// Exactly this version, without get's fallback: the key's
		// current object is checked against every record after.
		rc, err := c.st.(store.VersionedStore).GetVersion(ctx, key, r.VersionID)
		o, err := c.checkOpened(key, walExpect(r), rc, err)
		if err == nil {
			return o, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func walExpect(r WALRecord) expect {
	return expect{name: r.Name, rawSize: r.RawSize, sha256: r.SHA256, storedSize: r.StoredSize, systemID: r.SystemID, version: r.VersionID}
}

// checkWAL finishes OpenWAL: o (or err) is the key's object, recs the
// records of name.
func (c *Catalog) checkWAL(name string, o *Object, err error, recs []WALRecord) (*Object, error) {
	key := c.walKey(name)
	switch {
	case errors.Is(err, store.ErrNotExist) && len(recs) > 0:
		return nil, fmt.Errorf("%s: %w: it is recorded in the catalog but %s is not in the store; the store is damaged", name, ErrMissingObject, key)
	case err != nil:
		return nil, err
	}
	for i, r := range recs {
		err = checkRecord(o.Header(), key, walExpect(r))
		if err == nil {
			return o, nil
		}
		if i == len(recs)-1 {
			o.Close()
			return nil, err
		}
	}
	return o, nil
}

// OpenPart opens a backup part, checked against its record.
func (c *Catalog) OpenPart(ctx context.Context, p BackupPart) (*Object, error) {
	return c.openChecked(ctx, p.Key, partExpect(p))
}

func partExpect(p BackupPart) expect {
	return expect{kind: object.KindBackupPart, name: path.Base(p.Key), rawSize: p.RawSize, sha256: p.SHA256, storedSize: p.StoredSize, version: p.VersionID}
}

// OpenManifest opens the backup_manifest of backup b, checked against the
// backup's record.
func (c *Catalog) OpenManifest(ctx context.Context, b Backup) (*Object, error) {
	return c.openChecked(ctx, b.ManifestKey, manifestExpect(b))
}

// manifestExpect is what a backup record says of its manifest: its
// checksum, but no size.
func manifestExpect(b Backup) expect {
	return expect{kind: object.KindMeta, name: path.Base(b.ManifestKey), rawSize: -1, sha256: b.ManifestSHA256, version: b.ManifestVersionID}
}

// PutWAL stores obj as the object of the WAL file name, create-only. If
// the name is stored already, the error wraps ErrExist and the stored
// object is kept: compare it (WALHeader) to tell a retry from a conflict.
// The version id the store gave the object goes into the record that
// AddWAL of name writes next.
func (c *Catalog) PutWAL(ctx context.Context, name string, obj *object.Encoded) error {
	id, err := c.put(ctx, c.walKey(name), obj.Reader(), obj.Size())
	if err == nil {
		c.walVersions.set(name, putWAL{id: id, sha256: obj.Header.ChecksumHex(), storedSize: obj.Size()})
	}
	return err
}

// HasWAL reports whether the object of the WAL file name is stored. It
// answers false with an error when the store could not say.
func (c *Catalog) HasWAL(ctx context.Context, name string) (bool, error) {
	_, err := c.st.Stat(ctx, c.walKey(name))
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// WALHeader reads the header of the stored object of the WAL file name,
// to compare it with a file being pushed again.
func (c *Catalog) WALHeader(ctx context.Context, name string) (object.Header, error) {
	return c.readHeader(ctx, c.walKey(name))
}

// PutPart stores obj, a part of backup id, create-only, and returns the
// part's record.
func (c *Catalog) PutPart(ctx context.Context, id string, obj *object.Encoded) (BackupPart, error) {
	return c.putPart(ctx, c.backupPrefix(id)+obj.Header.Name, obj)
}

func (c *Catalog) putPart(ctx context.Context, key string, obj *object.Encoded) (BackupPart, error) {
	version, err := c.put(ctx, key, obj.Reader(), obj.Size())
	if err != nil {
		return BackupPart{}, err
	}
	return BackupPart{Key: key, RawSize: obj.Header.RawSize, SHA256: obj.Header.ChecksumHex(), StoredSize: obj.Size(), VersionID: version}, nil
}

// PutManifest stores obj as the backup_manifest of b, create-only, and
// sets the record's ManifestKey, ManifestSHA256 and ManifestVersionID.
func (c *Catalog) PutManifest(ctx context.Context, b *Backup, obj *object.Encoded) error {
	key := c.backupPrefix(b.ID) + obj.Header.Name
	b.ManifestKey, b.ManifestSHA256 = key, obj.Header.ChecksumHex()
	var err error
	b.ManifestVersionID, err = c.put(ctx, key, obj.Reader(), obj.Size())
	return err
}

// HasGroupMark reports whether group already has a mark called name.
// Group marks live in the store beside the sources, not inside any one.
func (c *Catalog) HasGroupMark(ctx context.Context, group, name string) (bool, error) {
	key := groupMarkKey(group, name)
	_, err := c.st.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("stat %s: %w", key, err)
}

// PutGroupMark stores the record v of mark name of group, create-only, as
// a document in the object format like every other one logship stores.
func (c *Catalog) PutGroupMark(ctx context.Context, group, name string, v any) error {
	key := groupMarkKey(group, name)
	if err := c.putDoc(ctx, key, name+".json", v); err != nil {
		return fmt.Errorf("store group mark %s: %w", key, err)
	}
	return nil
}

package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/mem"
)

// versionedStore is a versioned bucket in memory: the current objects in
// a mem.Store, and every version ever written beside them. Like S3, an
// overwrite or a delete of a key changes only what the key reads now.
type versionedStore struct {
	*mem.Store
	mu       sync.Mutex
	versions map[string]map[string][]byte // key → version id → bytes
	n        int
	// id makes the n-th version id; AWS's hold '/' and '+'.
	id func(n int) string
	// deny refuses every read by version, as S3 does to credentials
	// without s3:GetObjectVersion (the primary's).
	deny bool
}

var _ store.VersionedStore = (*versionedStore)(nil)

func newVersionedStore(id func(n int) string) *versionedStore {
	return &versionedStore{Store: mem.New(), versions: map[string]map[string][]byte{}, id: id}
}

func (s *versionedStore) PutVersion(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	if err := s.Store.Put(ctx, key, bytes.NewReader(b), size); err != nil {
		return "", err
	}
	return s.addVersion(key, b), nil
}

func (s *versionedStore) addVersion(key string, b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	id := s.id(s.n)
	if s.versions[key] == nil {
		s.versions[key] = map[string][]byte{}
	}
	s.versions[key][id] = b
	return id
}

func (s *versionedStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	_, err := s.PutVersion(ctx, key, body, size)
	return err
}

func (s *versionedStore) GetVersion(ctx context.Context, key, id string) (io.ReadCloser, error) {
	if id == "" {
		return s.Get(ctx, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deny {
		return nil, fmt.Errorf("get %s version %s: AccessDenied", key, id)
	}
	b, ok := s.versions[key][id]
	if !ok {
		return nil, fmt.Errorf("get %s version %s: %w", key, id, store.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// overwrite is a PUT without If-None-Match, as stolen credentials do it.
func (s *versionedStore) overwrite(t *testing.T, key string, b []byte) {
	t.Helper()
	ctx := context.Background()
	if err := s.Store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	s.addVersion(key, b)
}

func awsLikeID(n int) string { return fmt.Sprintf("3/L4kqtJl+cpXroDTDm%06d", n) }
func plainID(n int) string   { return fmt.Sprintf("0194A1B2C3D4E5F6-%d", n) }

// TestVersionIDPinsReads: records of objects written to a versioned store
// carry the version ids; once the objects are overwritten with other valid
// objects and deleted, every read still gets exactly what was written.
func TestVersionIDPinsReads(t *testing.T) {
	for _, idf := range []func(int) string{awsLikeID, plainID} {
		t.Run(idf(0), func(t *testing.T) { testVersionIDPinsReads(t, idf) })
	}
}

func testVersionIDPinsReads(t *testing.T, idf func(int) string) {
	ctx := context.Background()
	st := newVersionedStore(idf)
	cat := catalog.New(st, "src")
	seg1, seg2 := fxSeg(1, 3), fxSeg(1, 4)
	want := map[string][]byte{}
	for i, name := range []string{seg1, seg2} {
		enc, raw := encodeSegment(t, name, uint64(3+i), fxSystem)
		want[name] = raw
		if err := cat.PutWAL(ctx, name, enc); err != nil {
			t.Fatal(err)
		}
		if err := cat.AddWAL(ctx, recordOf(name, enc, fxSystem)); err != nil {
			t.Fatal(err)
		}
	}
	var recs []catalog.WALRecord
	if err := cat.ListWAL(ctx, func(r catalog.WALRecord) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	// Every put makes a version: object 1, its record 2, object 3.
	if len(recs) != 2 || recs[0].VersionID != idf(1) || recs[1].VersionID != idf(3) {
		t.Fatalf("records %+v, want the version ids %q and %q", recs, idf(1), idf(3))
	}
	if len(cat.StrayKeys()) != 0 {
		t.Fatalf("record keys listed as stray: %v", cat.StrayKeys())
	}

	b := catalog.Backup{ID: "20261127T050000.000Z", Source: "src", SystemID: fxSystem}
	partRaw := []byte("tar bytes of the backup")
	obj, _ := object.Encode(bytes.NewReader(partRaw), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	part, err := cat.PutPart(ctx, b.ID, obj)
	if err != nil {
		t.Fatal(err)
	}
	tsObj, _ := object.Encode(bytes.NewReader(partRaw), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	tsPart, err := cat.PutPartIn(ctx, b.ID, "tblspc-16384", tsObj)
	if err != nil {
		t.Fatal(err)
	}
	b.Parts = []catalog.BackupPart{part}
	b.Tablespaces = []catalog.BackupTablespace{{OID: 16384, Location: "/ts", Parts: []catalog.BackupPart{tsPart}}}
	manRaw := []byte(`{"PostgreSQL-Backup-Manifest-Version": 1}`)
	man, _ := object.Encode(bytes.NewReader(manRaw), object.KindMeta, "backup_manifest", nil, object.EncodeOptions{})
	if err := cat.PutManifest(ctx, &b, man); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := cat.FindBackup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Parts[0].VersionID == "" || got.Tablespaces[0].Parts[0].VersionID == "" || got.ManifestVersionID == "" {
		t.Fatalf("backup record without version ids: %+v", got)
	}

	// The attack: every data object overwritten with another valid object
	// of the same name, then every other one deleted.
	other, _ := encodeSegment(t, seg1, 9, fxSystem)
	st.overwrite(t, cat.WALKey(seg1), other.Bytes())
	st.overwrite(t, cat.WALKey(seg2), []byte("ransom"))
	st.Store.Delete(ctx, cat.WALKey(seg2))
	evil, _ := object.Encode(strings.NewReader("evil tar"), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	st.overwrite(t, part.Key, evil.Bytes())
	st.Store.Delete(ctx, tsPart.Key)
	st.Store.Delete(ctx, b.ManifestKey)

	for name, raw := range want {
		if data, err := readAll(cat.OpenWAL(ctx, name)); err != nil || !bytes.Equal(data, raw) {
			t.Errorf("%s after the attack: %d bytes, %v; want the %d written", name, len(data), err, len(raw))
		}
	}
	if err := cat.CheckStored(ctx, got); err != nil {
		t.Errorf("check of the attacked backup: %v", err)
	}
	for _, p := range got.AllParts() {
		if data, err := readAll(cat.OpenPart(ctx, p)); err != nil || !bytes.Equal(data, partRaw) {
			t.Errorf("part %s after the attack: %q, %v", p.Key, data, err)
		}
	}
	if data, err := readAll(cat.OpenManifest(ctx, got)); err != nil || !bytes.Equal(data, manRaw) {
		t.Errorf("manifest after the attack: %q, %v", data, err)
	}
}

func readAll(o *catalog.Object, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// TestVersionIDRetriedPush: a push that finds the object stored (the
// record lost in a crash, or PostgreSQL retrying) knows no version id; it
// must not add a second record beside the one that has it.
func TestVersionIDRetriedPush(t *testing.T) {
	ctx := context.Background()
	st := newVersionedStore(plainID)
	name := fxSeg(1, 3)
	enc, _ := encodeSegment(t, name, 3, fxSystem)
	cat := catalog.New(st, "src")
	if err := cat.PutWAL(ctx, name, enc); err != nil {
		t.Fatal(err)
	}
	r := recordOf(name, enc, fxSystem)
	if err := cat.AddWAL(ctx, r); err != nil {
		t.Fatal(err)
	}
	retry := catalog.New(st, "src")
	if err := retry.PutWAL(ctx, name, enc); !errors.Is(err, catalog.ErrExist) {
		t.Fatalf("second put: %v", err)
	}
	if err := retry.AddWAL(ctx, r); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range st.Keys() {
		if strings.Contains(k, "/catalog/wal/") {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 || !strings.HasSuffix(keys[0], "~v"+plainID(1)) {
		t.Errorf("records after a retried push: %v, want the one with version %s", keys, plainID(1))
	}

	// A push whose object made it but whose record did not: recorded
	// without an id, and read as the key.
	name2 := fxSeg(1, 4)
	enc2, raw2 := encodeSegment(t, name2, 4, fxSystem)
	if _, err := st.PutVersion(ctx, retry.WALKey(name2), enc2.Reader(), enc2.Size()); err != nil {
		t.Fatal(err)
	}
	if err := retry.AddWAL(ctx, recordOf(name2, enc2, fxSystem)); err != nil {
		t.Fatal(err)
	}
	if found, err := retry.LookupWAL(ctx, name2); err != nil || found.VersionID != "" {
		t.Errorf("record of a retried push: %+v, %v; want one without a version id", found, err)
	}
	if data, err := readAll(retry.OpenWAL(ctx, name2)); err != nil || !bytes.Equal(data, raw2) {
		t.Errorf("read of a record without version id: %d bytes, %v", len(data), err)
	}
}

// TestVersionIDFallback: a recorded version the store does not have (a
// copy of the bucket gives every version a new id) reads the key's current
// object, checked against the record as always.
func TestVersionIDFallback(t *testing.T) {
	ctx := context.Background()
	st := newVersionedStore(plainID)
	cat := catalog.New(st, "src")
	name := fxSeg(1, 3)
	enc, raw := encodeSegment(t, name, 3, fxSystem)
	if err := st.Put(ctx, cat.WALKey(name), enc.Reader(), enc.Size()); err != nil {
		t.Fatal(err)
	}
	r := recordOf(name, enc, fxSystem)
	r.VersionID = "copied-elsewhere"
	if err := cat.AddWAL(ctx, r); err != nil {
		t.Fatal(err)
	}
	if data, err := readAll(cat.OpenWAL(ctx, name)); err != nil || !bytes.Equal(data, raw) {
		t.Errorf("read with an unknown version id: %d bytes, %v", len(data), err)
	}
	// The fallback is checked: another object under the key is refused.
	other, _ := encodeSegment(t, name, 9, fxSystem)
	st.overwrite(t, cat.WALKey(name), other.Bytes())
	if _, err := readAll(cat.OpenWAL(ctx, name)); !errors.Is(err, catalog.ErrRecordMismatch) {
		t.Errorf("fallback to another object: %v, want ErrRecordMismatch", err)
	}
	// A record whose version is gone and whose key is deleted is damage.
	st.Store.Delete(ctx, cat.WALKey(name))
	if _, err := readAll(cat.OpenWAL(ctx, name)); !errors.Is(err, catalog.ErrMissingObject) {
		t.Errorf("version and key gone: %v, want ErrMissingObject", err)
	}
}

// TestVersionIDNoVersionRight: credentials that may not read versions (the
// primary's, reading a parent backup's manifest or a history file) read
// the key, checked against the record.
func TestVersionIDNoVersionRight(t *testing.T) {
	ctx := context.Background()
	st := newVersionedStore(awsLikeID)
	cat := catalog.New(st, "src")
	name := fxSeg(1, 3)
	enc, raw := encodeSegment(t, name, 3, fxSystem)
	if err := cat.PutWAL(ctx, name, enc); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddWAL(ctx, recordOf(name, enc, fxSystem)); err != nil {
		t.Fatal(err)
	}
	b := catalog.Backup{ID: "20261127T050000.000Z"}
	manRaw := []byte("manifest")
	man, _ := object.Encode(bytes.NewReader(manRaw), object.KindMeta, "backup_manifest", nil, object.EncodeOptions{})
	if err := cat.PutManifest(ctx, &b, man); err != nil || b.ManifestVersionID == "" {
		t.Fatalf("put manifest: %v (version %q)", err, b.ManifestVersionID)
	}
	st.deny = true
	if data, err := readAll(cat.OpenWAL(ctx, name)); err != nil || !bytes.Equal(data, raw) {
		t.Errorf("WAL without the right to read versions: %d bytes, %v", len(data), err)
	}
	if data, err := readAll(cat.OpenManifest(ctx, b)); err != nil || !bytes.Equal(data, manRaw) {
		t.Errorf("manifest without the right to read versions: %q, %v", data, err)
	}
	// Both failing: the error says why the version could not be read.
	st.Store.Delete(ctx, b.ManifestKey)
	if _, err := readAll(cat.OpenManifest(ctx, b)); !errors.Is(err, catalog.ErrNotExist) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("manifest gone, version refused: %v", err)
	}
}

// TestVersionIDNotVersioned: on a store without versions the records are
// what they always were, without a version field.
func TestVersionIDNotVersioned(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	cat := catalog.New(st, "src")
	name := fxSeg(1, 3)
	enc, _ := encodeSegment(t, name, 3, fxSystem)
	if err := cat.PutWAL(ctx, name, enc); err != nil {
		t.Fatal(err)
	}
	r := recordOf(name, enc, fxSystem)
	if err := cat.AddWAL(ctx, r); err != nil {
		t.Fatal(err)
	}
	key := "src/catalog/wal/" + strings.Join([]string{name, fmt.Sprint(r.RawSize), r.SHA256, fmt.Sprint(r.StoredSize), fmt.Sprint(fxSystem)}, "~")
	if _, err := st.Stat(ctx, key); err != nil {
		t.Errorf("record key: %v; have %v", err, st.Keys())
	}
	obj, _ := object.Encode(strings.NewReader("tar"), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	part, err := cat.PutPart(ctx, "20261127T050000.000Z", obj)
	if err != nil || part.VersionID != "" {
		t.Errorf("part on a store without versions: %+v, %v", part, err)
	}
}

// TestVersionIDSkipsBadRecord: a record (one someone else added) naming a
// version that is not what it says is passed over for the next record.
func TestVersionIDSkipsBadRecord(t *testing.T) {
	ctx := context.Background()
	// Later versions sort first, so that the added record is tried first.
	st := newVersionedStore(func(n int) string { return fmt.Sprintf("%03d", 999-n) })
	cat := catalog.New(st, "src")
	name := fxSeg(1, 3)
	enc, raw := encodeSegment(t, name, 3, fxSystem)
	if err := cat.PutWAL(ctx, name, enc); err != nil {
		t.Fatal(err)
	}
	r := recordOf(name, enc, fxSystem)
	if err := cat.AddWAL(ctx, r); err != nil {
		t.Fatal(err)
	}
	st.overwrite(t, cat.WALKey(name), []byte("ransom"))
	forged := r
	forged.VersionID = fmt.Sprintf("%03d", 999-st.n)
	if err := cat.AddWAL(ctx, forged); err != nil {
		t.Fatal(err)
	}
	var versions []string
	cat.ListWAL(ctx, func(r catalog.WALRecord) error { versions = append(versions, r.VersionID); return nil })
	if len(versions) != 2 || versions[0] != forged.VersionID {
		t.Fatalf("records name the versions %v, want the added one (%s) first", versions, forged.VersionID)
	}
	if data, err := readAll(cat.OpenWAL(ctx, name)); err != nil || !bytes.Equal(data, raw) {
		t.Errorf("read past a bad record: %d bytes, %v", len(data), err)
	}
}

// TestVersionIDPurge: purge deletes record keys that carry a version id,
// and what it keeps still reads by version.
func TestVersionIDPurge(t *testing.T) {
	ctx := context.Background()
	st := newVersionedStore(awsLikeID)
	cat := catalog.New(st, "p")
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 7, SegmentSize: segSize}); err != nil {
		t.Fatal(err)
	}
	for s := uint64(1); s <= 7; s++ {
		name := seg(1, s)
		enc, _ := object.Encode(strings.NewReader("wal "+name), object.KindWAL, name, nil, object.EncodeOptions{})
		if err := cat.PutWAL(ctx, name, enc); err != nil {
			t.Fatal(err)
		}
		r := catalog.WALRecord{Name: name, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}
		if err := cat.AddWAL(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, s := range []uint64{2, 5} {
		b := backup(fmt.Sprintf("b%d", i+1), 1, s, s+1)
		b.StartTime, b.EndTime = t0.Add(time.Duration(s)*time.Hour), t0.Add(time.Duration(s+1)*time.Hour)
		obj, _ := object.Encode(strings.NewReader("tar"), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
		part, err := cat.PutPart(ctx, b.ID, obj)
		if err != nil {
			t.Fatal(err)
		}
		b.Parts = []catalog.BackupPart{part}
		if err := cat.AddBackup(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	p, err := cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 1}, t0.Add(20*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cat.Purge(ctx, p)
	if err != nil || res.Deleted.Backups != 1 || res.Deleted.WALFiles != 4 {
		t.Fatalf("purge: %+v, %v", res.Deleted, err)
	}
	var left []string
	err = cat.ListWAL(ctx, func(r catalog.WALRecord) error {
		if r.VersionID == "" {
			t.Errorf("record of %s lost its version id", r.Name)
		}
		if _, err := readAll(cat.OpenWAL(ctx, r.Name)); err != nil {
			t.Error(err)
		}
		left = append(left, r.Name)
		return nil
	})
	if err != nil || len(left) != 3 || left[0] != seg(1, 5) || len(cat.StrayKeys()) != 0 {
		t.Errorf("records after purge: %v (%v); stray %v", left, err, cat.StrayKeys())
	}
	for _, k := range st.Keys() {
		if strings.Contains(k, seg(1, 1)) || strings.Contains(k, "/b1") {
			t.Errorf("%s left behind by purge", k)
		}
	}
}

package shipper

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/crypt"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// countingStore notes every call to the store it wraps.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (s *countingStore) note(op, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op+" "+key)
}

func (s *countingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *countingStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	s.note("put", key)
	return s.Store.Put(ctx, key, body, size)
}

func (s *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.note("get", key)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	s.note("stat", key)
	return s.Store.Stat(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	s.note("list", prefix)
	return s.Store.List(ctx, prefix, fn)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.note("delete", key)
	return s.Store.Delete(ctx, key)
}

// pushFixture is a file store behind a counter, and a pg_wal folder.
type pushFixture struct {
	t     *testing.T
	st    *countingStore
	cat   *catalog.Catalog
	pgwal string
}

func newPushFixture(t *testing.T) *pushFixture {
	t.Helper()
	fs, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: fs}
	pgwal := filepath.Join(t.TempDir(), "pg_wal")
	if err := os.MkdirAll(filepath.Join(pgwal, "archive_status"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &pushFixture{t: t, st: st, cat: catalog.New(st, "s"), pgwal: pgwal}
}

// segment writes a 1 MiB segment number n of system sysid.
func (f *pushFixture) segment(n int, sysid uint64) string {
	f.t.Helper()
	const segSize = 1 << 20
	b := make([]byte, segSize)
	for i := 40; i < len(b); i++ {
		b[i] = byte(i/4096) ^ byte(n) ^ byte(i%7)
	}
	binary.LittleEndian.PutUint16(b[0:], 0xD110)
	binary.LittleEndian.PutUint16(b[2:], 0x0002)
	binary.LittleEndian.PutUint32(b[4:], 1)
	binary.LittleEndian.PutUint64(b[8:], uint64(n)*segSize)
	binary.LittleEndian.PutUint64(b[24:], sysid)
	binary.LittleEndian.PutUint32(b[32:], segSize)
	binary.LittleEndian.PutUint32(b[36:], 8192)
	// 1 MiB segments: 4096 a "log id", so the name of segment n is simple.
	p := filepath.Join(f.pgwal, fmt.Sprintf("00000001%08X%08X", n/4096, n%4096))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// push pushes path as wal-push does and checks the store calls it made.
func (f *pushFixture) push(what, path string, opts PushOptions, want int) (PushResult, error) {
	f.t.Helper()
	f.st.take()
	res, err := PushWALAhead(context.Background(), f.cat, path, 1, opts)
	got := f.st.take()
	if len(got) != want {
		f.t.Errorf("%s: %d store calls, want %d:\n  %s", what, len(got), want, strings.Join(got, "\n  "))
	}
	return res, err
}

// TestPushStoreCalls counts the store calls of wal-push per segment, as
// docs/FORMAT.md states them (on S3 each is one request; the S3 test in
// cmd/logship counts those).
func TestPushStoreCalls(t *testing.T) {
	_, rcp, err := crypt.Generate()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := crypt.ParseRecipients([]string{rcp}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name                string
		opts                PushOptions
		claim, fresh, retry int
	}{
		{"encrypted", PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd, Encrypt: rs}}, 4, 2, 3},
		{"clear", PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd}}, 5, 3, 4},
		{"allow-plaintext", PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd}, AllowPlaintext: true}, 4, 2, 3},
	} {
		t.Run(m.name, func(t *testing.T) {
			f := newPushFixture(t)
			if _, err := f.push("first push, claiming the source", f.segment(1, 42), m.opts, m.claim); err != nil {
				t.Fatal(err)
			}
			seg := f.segment(2, 42)
			if _, err := f.push("fresh segment", seg, m.opts, m.fresh); err != nil {
				t.Fatal(err)
			}
			res, err := f.push("retry of a stored segment", seg, m.opts, m.retry)
			if err != nil || !res.AlreadyStored {
				t.Fatalf("retry: %v, already stored %v", err, res.AlreadyStored)
			}
			// A different file under a stored name is still a conflict.
			b, _ := os.ReadFile(seg)
			b[len(b)-1] ^= 1
			os.WriteFile(seg, b, 0o600)
			if _, err := PushWAL(context.Background(), f.cat, seg, m.opts); !errors.Is(err, ErrConflict) {
				t.Fatalf("changed file under a stored name: %v, want ErrConflict", err)
			}
		})
	}
}

// TestSourceCacheInvariants: the cache never lets a segment of another
// cluster in, never lets a clear push into a source that became encrypted,
// and is trusted for sourceCacheTTL only.
func TestSourceCacheInvariants(t *testing.T) {
	ctx := context.Background()
	f := newPushFixture(t)
	clear := PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd}}
	if _, err := f.push("claim", f.segment(1, 42), clear, 5); err != nil {
		t.Fatal(err)
	}

	// Another cluster's segment misses the cache and meets the record.
	if _, err := f.push("other cluster", f.segment(2, 43), clear, 2); !errors.Is(err, catalog.ErrWrongSystem) {
		t.Fatalf("segment of another system: %v, want ErrWrongSystem", err)
	}

	// Encryption turned on elsewhere (the marker, as an encrypting push on
	// another host writes it): the next clear push here is refused, though
	// the cache said "not encrypted", and stores nothing.
	src, err := f.cat.Source(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cat.GuardPlaintext(ctx, src, true, false, nil); err != nil {
		t.Fatal(err)
	}
	seg3 := f.segment(3, 42)
	if _, err := f.push("clear push after the marker", seg3, clear, 1); !errors.Is(err, catalog.ErrPlaintextRefused) {
		t.Fatalf("clear push into a source marked encrypted: %v, want ErrPlaintextRefused", err)
	}
	// From then on the cache knows: refused without a request.
	if _, err := f.push("clear push, known encrypted", seg3, clear, 0); !errors.Is(err, catalog.ErrPlaintextRefused) {
		t.Fatalf("second clear push: %v, want ErrPlaintextRefused", err)
	}
	allow := clear
	allow.AllowPlaintext = true
	if _, err := f.push("clear push with allow-plaintext", seg3, allow, 2); err != nil {
		t.Fatal(err)
	}

	// Past the TTL the record is read again: a store emptied under the
	// same URL gets its source record back.
	keys := func() []string {
		var ks []string
		f.st.Store.List(ctx, "", func(oi store.ObjectInfo) error { ks = append(ks, oi.Key); return nil })
		return ks
	}
	for _, k := range keys() {
		f.st.Store.Delete(ctx, k)
	}
	if _, err := f.push("emptied store, fresh cache", f.segment(4, 42), allow, 2); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(keys(), "s/catalog/source") {
		t.Fatal("a cached record was read again before its TTL")
	}
	later := time.Now().Add(sourceCacheTTL + time.Second)
	opts := allow
	opts.SourceCache = NewSourceCache(filepath.Join(f.pgwal, sourceCacheDir))
	opts.SourceCache.now = func() time.Time { return later }
	if _, err := f.push("emptied store, cache past its TTL", f.segment(5, 42), opts, 4); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(keys(), "s/catalog/source") {
		t.Fatal("the source record was not claimed again after the TTL")
	}
}

// A cache file that is damaged, or names another store, is no entry.
func TestSourceCacheDamaged(t *testing.T) {
	f := newPushFixture(t)
	opts := PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd}, AllowPlaintext: true}
	if _, err := f.push("claim", f.segment(1, 42), opts, 4); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(f.pgwal, sourceCacheDir, "source-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	os.WriteFile(files[0], []byte("{"), 0o600)
	if _, err := f.push("damaged cache", f.segment(2, 42), opts, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.push("cache rewritten", f.segment(3, 42), opts, 2); err != nil {
		t.Fatal(err)
	}
}

// The pushes of one call share the marker's look-up and the cached record:
// n segments cost 2n calls and one look-up.
func TestPushAheadStoreCalls(t *testing.T) {
	f := newPushFixture(t)
	opts := PushOptions{Encode: object.EncodeOptions{Compression: object.Zstd}}
	if _, err := f.push("claim", f.segment(1, 42), opts, 5); err != nil {
		t.Fatal(err)
	}
	var segs []string
	for n := 2; n <= 4; n++ {
		segs = append(segs, f.segment(n, 42))
		os.WriteFile(filepath.Join(f.pgwal, "archive_status", filepath.Base(segs[len(segs)-1])+".ready"), nil, 0o600)
	}
	f.st.take()
	if _, err := PushWALAhead(context.Background(), f.cat, segs[0], 3, opts); err != nil {
		t.Fatal(err)
	}
	if got := f.st.take(); len(got) != 7 {
		t.Errorf("three segments at once: %d store calls, want 7:\n  %s", len(got), strings.Join(got, "\n  "))
	}
	for _, s := range segs[1:] {
		res, err := PushWALAhead(context.Background(), f.cat, s, 1, opts)
		if got := f.st.take(); err != nil || !res.AlreadyStored || len(got) != 1 {
			t.Errorf("segment pushed ahead: %v, already stored %v, store calls %v; want one", err, res.AlreadyStored, got)
		}
	}
}

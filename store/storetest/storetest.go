// Package storetest is the conformance suite that every store backend runs,
// so that the file and S3 backends answer the contract of package store the
// same way.
package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/logship/logship/store"
)

// Run runs the conformance suite against fresh stores made by newStore.
// Each subtest calls newStore, which must return an empty store (a fresh
// folder or prefix).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("PutExisting", func(t *testing.T) { testPutExisting(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("Absent", func(t *testing.T) { testAbsent(t, newStore(t)) })
	t.Run("ListPrefix", func(t *testing.T) { testListPrefix(t, newStore(t)) })
	t.Run("ListOrder", func(t *testing.T) { testListOrder(t, newStore(t)) })
	t.Run("ListManyPages", func(t *testing.T) { testListManyPages(t, newStore(t)) })
	t.Run("ListStops", func(t *testing.T) { testListStops(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("ConcurrentPut", func(t *testing.T) { testConcurrentPut(t, newStore(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("NestedKeys", func(t *testing.T) { testNestedKeys(t, newStore(t)) })
}

// Data returns n bytes that are the same for the same seed, so that a test
// failure can be reproduced and two puts of "the same content" really are.
func Data(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// Put stores data under key and fails the test on any error.
func Put(t testing.TB, s store.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put %s (%d bytes): %v", key, len(data), err)
	}
}

// Get reads the whole object and fails the test on any error, including an
// error from Close.
func Get(t testing.TB, s store.Store, key string) []byte {
	t.Helper()
	b, err := ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// ReadAll reads the whole object.
func ReadAll(ctx context.Context, s store.Store, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}

// AssertAbsent checks that Stat and Get both answer ErrNotExist for key.
func AssertAbsent(t testing.TB, s store.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if info, err := s.Stat(ctx, key); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("stat %s: got (%+v, %v), want ErrNotExist", key, info, err)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: %v does not match os.ErrNotExist", key, err)
	}
	rc, err := s.Get(ctx, key)
	if err == nil {
		rc.Close()
		t.Errorf("get %s: got a reader, want ErrNotExist", key)
	} else if !errors.Is(err, store.ErrNotExist) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("get %s: %v, want ErrNotExist", key, err)
	}
}

func assertContent(t testing.TB, s store.Store, key string, want []byte) {
	t.Helper()
	got := Get(t, s, key)
	if !bytes.Equal(got, want) {
		t.Errorf("get %s: got %d bytes (%s), want %d bytes (%s)", key, len(got), abbrev(got), len(want), abbrev(want))
	}
	info, err := s.Stat(context.Background(), key)
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(want)) {
		t.Errorf("stat %s: got key %q size %d, want size %d", key, info.Key, info.Size, len(want))
	}
	if info.ModTime.IsZero() {
		t.Errorf("stat %s: zero ModTime", key)
	}
}

func abbrev(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

// list collects a listing; it fails the test on error.
func list(t testing.TB, s store.Store, prefix string) []store.ObjectInfo {
	t.Helper()
	var got []store.ObjectInfo
	err := s.List(context.Background(), prefix, func(oi store.ObjectInfo) error {
		got = append(got, oi)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return got
}

func keysOf(infos []store.ObjectInfo) []string {
	keys := make([]string, len(infos))
	for i, oi := range infos {
		keys[i] = oi.Key
	}
	return keys
}

func testRoundTrip(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"4KiB", 4 << 10},
		{"5MiB", 5 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("roundtrip/%d", tc.size)
			data := Data(uint64(tc.size), tc.size)
			Put(t, s, key, data)
			assertContent(t, s, key, data)
		})
	}
}

func testPutExisting(t *testing.T, s store.Store) {
	ctx := context.Background()
	orig := Data(1, 1000)
	Put(t, s, "dup/a", orig)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"same content", orig},
		{"other content", Data(2, 1000)},
		{"other size", Data(3, 10)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, "dup/a", bytes.NewReader(tc.data), int64(len(tc.data)))
			if !errors.Is(err, store.ErrExist) {
				t.Fatalf("second put: got %v, want ErrExist", err)
			}
			if !errors.Is(err, os.ErrExist) {
				t.Errorf("second put: %v does not match os.ErrExist", err)
			}
			assertContent(t, s, "dup/a", orig)
		})
	}
}

func testSizeMismatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		bodySize int
		size     int64
	}{
		{"short body", 100, 200},
		{"long body", 200, 100},
		{"empty body", 0, 10},
		{"body for empty object", 10, 0},
		{"short large body", 1 << 20, 1<<20 + 1},
		{"long large body", 1<<20 + 1, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("mismatch/%d-%d", tc.bodySize, tc.size)
			err := s.Put(ctx, key, bytes.NewReader(Data(4, tc.bodySize)), tc.size)
			if err == nil {
				t.Fatalf("put of %d bytes as %d: no error", tc.bodySize, tc.size)
			}
			if errors.Is(err, store.ErrExist) {
				t.Errorf("put of %d bytes as %d: %v, must not look like ErrExist", tc.bodySize, tc.size, err)
			}
			AssertAbsent(t, s, key)
			// A failed put must not block a later correct one.
			data := Data(5, 64)
			Put(t, s, key, data)
			assertContent(t, s, key, data)
		})
	}
}

func testAbsent(t *testing.T, s store.Store) {
	Put(t, s, "present/a", []byte("a"))
	for _, key := range []string{"absent", "present/b", "present", "absent/deeper/key"} {
		t.Run(key, func(t *testing.T) { AssertAbsent(t, s, key) })
	}
}

func testListPrefix(t *testing.T, s store.Store) {
	objects := map[string]int{
		"wa":                                   1,
		"wal/000000010000000000000001":         11,
		"wal/000000010000000000000002":         12,
		"wal/00000001000000000000000A":         13,
		"wal/000000010000000000000010.partial": 14,
		"wal/000000020000000000000001":         21,
		"wal/00000002.history":                 3,
		"walx/1":                               4,
		"catalog/wal/000000010000000000000001~16777216~ab~123": 0,
	}
	for key, size := range objects {
		Put(t, s, key, Data(uint64(size), size))
	}
	for _, prefix := range []string{
		"wal/0000000100", "wal/", "wa", "wal/000000010000000000000001",
		"catalog/wal/", "catalog/wal/000000010000000000000001~", "nothing", "wal/3", "",
	} {
		var want []string
		for key := range objects {
			if strings.HasPrefix(key, prefix) {
				want = append(want, key)
			}
		}
		slices.Sort(want)
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			got := list(t, s, prefix)
			if !slices.Equal(keysOf(got), want) {
				t.Fatalf("list %q:\n got %q\nwant %q", prefix, keysOf(got), want)
			}
			for _, oi := range got {
				if oi.Size != int64(objects[oi.Key]) {
					t.Errorf("list %q: %s has size %d, want %d", prefix, oi.Key, oi.Size, objects[oi.Key])
				}
				if oi.ModTime.IsZero() {
					t.Errorf("list %q: %s has zero ModTime", prefix, oi.Key)
				}
			}
		})
	}
}

// testListOrder uses names whose byte order differs from the order of a
// folder-by-folder walk ('-' and '.' sort before '/'), which is where a
// file-system backend would go wrong.
func testListOrder(t *testing.T, s store.Store) {
	keys := []string{"o/b/c", "o/b-x", "o/b.x", "o/b~1", "o/a", "o/B", "o/b0", "o/c/d/e"}
	for i, key := range keys {
		Put(t, s, key, Data(uint64(i), i))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := keysOf(list(t, s, "o/")); !slices.Equal(got, want) {
		t.Fatalf("list o/:\n got %q\nwant %q (byte order)", got, want)
	}
	if got, want := keysOf(list(t, s, "o/b")), []string{"o/b-x", "o/b.x", "o/b/c", "o/b0", "o/b~1"}; !slices.Equal(got, want) {
		t.Fatalf("list o/b:\n got %q\nwant %q (byte order)", got, want)
	}
}

func testListManyPages(t *testing.T, s store.Store) {
	const n = 1100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%06d", i)
	}
	// Parallel puts keep the suite fast on a remote store.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				data := []byte(fmt.Sprint(i))
				if err := s.Put(context.Background(), keys[i], bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- fmt.Errorf("put %s: %w", keys[i], err)
				}
			}
		})
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	Put(t, s, "manyx", []byte("x"))

	got := list(t, s, "many/")
	if !slices.Equal(keysOf(got), keys) {
		t.Fatalf("list many/: got %d keys (first %q), want %d", len(got), keysOf(got)[:min(3, len(got))], n)
	}
	for i, oi := range got {
		if oi.Size != int64(len(fmt.Sprint(i))) {
			t.Fatalf("list many/: %s has size %d, want %d", oi.Key, oi.Size, len(fmt.Sprint(i)))
		}
	}
	if got := list(t, s, "many/0010"); len(got) != 100 || got[0].Key != "many/001000" || got[99].Key != "many/001099" {
		t.Fatalf("list many/0010: got %d keys %q, want many/001000..many/001099", len(got), keysOf(got)[:min(3, len(got))])
	}
}

func testListStops(t *testing.T, s store.Store) {
	for i := range 5 {
		Put(t, s, fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	errStop := errors.New("stop here")
	var seen []string
	err := s.List(context.Background(), "stop/", func(oi store.ObjectInfo) error {
		seen = append(seen, oi.Key)
		if len(seen) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("list: got %v, want fn's error", err)
	}
	if want := []string{"stop/0", "stop/1"}; !slices.Equal(seen, want) {
		t.Fatalf("list called fn with %q, want %q then stop", seen, want)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, "del/a", []byte("a"))
	Put(t, s, "del/b", []byte("b"))
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	AssertAbsent(t, s, "del/a")
	assertContent(t, s, "del/b", []byte("b"))
	if got := keysOf(list(t, s, "del/")); !slices.Equal(got, []string{"del/b"}) {
		t.Errorf("list after delete: got %q", got)
	}
	for _, key := range []string{"del/a", "del/never", "never/deeper/key"} {
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("delete absent %s: %v, want nil", key, err)
		}
	}
	// A deleted key can be created again.
	Put(t, s, "del/a", []byte("again"))
	assertContent(t, s, "del/a", []byte("again"))
}

func testConcurrentPut(t *testing.T, s store.Store) {
	const writers = 8
	for round := range 3 {
		key := fmt.Sprintf("race/%d", round)
		data := Data(uint64(round), 256<<10)
		var wg sync.WaitGroup
		errs := make([]error, writers)
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)))
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for w, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrExist):
				t.Errorf("round %d writer %d: %v, want nil or ErrExist", round, w, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d writers succeeded, want exactly 1", round, won)
		}
		assertContent(t, s, key, data)
	}
}

func testCancelledPut(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := Data(6, 1000)
	if err := s.Put(ctx, "cancelled/a", bytes.NewReader(data), int64(len(data))); err == nil {
		t.Fatal("put with a cancelled context: no error")
	} else if errors.Is(err, store.ErrExist) || errors.Is(err, store.ErrNotExist) {
		t.Errorf("put with a cancelled context: %v, must not look like ErrExist or ErrNotExist", err)
	}
	AssertAbsent(t, s, "cancelled/a")
}

func testNestedKeys(t *testing.T, s store.Store) {
	keys := map[string][]byte{
		"n/a/b/c/d/e": []byte("deep"),
		"n/a/b/f":     []byte("f"),
		"n/a/g":       []byte("g"),
		"n/h":         []byte("h"),
	}
	for key, data := range keys {
		Put(t, s, key, data)
	}
	for key, data := range keys {
		assertContent(t, s, key, data)
	}
	if got, want := keysOf(list(t, s, "n/a/b/")), []string{"n/a/b/c/d/e", "n/a/b/f"}; !slices.Equal(got, want) {
		t.Errorf("list n/a/b/: got %q, want %q", got, want)
	}
	// A "folder" is not an object.
	for _, key := range []string{"n/a", "n/a/b", "n/a/b/c/d"} {
		t.Run(key, func(t *testing.T) { AssertAbsent(t, s, key) })
	}
	ctx := context.Background()
	if err := s.Delete(ctx, "n/a/b/c/d/e"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got, want := keysOf(list(t, s, "n/")), []string{"n/a/b/f", "n/a/g", "n/h"}; !slices.Equal(got, want) {
		t.Errorf("list n/ after delete: got %q, want %q", got, want)
	}
}

package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store/file"
)

// Small segments keep these tests fast; nothing here depends on the size.
const aheadSegSize = 1 << 20

// aheadStore is a catalog holding segments 1..n of timeline 1, stored and
// recorded; content returns what segment i holds.
func aheadStore(t *testing.T, n int) (*catalog.Catalog, string, func(i int) []byte) {
	t.Helper()
	root := t.TempDir()
	st, err := file.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "ahead")
	ctx := context.Background()
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 7, SegmentSize: aheadSegSize}); err != nil {
		t.Fatal(err)
	}
	content := func(i int) []byte { return bytes.Repeat([]byte{byte(i), 0x5a}, aheadSegSize/2) }
	for i := 1; i <= n; i++ {
		name := segName(i)
		obj, err := object.EncodeBytes(content(i), object.KindWAL, name, nil, object.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.PutWAL(ctx, name, obj); err != nil {
			t.Fatal(err)
		}
		r := catalog.WALRecord{Name: name, RawSize: obj.Header.RawSize, SHA256: obj.Header.ChecksumHex(), StoredSize: obj.Size()}
		if err := cat.AddWAL(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return cat, root, content
}

func segName(i int) string { return pg.SegmentName(1, uint64(i), aheadSegSize) }

func spooled(t *testing.T, dest string) []string {
	t.Helper()
	var names []string
	entries, _ := os.ReadDir(spoolDir(dest))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func names(from, to int) []string {
	var n []string
	for i := from; i <= to; i++ {
		n = append(n, segName(i))
	}
	return n
}

// The window starts small and doubles each time PostgreSQL uses all of
// it, never beyond Max: the folder holds at most Max segments.
func TestFetchAheadWindowGrowsToItsCap(t *testing.T) {
	cat, root, content := aheadStore(t, 40)
	dest := filepath.Join(t.TempDir(), "pg_wal", "RECOVERYXLOG")
	os.MkdirAll(filepath.Dir(dest), 0o700)
	opts := AheadOptions{Max: 8, Stamp: "s"}
	ctx := context.Background()
	fetch := func(i int) {
		t.Helper()
		if err := FetchWALAhead(ctx, cat, segName(i), dest, opts); err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if b, _ := os.ReadFile(dest); !bytes.Equal(b, content(i)) {
			t.Fatalf("fetch %d: wrong content", i)
		}
		os.Remove(dest)
	}
	fetch(1)
	if got := spooled(t, dest); !slices.Equal(got, names(2, 5)) {
		t.Fatalf("first window %v, want 4 segments", got)
	}
	// Served from the folder: the store is not asked.
	if err := os.Remove(filepath.Join(root, "ahead", "wal", segName(2))); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		fetch(i)
	}
	fetch(6)
	if got := spooled(t, dest); !slices.Equal(got, names(7, 14)) {
		t.Fatalf("second window %v, want 8 segments", got)
	}
	for i := 7; i <= 15; i++ {
		fetch(i)
	}
	if got := spooled(t, dest); !slices.Equal(got, names(16, 23)) {
		t.Fatalf("third window %v, want 8 segments: Max caps it", got)
	}
	// Out of order: back to the first window, the rest is removed.
	fetch(30)
	if got := spooled(t, dest); !slices.Equal(got, names(31, 34)) {
		t.Fatalf("after a jump %v, want 4 segments after it", got)
	}
}

// A prefetched file is handed over only if the state lists it, for the
// same store, with the checksum its content has now: a file left by a
// killed process (no state entry), damaged since (another checksum), or
// prefetched from another store is fetched again from the store.
func TestTakePrefetchedTrustsOnlyVerifiedFiles(t *testing.T) {
	cat, _, content := aheadStore(t, 3)
	dest := filepath.Join(t.TempDir(), "pg_wal", "RECOVERYXLOG")
	dir := spoolDir(dest)
	os.MkdirAll(dir, 0o700)
	good := content(2)
	sum := sha256.Sum256(good)
	entry := spooledFile{Size: int64(len(good)), SHA256: hex.EncodeToString(sum[:]), CRC32C: crc32.Checksum(good, castagnoli)}
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	tests := []struct {
		name  string
		file  []byte
		state *spoolState
		take  bool
	}{
		{"verified", good, &spoolState{Stamp: "s", Files: map[string]spooledFile{segName(2): entry}}, true},
		{"left by a killed process: no state", good, nil, false},
		{"not in the state", good, &spoolState{Stamp: "s", Files: map[string]spooledFile{}}, false},
		{"damaged since", bad, &spoolState{Stamp: "s", Files: map[string]spooledFile{segName(2): entry}}, false},
		{"truncated", good[:1000], &spoolState{Stamp: "s", Files: map[string]spooledFile{segName(2): entry}}, false},
		{"another store", good, &spoolState{Stamp: "other", Files: map[string]spooledFile{segName(2): entry}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(statePath(dir))
			os.Remove(dest)
			os.WriteFile(filepath.Join(dir, segName(2)), tt.file, 0o600)
			if tt.state != nil {
				if err := writeState(dir, *tt.state); err != nil {
					t.Fatal(err)
				}
			}
			if got := TakePrefetched(segName(2), dest, "s"); got != tt.take {
				t.Fatalf("TakePrefetched = %v, want %v", got, tt.take)
			}
			if !tt.take {
				if _, err := os.Stat(dest); err == nil {
					t.Fatal("an untrusted file reached DEST")
				}
				if _, err := os.Stat(filepath.Join(dir, segName(2))); err == nil {
					t.Fatal("an untrusted file stayed in the folder")
				}
				// wal-fetch then fetches it from the store, verified.
				if err := FetchWALAhead(context.Background(), cat, segName(2), dest, AheadOptions{Max: 1, Stamp: "s"}); err != nil {
					t.Fatal(err)
				}
			}
			if b, _ := os.ReadFile(dest); !bytes.Equal(b, good) {
				t.Fatal("DEST does not hold the segment")
			}
		})
	}
	if TakePrefetched("../RECOVERYXLOG", dest, "s") {
		t.Fatal("a name that is not a WAL file name was taken")
	}
}

// A segment whose stored object does not match its record is never put in
// the folder; the others of the window are.
func TestFetchAheadSkipsDamagedSegments(t *testing.T) {
	cat, root, _ := aheadStore(t, 6)
	obj := filepath.Join(root, "ahead", "wal", segName(3))
	b, _ := os.ReadFile(obj)
	b[len(b)-10] ^= 1
	os.WriteFile(obj, b, 0o644)
	dest := filepath.Join(t.TempDir(), "pg_wal", "RECOVERYXLOG")
	os.MkdirAll(filepath.Dir(dest), 0o700)
	if err := FetchWALAhead(context.Background(), cat, segName(1), dest, AheadOptions{Max: 4, Stamp: "s"}); err != nil {
		t.Fatal(err)
	}
	if got, want := spooled(t, dest), []string{segName(2), segName(4), segName(5)}; !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
	if _, ok := readState(spoolDir(dest), "s").Files[segName(3)]; ok {
		t.Fatal("the damaged segment is listed as verified")
	}
	if TakePrefetched(segName(3), dest, "s") {
		t.Fatal("the damaged segment was handed over")
	}
}

// restore's prefetch stays within its segment count and the plan's last
// segment, and leaves files wal-fetch hands over.
func TestSeedPrefetchBounded(t *testing.T) {
	cat, _, content := aheadStore(t, 20)
	plan := Plan{FirstWAL: segName(3), LastWAL: segName(18), SegmentSize: aheadSegSize, Timeline: 1}
	for _, tt := range []struct {
		n    int
		want []string
	}{{5, names(3, 7)}, {64, names(3, 18)}} {
		dir := t.TempDir()
		seedPrefetch(context.Background(), cat, plan, dir, "s", tt.n)
		dest := recoveryDest(dir)
		if got := spooled(t, dest); !slices.Equal(got, tt.want) {
			t.Fatalf("prefetch %d: folder holds %v, want %v", tt.n, got, tt.want)
		}
		if !TakePrefetched(segName(3), dest, "s") {
			t.Fatal("the first segment is not handed over")
		}
		if b, _ := os.ReadFile(dest); !bytes.Equal(b, content(3)) {
			t.Fatal("wrong content")
		}
	}
}

package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

const seg1 = "000000010000000000000001"

func newStoreDir(t *testing.T) (dir string, flags []string) {
	dir = t.TempDir()
	return dir, []string{"--store", "file://" + dir, "--source", "t"}
}

func TestPushFetchRoundTrip(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	src := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	mustLogship(t, nil, append(flags, "wal-push", src)...)
	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	mustLogship(t, nil, append(flags, "wal-fetch", seg1, dest)...)
	want, _ := os.ReadFile(src)
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(want, got) {
		t.Fatalf("fetched segment differs from the pushed one")
	}
	st, _ := os.Stat(filepath.Join(dir, "t", "wal", seg1))
	if st.Size() > int64(len(want))/4 {
		t.Errorf("stored %d bytes for a compressible 16 MiB segment", st.Size())
	}
}

// A wal-push killed while writing leaves no object under the final name,
// and a later push of the same file succeeds.
func TestPushKilledMidWrite(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	src := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	marker := filepath.Join(t.TempDir(), "holding")
	cmd := exec.Command(logshipBin, append(flags, "wal-push", src)...)
	cmd.Env = append(cleanEnv(), "LOGSHIP_TEST_HOLD_IN_PUT="+marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, 30*time.Second, "wal-push to reach the middle of its write", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	if _, err := os.Stat(filepath.Join(dir, "t", "wal", seg1)); !os.IsNotExist(err) {
		t.Fatalf("after kill -9 an object exists under the final name (stat: %v)", err)
	}
	// Nothing is recorded: not even the source, which catalog list reports
	// as an unknown source (exit 2) rather than an empty listing.
	if r := logship(t, nil, append(flags, "catalog", "list", "--json")...); r.code != 2 || !strings.Contains(r.stderr, `unknown source "t"`) {
		t.Fatalf("catalog list after a killed push: exit %d, want 2 (unknown source)\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The kill hit the first write, the source record's, so the store holds
	// no source yet: not the end of an archive (F3), exit 200.
	if r := logship(t, nil, append(flags, "wal-fetch", seg1, filepath.Join(t.TempDir(), "x"))...); r.code != 200 || !strings.Contains(r.stderr, "no source record") {
		t.Fatalf("fetch after killed push: exit %d, want 200 (no source record); %s", r.code, r.stderr)
	}
	mustLogship(t, nil, append(flags, "wal-push", src)...)
	dest := filepath.Join(t.TempDir(), "x")
	mustLogship(t, nil, append(flags, "wal-fetch", seg1, dest)...)
	if !sameFile(t, src, dest) {
		t.Fatal("re-pushed segment does not round-trip")
	}
}

func TestConcurrentPushSameSegment(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	src := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	var wg sync.WaitGroup
	codes := make([]result, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = logship(t, nil, append(flags, "wal-push", src)...)
		}()
	}
	wg.Wait()
	for i, r := range codes {
		if r.code != 0 {
			t.Errorf("push %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	files := storeFiles(t, dir)
	var objects, records int
	for _, f := range files {
		switch {
		case strings.HasPrefix(f, "t/wal/"):
			objects++
		case strings.HasPrefix(f, "t/catalog/wal/"):
			records++
		}
	}
	if objects != 1 || records != 1 {
		t.Fatalf("8 concurrent pushes left %d objects and %d records, want 1 and 1: %v", objects, records, files)
	}
}

func TestPushConflictKeepsOriginal(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	orig := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	other := syntheticSegment(t, t.TempDir(), seg1, 42, 9)
	mustLogship(t, nil, append(flags, "wal-push", orig)...)
	before := snapshot(t, dir)

	r := logship(t, nil, append(flags, "wal-push", other)...)
	if r.code != 1 || !strings.Contains(r.stderr, "different file") || strings.Count(r.stderr, "sha256") < 2 {
		t.Fatalf("conflicting push: exit %d, stderr %q; want exit 1 naming both checksums", r.code, r.stderr)
	}
	if after := snapshot(t, dir); !maps(before, after) {
		t.Fatal("a conflicting push changed the store")
	}
	// An identical re-push is a successful retry.
	mustLogship(t, nil, append(flags, "wal-push", orig)...)
	dest := filepath.Join(t.TempDir(), "x")
	mustLogship(t, nil, append(flags, "wal-fetch", seg1, dest)...)
	if !sameFile(t, orig, dest) {
		t.Fatal("the stored segment is not the original")
	}
}

func TestPushRefusesOtherCluster(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	before := snapshot(t, dir)
	r := logship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), "000000010000000000000002", 43, 0))...)
	if r.code != 2 || !strings.Contains(r.stderr, "system 43") || !strings.Contains(r.stderr, "--source") {
		t.Fatalf("push from another cluster: exit %d, %q", r.code, r.stderr)
	}
	if !maps(before, snapshot(t, dir)) {
		t.Fatal("a refused push changed the store")
	}
}

func TestFetchCorruptObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"flipped byte in body", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"flipped byte in header", func(b []byte) []byte { b[12] ^= 0x01; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)*2/3] }},
		{"empty", func(b []byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, flags := newStoreDir(t)
			mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
			obj := filepath.Join(dir, "t", "wal", seg1)
			b, _ := os.ReadFile(obj)
			os.Chmod(obj, 0o644)
			os.WriteFile(obj, tt.damage(b), 0o644)

			destDir := t.TempDir()
			dest := filepath.Join(destDir, "RECOVERYXLOG")
			r := logship(t, nil, append(flags, "wal-fetch", seg1, dest)...)
			if r.code <= 125 {
				t.Fatalf("fetch of a corrupt object: exit %d, want > 125 so PostgreSQL stops; stderr %q", r.code, r.stderr)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", r.stderr)
			}
			if entries, _ := os.ReadDir(destDir); len(entries) != 0 {
				t.Fatalf("a failed fetch left files in the destination folder: %v", entries)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		t.Parallel()
		_, flags := newStoreDir(t)
		mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
		r := logship(t, nil, append(flags, "wal-fetch", "000000010000000000000002", filepath.Join(t.TempDir(), "x"))...)
		if r.code != 1 {
			t.Fatalf("fetch of an absent segment: exit %d, want 1; %q", r.code, r.stderr)
		}
	})
}

func TestCatalogRebuild(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	wal := t.TempDir()
	for _, n := range []string{seg1, "000000010000000000000002", "000000010000000000000004"} {
		mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, wal, n, 42, 0))...)
	}
	hist := filepath.Join(wal, "00000002.history")
	os.WriteFile(hist, []byte("1\t0/4000000\tno recovery target specified\n"), 0o644)
	mustLogship(t, nil, append(flags, "wal-push", hist)...)

	before := mustLogship(t, nil, append(flags, "catalog", "list", "--json", "--wal")...)
	if err := os.RemoveAll(filepath.Join(dir, "t", "catalog")); err != nil {
		t.Fatal(err)
	}
	mustLogship(t, nil, append(flags, "catalog", "rebuild")...)
	after := mustLogship(t, nil, append(flags, "catalog", "list", "--json", "--wal")...)
	var b, a listing
	json.Unmarshal([]byte(before), &b)
	json.Unmarshal([]byte(after), &a)
	b.Source.Created, a.Source.Created = "", ""
	bj, _ := json.Marshal(b)
	aj, _ := json.Marshal(a)
	if !bytes.Equal(aj, bj) || len(a.WAL) != 4 {
		t.Fatalf("catalog after rebuild differs:\nbefore %s\nafter  %s", bj, aj)
	}
	if len(a.Timelines) == 0 || len(a.Timelines[0].Gaps) != 1 {
		t.Fatalf("the missing segment 3 is not shown as a gap: %+v", a.Timelines)
	}
}

type listing struct {
	Source struct {
		SystemID string `json:"system_id"`
		Created  string `json:"created"`
	} `json:"source"`
	Timelines []struct {
		Timeline int `json:"timeline"`
		Gaps     []struct {
			After, Before string
		} `json:"gaps"`
	} `json:"timelines"`
	WAL []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"wal"`
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// snapshot maps every file under dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range storeFiles(t, dir) {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		m[f] = string(b)
	}
	return m
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// wal-push stores the next ready files along with the one it is asked for;
// the archiver's later calls for them find them done; nothing is pushed
// twice or lost.
func TestPushAhead(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	pgwal := filepath.Join(t.TempDir(), "pg_wal")
	os.MkdirAll(filepath.Join(pgwal, "archive_status"), 0o755)
	var names []string
	for i := 1; i <= 5; i++ {
		n := fmt.Sprintf("0000000100000000000000%02X", i)
		names = append(names, n)
		syntheticSegment(t, pgwal, n, 42, byte(i))
		os.WriteFile(filepath.Join(pgwal, "archive_status", n+".ready"), nil, 0o644)
	}
	stored := func() []string {
		var got []string
		for _, f := range storeFiles(t, dir) {
			if n, ok := strings.CutPrefix(f, "t/wal/"); ok {
				got = append(got, n)
			}
		}
		return got
	}
	push := func(n string) {
		t.Helper()
		mustLogship(t, nil, append(flags, "--push-parallel", "3", "wal-push", filepath.Join(pgwal, n))...)
		// As the archiver does once archive_command succeeded.
		os.Rename(filepath.Join(pgwal, "archive_status", n+".ready"), filepath.Join(pgwal, "archive_status", n+".done"))
	}

	push(names[0])
	if got := stored(); !slices.Equal(got, names[:3]) {
		t.Fatalf("after pushing %s with --push-parallel 3 the store has %v, want %v", names[0], got, names[:3])
	}
	push(names[1]) // pushed ahead: only its marker is consumed
	push(names[2])
	if got := stored(); !slices.Equal(got, names[:3]) {
		t.Fatalf("calls for files pushed ahead changed the store: %v", got)
	}
	if m, _ := os.ReadDir(filepath.Join(pgwal, "logship-pushed")); len(m) != 0 {
		t.Fatalf("markers left after the archiver asked for their files: %v", m)
	}
	push(names[3])
	push(names[4])
	if got := stored(); !slices.Equal(got, names) {
		t.Fatalf("store has %v, want %v", got, names)
	}
	for _, n := range names {
		dest := filepath.Join(t.TempDir(), n)
		mustLogship(t, nil, append(flags, "wal-fetch", n, dest)...)
		if !sameFile(t, filepath.Join(pgwal, n), dest) {
			t.Fatalf("%s pushed ahead does not round-trip", n)
		}
	}

	// A marker whose object is not in the store (another store, a reset)
	// is not trusted: the file is pushed for real.
	os.MkdirAll(filepath.Join(pgwal, "logship-pushed"), 0o755)
	os.WriteFile(filepath.Join(pgwal, "logship-pushed", names[4]), nil, 0o644)
	_, flags2 := newStoreDir(t)
	mustLogship(t, nil, append(flags2, "wal-push", filepath.Join(pgwal, names[4]))...)
	dest := filepath.Join(t.TempDir(), "x")
	mustLogship(t, nil, append(flags2, "wal-fetch", names[4], dest)...)
}

// wal-fetch fetches the next segments along with the one asked for; they
// are verified before they are kept, and PostgreSQL's next requests are
// answered from them.
func TestFetchAhead(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	src := t.TempDir()
	var names []string
	for i := 1; i <= 5; i++ {
		n := fmt.Sprintf("0000000100000000000000%02X", i)
		names = append(names, n)
		mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, src, n, 42, byte(i)))...)
	}
	// Segment 3 is damaged in the store: it must not be prefetched.
	obj := filepath.Join(dir, "t", "wal", names[2])
	b, _ := os.ReadFile(obj)
	b[len(b)/2] ^= 1
	os.WriteFile(obj, b, 0o644)

	pgwal := filepath.Join(t.TempDir(), "pg_wal")
	os.MkdirAll(pgwal, 0o755)
	dest := filepath.Join(pgwal, "RECOVERYXLOG")
	fetch := func(n string) result {
		return logship(t, nil, append(flags, "--fetch-ahead", "3", "wal-fetch", n, dest)...)
	}
	if r := fetch(names[0]); r.code != 0 || !sameFile(t, filepath.Join(src, names[0]), dest) {
		t.Fatalf("fetch %s: exit %d %s", names[0], r.code, r.stderr)
	}
	var pre []string
	entries, _ := os.ReadDir(filepath.Join(pgwal, "logship-prefetch"))
	for _, e := range entries {
		pre = append(pre, e.Name())
	}
	if want := []string{names[1], names[3]}; !slices.Equal(pre, want) {
		t.Fatalf("prefetched %v, want %v (the damaged %s left out)", pre, want, names[2])
	}
	// Served from the prefetch folder: remove it from the store to prove it.
	os.Remove(filepath.Join(dir, "t", "wal", names[1]))
	if r := fetch(names[1]); r.code != 0 || !sameFile(t, filepath.Join(src, names[1]), dest) {
		t.Fatalf("fetch of a prefetched segment: exit %d %s", r.code, r.stderr)
	}
	if r := fetch(names[2]); r.code <= 125 {
		t.Fatalf("fetch of the damaged segment: exit %d, want > 125", r.code)
	}
	if r := fetch(names[3]); r.code != 0 || !sameFile(t, filepath.Join(src, names[3]), dest) {
		t.Fatalf("fetch %s: exit %d %s", names[3], r.code, r.stderr)
	}
}

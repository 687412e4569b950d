package catalog_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

const fuzzSource = "src"

// FuzzWALRecordKey stores an arbitrary WAL record key and lists it: a key
// the catalog accepts must hold a sane record (sizes not negative, a
// lowercase hex SHA-256, a name without the separator, a version id, if
// any, in its one spelling) and must be exactly
// the key AddWAL writes for that record, or purge, which deletes the key
// it computes, would leave the stored one behind.
func FuzzWALRecordKey(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	for _, s := range []string{
		"000000010000000000000001~16777216~" + sha + "~4096~7312345678901234567",
		"00000002.history~42~" + sha + "~60~0",
		"000000010000000000000001~016777216~" + sha + "~4096~0",
		"000000010000000000000001~+1~" + sha + "~4096~0",
		"000000010000000000000001~-1~" + sha + "~4096~0",
		"000000010000000000000001~1~" + strings.ToUpper(sha) + "~4096~0",
		"000000010000000000000001~1~" + strings.Repeat("zz", 32) + "~4096~0",
		"a~1~2~3", "~~~~",
		// With the version id of a versioned bucket, plain or base64url.
		"000000010000000000000001~16777216~" + sha + "~4096~7312345678901234567~v01JD8Q3ZK4M2",
		"000000010000000000000001~16777216~" + sha + "~4096~7312345678901234567~bMy9MNGtxK3g",
		"000000010000000000000001~16777216~" + sha + "~4096~0~bYWJj",
		"000000010000000000000001~16777216~" + sha + "~4096~0~v",
		"000000010000000000000001~16777216~" + sha + "~4096~0~x1",
		"000000010000000000000001~16777216~" + sha + "~4096~0~v1~v2",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rel string) {
		st := newFuzzStore()
		cat := catalog.New(st, fuzzSource)
		key := fuzzSource + "/catalog/wal/" + rel
		if err := st.Put(ctx, key, bytes.NewReader(nil), 0); err != nil {
			t.Fatal(err)
		}
		var recs []catalog.WALRecord
		if err := cat.ListWAL(ctx, func(r catalog.WALRecord) error { recs = append(recs, r); return nil }); err != nil {
			return
		}
		// A key that is not a record is skipped, and reported as stray.
		if stray := cat.StrayKeys(); len(recs) == 0 && len(stray) == 1 && stray[0] == key {
			return
		}
		if len(recs) != 1 {
			t.Fatalf("%q listed as %d records", key, len(recs))
		}
		r := recs[0]
		if sum, err := hex.DecodeString(r.SHA256); err != nil || len(sum) != 32 || r.SHA256 != strings.ToLower(r.SHA256) {
			t.Fatalf("%q accepted with SHA-256 %q", key, r.SHA256)
		}
		if r.RawSize < 0 || r.StoredSize < 0 || strings.Contains(r.Name, "~") {
			t.Fatalf("%q accepted as %+v", key, r)
		}
		again := newFuzzStore()
		if err := catalog.New(again, fuzzSource).AddWAL(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got := again.Keys(); len(got) != 1 || got[0] != key {
			t.Fatalf("%q parsed to %+v, which AddWAL stores as %q", key, r, got)
		}
		if found, err := cat.LookupWAL(ctx, r.Name); err != nil || found != r {
			t.Fatalf("LookupWAL(%q) = %+v, %v; listed %+v", r.Name, found, err, r)
		}
	})
}

// FuzzMarkRecordKey stores an arbitrary mark record key and lists it: an
// accepted mark's LSN text must be its value, and the record AddMark
// writes for it must list as the very same mark.
func FuzzMarkRecordKey(f *testing.F) {
	for _, s := range []string{
		"mark1~0000000003000090~1~1764560000000000000",
		"m~3000090~2~-1", "m~00000000030000ff~1~0", "m~~1~0", "a~b~c", "x~FFFFFFFFFFFFFFFF~4294967295~9223372036854775807",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rel string) {
		st := newFuzzStore()
		key := fuzzSource + "/catalog/marks/" + rel
		if err := st.Put(ctx, key, bytes.NewReader(nil), 0); err != nil {
			t.Fatal(err)
		}
		cat := catalog.New(st, fuzzSource)
		marks, err := cat.Marks(ctx)
		if err != nil {
			return
		}
		// A key that is not a record is skipped, and reported as stray.
		if stray := cat.StrayKeys(); len(marks) == 0 && len(stray) == 1 && stray[0] == key {
			return
		}
		if len(marks) != 1 {
			t.Fatalf("%q listed as %d marks", key, len(marks))
		}
		m := marks[0]
		if l, err := pg.ParseLSN(m.LSN.String()); err != nil || l != m.LSN {
			t.Fatalf("%q: mark LSN %s does not read back (%v)", key, m.LSN, err)
		}
		if strings.Contains(m.Name, "~") || m.Source != fuzzSource || m.Time.Location() != m.Time.UTC().Location() {
			t.Fatalf("%q accepted as %+v", key, m)
		}
		again := newFuzzStore()
		if err := catalog.New(again, fuzzSource).AddMark(ctx, m); err != nil {
			t.Fatal(err)
		}
		back, err := catalog.New(again, fuzzSource).Marks(ctx)
		if err != nil || len(back) != 1 || back[0] != m {
			t.Fatalf("%q listed as %+v; stored again it lists as %+v (%v)", key, m, back, err)
		}
	})
}

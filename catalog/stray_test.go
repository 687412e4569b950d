package catalog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// F8: one stray file under catalog/wal/ or catalog/marks/ (a .DS_Store, a
// README) used to make listing, verify and restore fail for the whole
// source. It is ignored, and reported as a warning.
func TestF8_StrayKeysUnderRecordPrefixesAreIgnoredAndReported(t *testing.T) {
	t.Parallel()
	f := healthy(t)
	ctx := context.Background()
	stray := []string{"src/catalog/marks/README", "src/catalog/wal/.DS_Store", "src/catalog/wal/notes~1~2"}
	for _, k := range stray {
		if err := f.st.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := f.cat.ListWAL(ctx, func(catalog.WALRecord) error { n++; return nil }); err != nil || n != 12 {
		t.Fatalf("ListWAL: %d records, %v; want the 12 records and no error", n, err)
	}
	marks, err := f.cat.Marks(ctx)
	if err != nil || len(marks) != 3 {
		t.Fatalf("Marks: %d, %v; want the 3 marks and no error", len(marks), err)
	}
	if _, err := f.cat.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := strings.Join(f.cat.StrayKeys(), " "); got != strings.Join(stray, " ") {
		t.Fatalf("StrayKeys = %q, want %q", got, stray)
	}

	rep := f.verify(catalog.VerifyOptions{})
	if !rep.OK || rep.Errors != 0 || rep.Reachable != 3 {
		t.Fatalf("verify with stray keys: ok=%v, %v", rep.OK, problemCodes(rep))
	}
	for _, k := range stray {
		found := false
		for _, p := range rep.Problems {
			found = found || p.Code == catalog.CodeStrayKey && p.Object == k && p.Severity == catalog.SevWarning
		}
		if !found {
			t.Errorf("verify does not warn about %s: %v", k, problemCodes(rep))
		}
	}
}

// F8: two records of one mark name (a merged or hand-copied store) are an
// error that verify names: a restore to that name may stop elsewhere.
func TestF8_VerifyNamesADuplicatedMark(t *testing.T) {
	t.Parallel()
	f := healthy(t)
	// AddMark without ReserveMark, as a copied record would arrive.
	second := catalog.Mark{Name: "m7", LSN: pg.LSN(10*fxSegSize + 0x500), Timeline: 1, Time: time.Now()}
	if err := f.cat.AddMark(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	marks, err := f.cat.Marks(context.Background())
	if err != nil || len(marks) != 4 {
		t.Fatalf("Marks: %d, %v", len(marks), err)
	}
	rep := f.verify(catalog.VerifyOptions{})
	if rep.OK || !hasProblem(rep, catalog.CodeDuplicateMark, "m7") || hasProblem(rep, catalog.CodeDuplicateMark, "m4") {
		t.Fatalf("verify: ok=%v %v; want an error naming m7 only", rep.OK, problemCodes(rep))
	}
	for _, p := range rep.Problems {
		if p.Code == catalog.CodeDuplicateMark && (p.Severity != catalog.SevError || !strings.Contains(p.Message, "m7")) {
			t.Errorf("problem %+v", p)
		}
	}
}

package catalog_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
)

// streamedProblems maps the codes of a report's problems to their severity.
func streamedProblems(rep *catalog.VerifyReport) map[string]string {
	out := map[string]string{}
	for _, p := range rep.Problems {
		out[p.Code] = string(p.Severity)
	}
	return out
}

func verifyLater(t *testing.T, f *fixture, deep bool) *catalog.VerifyReport {
	t.Helper()
	later := time.Now().Add(time.Hour) // every object is older than the run
	rep, err := f.cat.Verify(context.Background(), catalog.VerifyOptions{Deep: deep, NoRecord: true, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyStreamedTail(t *testing.T) {
	f := newFixture(t)
	f.segments(1, 1, 3)
	raw := segmentBytes(1, 4, fxSystem)
	f.putPiece(fxSeg(1, 4), raw, 0, 1000)
	f.putPiece(fxSeg(1, 4), raw, 500, 3000)
	for _, deep := range []bool{false, true} {
		rep := verifyLater(t, f, deep)
		var chk *catalog.Check
		for i := range rep.Checks {
			if rep.Checks[i].Kind == catalog.CheckStreamed {
				chk = &rep.Checks[i]
			}
		}
		if chk == nil || !chk.OK || chk.Name != fxSeg(1, 4) {
			t.Fatalf("deep %v: streamed check %+v", deep, chk)
		}
		st := rep.StreamedTail
		if st == nil || st.Segment != fxSeg(1, 4) || st.TailEnd != 3000 || st.Pieces != 2 ||
			uint64(st.StreamedUpTo) != 4*fxSegSize+3000 || st.AgeSeconds < 3000 {
			t.Fatalf("deep %v: streamed tail %+v", deep, st)
		}
		if p := streamedProblems(rep); p[catalog.CodePiecesDisagree] != "" || p[catalog.CodeCorrupt] != "" {
			t.Fatalf("deep %v: problems %+v", deep, rep.Problems)
		}
	}
}

func TestVerifyStreamedDamage(t *testing.T) {
	f := newFixture(t)
	f.segments(1, 1, 3)
	raw := segmentBytes(1, 4, fxSystem)
	f.putPiece(fxSeg(1, 4), raw, 0, 1000)
	bad := bytes.Clone(raw)
	bad[700] ^= 1
	f.putPiece(fxSeg(1, 4), bad, 600, 2000)
	if p := streamedProblems(verifyLater(t, f, false)); p[catalog.CodePiecesDisagree] != "" {
		t.Fatalf("shallow verify reads no piece: %v", p)
	}
	if p := streamedProblems(verifyLater(t, f, true)); p[catalog.CodePiecesDisagree] != "error" {
		t.Fatalf("deep: %v, want a streamed-pieces-disagree error", p)
	}

	// A lost piece of the tail is an error; of a segment stored in full, a
	// warning; an object without record, a warning.
	g := newFixture(t)
	g.segments(1, 1, 3)
	p3 := g.putPiece(fxSeg(1, 3), segmentBytes(1, 3, fxSystem), 0, 100)
	p4 := g.putPiece(fxSeg(1, 4), raw, 0, 100)
	for _, p := range []catalog.WALPiece{p3, p4} {
		if err := os.Remove(filepath.Join(g.dir, g.cat.PieceObjectKey(p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(g.dir, "src", "wal-stream", fxSeg(1, 4), "00000100-00000200"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := verifyLater(t, g, true)
	sev := map[string]string{}
	for _, p := range rep.Problems {
		sev[p.Code+" "+p.Object] = string(p.Severity)
	}
	for key, want := range map[string]string{
		catalog.CodeRecordWithoutObject + " " + g.cat.PieceObjectKey(p3):                          "warning",
		catalog.CodeRecordWithoutObject + " " + g.cat.PieceObjectKey(p4):                          "error",
		catalog.CodeObjectWithoutRecord + " src/wal-stream/" + fxSeg(1, 4) + "/00000100-00000200": "warning",
	} {
		if sev[key] != want {
			t.Errorf("%s: %q, want %s (all: %v)", key, sev[key], want, sev)
		}
	}
}

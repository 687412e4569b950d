package catalog_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
)

// A window's one listing gives each name the records OpenWAL would list
// for it, and Open checks them as OpenWAL does; another file's malformed
// record in the same listing is none of the window's business.
func TestWALWindowChecksLikeOpenWAL(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	put := func(n uint64, system uint64, record bool, recordSystem uint64) {
		name := fxSeg(1, n)
		enc, _ := encodeSegment(t, name, n, system)
		if err := f.cat.PutWAL(ctx, name, enc); err != nil {
			t.Fatal(err)
		}
		if record {
			ours, _ := encodeSegment(t, name, n, recordSystem)
			if err := f.cat.AddWAL(ctx, recordOf(name, ours, recordSystem)); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(3, fxSystem, true, fxSystem)   // matches its record
	put(4, fxSystem+1, true, fxSystem) // swapped in from another cluster
	put(6, fxSystem, false, 0)         // stored, record lost in a crash
	enc5, _ := encodeSegment(t, fxSeg(1, 5), 5, fxSystem)
	if err := f.cat.AddWAL(ctx, recordOf(fxSeg(1, 5), enc5, fxSystem)); err != nil { // recorded, object lost
		t.Fatal(err)
	}
	bad := "src/catalog/wal/" + fxSeg(1, 9) + "~garbage"
	if err := f.st.Put(ctx, bad, strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}

	var names []string
	for n := uint64(3); n <= 7; n++ {
		names = append(names, fxSeg(1, n))
	}
	w, err := f.cat.WALWindow(ctx, names)
	if err != nil {
		t.Fatalf("WALWindow: %v", err)
	}
	for i, want := range []bool{true, true, true, false, false} {
		if got := w.Recorded(names[i]); got != want {
			t.Errorf("Recorded(%s) = %v, want %v", names[i], got, want)
		}
	}
	for i, want := range []error{nil, catalog.ErrRecordMismatch, catalog.ErrMissingObject, nil, catalog.ErrNotExist} {
		o, err := w.Open(ctx, names[i])
		if err == nil {
			_, err = io.Copy(io.Discard, o)
			o.Close()
		}
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("Open(%s) = %v, want %v", names[i], err, want)
		}
		_, direct := f.cat.OpenWAL(ctx, names[i])
		if (direct == nil) != (want == nil) {
			t.Errorf("OpenWAL(%s) = %v, the window says %v", names[i], direct, err)
		}
	}
}

package shipper_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
	"github.com/logship/logship/store/file"
)

const markSegSize = 16 << 20

// markStore is a catalog with a backup in segment 2 and segments 2 to 4
// recorded: what push ahead may leave when it stored the mark's segment 6
// before 5.
func markStore(t *testing.T) (*catalog.Catalog, catalog.Mark) {
	t.Helper()
	ctx := context.Background()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "mk")
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 7, SegmentSize: markSegSize, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	b := catalog.Backup{ID: "B1", Source: "mk", SystemID: 7, Timeline: 1,
		StartLSN: 2*markSegSize + 0x28, EndLSN: 2*markSegSize + 0x200,
		StartWAL: segName(2), EndWAL: segName(2), StartTime: at, EndTime: at.Add(time.Second)}
	if err := cat.AddBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	for seg := uint64(2); seg <= 4; seg++ {
		addSeg(t, cat, seg)
	}
	addSeg(t, cat, 6)
	return cat, catalog.Mark{Name: "m1", LSN: 6*markSegSize + 0x300, Timeline: 1, Time: at.Add(time.Minute), Source: "mk"}
}

func segName(seg uint64) string { return pg.SegmentName(1, seg, markSegSize) }

func addSeg(t *testing.T, cat *catalog.Catalog, seg uint64) {
	t.Helper()
	// A stand-in object: the wait looks for its key, not its content.
	obj, err := object.Encode(strings.NewReader("segment"), object.KindMeta, segName(seg), nil, object.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.PutWAL(context.Background(), segName(seg), obj); err != nil {
		t.Fatal(err)
	}
	r := catalog.WALRecord{Name: segName(seg), RawSize: markSegSize, SHA256: strings.Repeat("ab", 32), StoredSize: obj.Size(), SystemID: 7}
	if err := cat.AddWAL(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// A mark returns only once every segment a restore to it replays is
// stored, not just its own: push ahead stores segments out of order.
func TestMarkWaitsForEarlierSegments(t *testing.T) {
	cat, m := markStore(t)
	done := make(chan error, 1)
	go func() { done <- shipper.WaitForMarkWAL(context.Background(), cat, m, segName(6), 30*time.Second) }()
	select {
	case err := <-done:
		t.Fatalf("returned (%v) with %s still missing", err, segName(5))
	case <-time.After(time.Second):
	}
	addSeg(t, cat, 5)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still waiting once every segment is stored")
	}
}

// An earlier segment that never comes fails the wait, naming it.
func TestMarkWaitNamesTheMissingSegment(t *testing.T) {
	cat, m := markStore(t)
	err := shipper.WaitForMarkWAL(context.Background(), cat, m, segName(6), 500*time.Millisecond)
	if !errors.Is(err, shipper.ErrArchiveTimeout) || !strings.Contains(err.Error(), segName(5)) {
		t.Errorf("got %v, want ErrArchiveTimeout naming %s", err, segName(5))
	}
}

package catalog_test

import (
	"testing"
	"time"

	"github.com/logship/logship/catalog"
)

// After a failover the newest mark is on the new timeline, at an LSN below
// that of marks made on the old one: latest goes by time.
func TestLatestMark(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	marks := []catalog.Mark{
		{Name: "m2", LSN: 0x3000000, Timeline: 1, Time: t0},
		{Name: "m3", LSN: 0x5000000, Timeline: 1, Time: t0.Add(time.Minute)},
		{Name: "m4", LSN: 0x4000000, Timeline: 2, Time: t0.Add(time.Hour)},
	}
	if m, ok := catalog.LatestMark(marks); !ok || m.Name != "m4" {
		t.Fatalf("latest = %q, %v; want m4, the mark made last", m.Name, ok)
	}
	if _, ok := catalog.LatestMark(nil); ok {
		t.Fatal("latest of no marks")
	}
}

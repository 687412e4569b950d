package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store/file"
)

// The first server to record a timeline's origin wins; a retry or a
// second writer changes nothing.
func TestTimelineOrigin(t *testing.T) {
	ctx := context.Background()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "tl")
	first := catalog.TimelineOrigin{Timeline: 2, Host: "dr1", DataDir: "/srv/pg", Time: time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)}
	for _, o := range []catalog.TimelineOrigin{first, first, {Timeline: 2, Host: "other", Time: time.Now()}, {Timeline: 3, Host: "dr2"}} {
		if err := cat.RecordTimelineOrigin(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := cat.TimelineOrigins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[2] != first || got[3].Host != "dr2" {
		t.Fatalf("origins %+v", got)
	}
}

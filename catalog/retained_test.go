package catalog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store"
)

// retainingStore simulates S3 with --s3-object-lock on the file store: a
// Delete of a WAL object removes the key but reports versions kept by an
// Object Lock retention, as the S3 store does.
type retainingStore struct {
	store.Store
	until time.Time
}

func (r retainingStore) Delete(ctx context.Context, key string) error {
	if err := r.Store.Delete(ctx, key); err != nil {
		return err
	}
	if strings.Contains(key, "/wal/") && !strings.Contains(key, "/catalog/") {
		return &store.RetainedError{Key: key, Until: r.until}
	}
	return nil
}

// Purge goes on past objects whose versions Object Lock keeps, and reports
// each with its date.
func TestPurgeReportsRetained(t *testing.T) {
	t.Parallel()
	ps := fourBackups(t)
	until := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	cat := catalog.New(retainingStore{ps.st, until}, "p")
	p, err := cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cat.Purge(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted.WALFiles != 7 || len(res.Retained) != 7 {
		t.Fatalf("deleted %+v, retained %+v; want 7 WAL files, all retained", res.Deleted, res.Retained)
	}
	for _, r := range res.Retained {
		if !strings.HasPrefix(r.Key, "p/wal/") || !r.Until.Equal(until) {
			t.Errorf("retained %+v", r)
		}
	}
	if err := ps.whole(); err != nil {
		t.Fatal(err)
	}
}

package shipper

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// A renewal writes the next lease before deleting the previous one, so a
// running backup always has exactly one live lease; release leaves none.
func TestBackupLeaseRenewAndRelease(t *testing.T) {
	ctx := context.Background()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "src")
	l, err := takeLease(ctx, cat, "20261127T043300.000Z", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.renew(ctx)
	l.renew(ctx)
	leases, err := cat.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := leases["20261127T043300.000Z"]
	if len(leases) != 1 || !ok || got.Renewal != 3 || !got.Live(time.Now()) || got.PID == 0 || got.Host == "" {
		t.Fatalf("after two renewals: %+v", leases)
	}
	var keys []string
	st.List(ctx, "src/catalog/leases/", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	if len(keys) != 1 || keys[0] != got.Key {
		t.Fatalf("lease keys %v, want only the newest, %s", keys, got.Key)
	}
	l.release()
	if leases, err := cat.Leases(ctx); err != nil || len(leases) != 0 {
		t.Fatalf("after release: %+v, %v", leases, err)
	}
}

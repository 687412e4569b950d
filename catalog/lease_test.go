package catalog_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
)

// F5: purge with a short --orphan-grace deleted the parts of a backup still
// running. A running backup holds a lease; while it is live, purge keeps
// the backup's objects whatever the grace; once it expired (the backup was
// killed), the objects and the lease go as orphans.
func TestF5_PurgeSparesLeasedBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := fourBackups(t)
	const id = "b9-running"
	part := ps.cat.BackupPrefix(id) + "part-000001"
	ps.put(part, []byte("x"))
	host, _ := os.Hostname()
	key, err := ps.cat.PutLease(ctx, catalog.Lease{BackupID: id, Host: host, PID: os.Getpid(), Started: time.Now(), Heartbeat: time.Now(), Renewal: 1})
	if err != nil {
		t.Fatal(err)
	}
	orphans := func(now time.Time) (keys []string, warnings string) {
		t.Helper()
		p, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 4, OrphanGrace: 0}, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Orphans {
			keys = append(keys, o.Key)
		}
		return keys, strings.Join(p.Warnings, "\n")
	}
	keys, warn := orphans(time.Now())
	if len(keys) != 0 {
		t.Fatalf("purge plans to delete %v of a backup whose lease is live", keys)
	}
	if !strings.Contains(warn, "backup "+id+" is running") || !strings.Contains(warn, host) {
		t.Errorf("no warning names the running backup and its host: %q", warn)
	}
	// Killed: nobody renews the lease, and it expires.
	keys, _ = orphans(time.Now().Add(catalog.LeaseLiveFor + time.Minute))
	if strings.Join(keys, " ") != part+" "+key {
		t.Fatalf("after the lease expired, orphans %v, want %s and %s", keys, part, key)
	}
}

// F5: a negative duration in the policy is refused, not taken as "never".
func TestF5_NegativeOrphanGraceRefused(t *testing.T) {
	t.Parallel()
	err := catalog.RetentionPolicy{KeepBackups: 1, OrphanGrace: -time.Second}.Validate()
	if !errors.Is(err, catalog.ErrBadPolicy) || !strings.Contains(err.Error(), "orphan-grace") {
		t.Fatalf("Validate = %v, want ErrBadPolicy naming orphan-grace", err)
	}
	if err := (catalog.RetentionPolicy{RecoveryWindow: -time.Hour}).Validate(); err == nil {
		t.Fatal("a negative recovery window passes")
	}
}

// F5: a backup checks that what it wrote is still stored before it
// records itself.
func TestF5_CheckBackupStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := fourBackups(t)
	b := ps.backup("b9", 1, 12, 13)
	b.ManifestKey = ""
	if err := ps.cat.CheckBackupStored(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := ps.st.Delete(ctx, b.Parts[1].Key); err != nil {
		t.Fatal(err)
	}
	if err := ps.cat.CheckBackupStored(ctx, b); !errors.Is(err, catalog.ErrBackupIncomplete) || !strings.Contains(err.Error(), b.Parts[1].Key) {
		t.Fatalf("with a part gone: %v, want ErrBackupIncomplete naming it", err)
	}
}

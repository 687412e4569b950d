package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
)

// A backup record whose end lies exabytes of WAL away, or a mark at such a
// position (damage, or a crafted store), must neither exhaust purge's
// memory nor pass verify: purge reasons in runs of segments, and verify
// names the WAL the record claims and the store lacks. (Found by
// FuzzBackupRecord; its seeds huge-end-lsn and huge-mark-lsn.)
func TestHugeWALSpanRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := fourBackups(t)
	huge := ps.backup("b9-huge", 1, 12, 1<<36) // ends near LSN 2^60
	ps.mark("m-huge", 1, 1<<36)
	withDeadline(t, "purge planning", func() {
		p, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
		if err != nil {
			t.Error(err)
			return
		}
		for _, b := range p.Backups {
			if b.ID == huge.ID && b.Action != catalog.ActionKeep {
				t.Errorf("the newest backup is not kept: %+v", b)
			}
		}
	})
	withDeadline(t, "verify", func() {
		rep, err := ps.cat.Verify(ctx, catalog.VerifyOptions{Now: func() time.Time { return ps.at(20) }})
		if err != nil {
			t.Error(err)
			return
		}
		for _, pr := range rep.Problems {
			if pr.Code == catalog.CodeBackupWAL {
				return
			}
		}
		t.Errorf("verify does not flag backup %s, whose WAL runs to %s: %+v", huge.ID, huge.EndLSN, rep.Problems)
	})
}

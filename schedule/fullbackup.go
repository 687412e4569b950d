package schedule

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/sqlsource"
)

// failedSets remembers, per catalog, why the last scheduled backup (full
// or incremental) failed, so that the next scheduled incremental starts a
// new chain instead of building on the set before the failure. It lives
// in the daemon's memory: a restart forgets it, and the store checks of
// fullReason (broken chain, timeline change) still apply.
var failedSets = struct {
	sync.Mutex
	why map[*catalog.Catalog]string
}{why: map[*catalog.Catalog]string{}}

// noteAttempt records how a scheduled backup of cat ended.
func noteAttempt(cat *catalog.Catalog, job string, err error) {
	failedSets.Lock()
	defer failedSets.Unlock()
	if err == nil {
		delete(failedSets.why, cat)
		return
	}
	failedSets.why[cat] = fmt.Sprintf("the last scheduled %s backup failed (%s)", job, err)
}

func lastFailure(cat *catalog.Catalog) string {
	failedSets.Lock()
	defer failedSets.Unlock()
	return failedSets.why[cat]
}

// fullReason says why an incremental backup of a server now on timeline
// tli must be a full one instead, or "" when it can build on the newest
// backup: there is none; the newest one's chain is broken (a missing or
// bad ancestor); or the newest one is on another timeline (after a
// failover the parent's WAL summaries are not on the promoted server's
// history: start a new chain on the new timeline). tli 0 is unknown and
// skips the timeline check.
func fullReason(ch *catalog.Chain, tli pg.TimelineID) string {
	var newest *catalog.Backup
	for i, b := range ch.Backups {
		if newest == nil || b.StartLSN > newest.StartLSN || (b.StartLSN == newest.StartLSN && b.ID > newest.ID) {
			newest = &ch.Backups[i]
		}
	}
	if newest == nil {
		return "there is no backup to build on yet"
	}
	if _, err := ch.Ancestry(*newest); err != nil {
		return fmt.Sprintf("the newest backup %s has a broken chain: %v", newest.ID, err)
	}
	if tli != 0 && newest.Timeline != tli {
		return fmt.Sprintf("the server is on timeline %d and the newest backup %s on timeline %d (a failover): a new chain starts", tli, newest.ID, newest.Timeline)
	}
	return ""
}

// serverTimeline is the timeline the server writes WAL on (a standby: its
// last checkpoint's).
func serverTimeline(ctx context.Context, connString string) (pg.TimelineID, error) {
	src, err := sqlsource.Connect(ctx, connString)
	if err != nil {
		return 0, err
	}
	defer src.Close(context.WithoutCancel(ctx))
	var seg string
	err = src.Conn.QueryRow(ctx, `SELECT CASE WHEN pg_is_in_recovery()
  THEN lpad(to_hex((SELECT timeline_id FROM pg_control_checkpoint())), 8, '0')
  ELSE pg_walfile_name(pg_current_wal_lsn()) END`).Scan(&seg)
	if err != nil {
		return 0, err
	}
	if len(seg) < 8 {
		return 0, errors.New("timeline of the server: unexpected " + strconv.Quote(seg))
	}
	t, err := strconv.ParseUint(seg[:8], 16, 32)
	return pg.TimelineID(t), err
}

// nextFull says why the next scheduled incremental backup of cat must be
// a full one, or "" when it may be incremental. An error reading the
// store or the server is not a reason: the backup itself then fails and
// says why.
func nextFull(ctx context.Context, cat *catalog.Catalog, connString string) string {
	if why := lastFailure(cat); why != "" {
		return why
	}
	ch, err := cat.Chain(ctx)
	if err != nil {
		return ""
	}
	tli, err := serverTimeline(ctx, connString)
	if err != nil {
		tli = 0
	}
	return fullReason(ch, tli)
}

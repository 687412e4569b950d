package shipper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/logship/logship/catalog"
)

// backupLease is the lease a running backup holds in the store (see
// catalog/lease.go): taken before its first object, renewed in the
// background, removed when the backup ends, recorded or not.
type backupLease struct {
	cat  *catalog.Catalog
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	lease catalog.Lease
	keys  []string // written and not yet deleted, oldest first
}

// takeLease writes the first lease of backup id and starts renewing it.
func takeLease(ctx context.Context, cat *catalog.Catalog, id string, log *slog.Logger) (*backupLease, error) {
	host, _ := os.Hostname()
	now := time.Now().UTC()
	l := &backupLease{cat: cat, log: log, stop: make(chan struct{}), done: make(chan struct{}),
		lease: catalog.Lease{BackupID: id, Host: host, PID: os.Getpid(), Started: now, Heartbeat: now,
			RenewEverySeconds: catalog.LeaseRenewEvery.Seconds(), Renewal: 1}}
	key, err := cat.PutLease(ctx, l.lease)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	l.keys = []string{key}
	go l.renewLoop(ctx)
	return l, nil
}

func (l *backupLease) renewLoop(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(catalog.LeaseRenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			l.renew(ctx)
		}
	}
}

// renew writes the next lease key, then deletes the older ones: the
// backup is never without a lease. A failed write is retried at the next
// tick; the lease stays live for several of them.
func (l *backupLease) renew(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.lease
	next.Renewal++
	next.Heartbeat = time.Now().UTC()
	key, err := l.cat.PutLease(ctx, next)
	if err != nil && !errors.Is(err, catalog.ErrExist) {
		l.log.Warn("could not renew the backup's lease; purge may take the backup for an interrupted one if this goes on", "backup", next.BackupID, "err", err)
		return
	}
	l.lease = next
	old := l.keys
	l.keys = []string{key}
	for _, k := range old {
		if err := l.cat.DeleteLease(ctx, k); err != nil {
			l.keys = append(l.keys, k) // try again next time
		}
	}
}

// release stops the renewals and deletes the lease. It runs whatever the
// backup's outcome, also once its context is cancelled.
func (l *backupLease) release() {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.keys {
		if err := l.cat.DeleteLease(ctx, k); err != nil {
			l.log.Warn("could not remove the backup's lease; it expires by itself", "backup", l.lease.BackupID, "key", k, "err", err)
		}
	}
	l.keys = nil
}

// holdBackup, when set (by tests, through the environment), names a file
// that a backup creates once its parts and manifest are stored; the backup
// then waits until the file is removed, so that a test can run purge
// against a backup in progress.
var holdBackup = os.Getenv("LOGSHIP_TEST_HOLD_BACKUP")

func holdForTest(ctx context.Context) error {
	if holdBackup == "" {
		return nil
	}
	if err := os.WriteFile(holdBackup, nil, 0o644); err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(holdBackup); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

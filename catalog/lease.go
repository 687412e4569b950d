package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/store"
)

// A running backup holds a lease: a small JSON object under
// catalog/leases/ naming the backup, the host and the process, which the
// backup renews every LeaseRenewEvery. Purge never deletes the objects of a
// backup whose lease is live, whatever the orphan grace: a backup writes
// its record last, so until then its parts look like an interrupted
// backup's. The store is create-only, so a renewal writes the next key
// (<id>~<n>.json) before deleting the previous one, and a backup always
// has at least one lease key from its first object to its record.

// LeaseRenewEvery is how often a running backup renews its lease.
const LeaseRenewEvery = time.Minute

// LeaseLiveFor is how long a lease stays live after its last renewal, as
// the store dates it: several missed renewals, so that a slow store does
// not expire a running backup, while a killed backup's lease expires.
const LeaseLiveFor = 5 * LeaseRenewEvery

// Lease says that a backup is running.
type Lease struct {
	BackupID  string    `json:"backup_id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"` // the writer's clock, for people
	// RenewEverySeconds is the renewal period the writer promised.
	RenewEverySeconds float64 `json:"renew_every_seconds"`
	// Renewal counts the lease's writes, from 1; it is in the key.
	Renewal int `json:"renewal"`
}

// LeaseState is a lease as purge sees it: what it says and when the store
// last wrote it.
type LeaseState struct {
	Lease
	Key     string
	Written time.Time // the store's modification time of the newest key
}

// Live reports whether the lease was renewed recently enough, at now.
func (s LeaseState) Live(now time.Time) bool { return now.Sub(s.Written) < LeaseLiveFor }

func (c *Catalog) leasePrefix() string { return c.key("catalog/leases/") }

func (c *Catalog) leaseKey(l Lease) string {
	return fmt.Sprintf("%s%s%s%06d.json", c.leasePrefix(), l.BackupID, recordSep, l.Renewal)
}

// PutLease writes lease l (create-only) and returns its key, also with an
// error (ErrExist: a retried write). The caller deletes the previous key
// after this one is written.
func (c *Catalog) PutLease(ctx context.Context, l Lease) (string, error) {
	key := c.leaseKey(l)
	if err := c.putJSON(ctx, key, l); err != nil {
		return key, fmt.Errorf("store lease of backup %s: %w", l.BackupID, err)
	}
	return key, nil
}

// DeleteLease removes one lease key (PutLease's answer).
func (c *Catalog) DeleteLease(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, c.leasePrefix()) {
		return fmt.Errorf("delete lease: %q is not a lease key", key)
	}
	return c.st.Delete(ctx, key)
}

// maxLeaseRecord bounds a lease read back.
const maxLeaseRecord = 64 << 10

// Leases lists the lease of every backup that has one, by backup id: its
// newest key. A key that cannot be read still counts (with its id from
// the key), so that damage never makes purge bolder.
func (c *Catalog) Leases(ctx context.Context) (map[string]LeaseState, error) {
	newest := map[string]store.ObjectInfo{}
	prefix := c.leasePrefix()
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		id, n, ok := strings.Cut(strings.TrimPrefix(oi.Key, prefix), recordSep)
		if !ok || !strings.HasSuffix(n, ".json") {
			return nil
		}
		if cur, ok := newest[id]; !ok || oi.ModTime.After(cur.ModTime) {
			newest[id] = oi
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	out := make(map[string]LeaseState, len(newest))
	for id, oi := range newest {
		s := LeaseState{Key: oi.Key, Written: oi.ModTime}
		if err := c.getJSON(ctx, oi.Key, &s.Lease, maxLeaseRecord); err != nil {
			s.Lease = Lease{}
		}
		s.BackupID = id
		out[id] = s
	}
	return out, nil
}

// leaseKeys lists every lease key of backup id, oldest renewal first.
func (c *Catalog) leaseKeys(ctx context.Context, id string) ([]store.ObjectInfo, error) {
	var keys []store.ObjectInfo
	err := c.st.List(ctx, c.leasePrefix()+id+recordSep, func(oi store.ObjectInfo) error {
		keys = append(keys, oi)
		return nil
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key })
	return keys, err
}

// describe names the lease's holder for messages.
func (s LeaseState) describe(now time.Time) string {
	who := "an unreadable lease"
	if s.Host != "" || s.PID != 0 {
		who = s.Host + " pid " + strconv.Itoa(s.PID)
	}
	return fmt.Sprintf("%s, renewed %s ago", who, now.Sub(s.Written).Round(time.Second))
}

// running reports whether the objects of unrecorded backup id must stay
// because the backup is still at work: its lease is live, or it recorded
// itself (backup.json is written before the record, and the lease removed
// after it) since purge listed its objects.
func (p *PurgePlan) running(ctx context.Context, c *Catalog, id string, leases map[string]LeaseState, now time.Time) (bool, error) {
	if l, ok := leases[id]; ok && l.Live(now) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("backup %s is running (lease of %s): its objects are kept", id, l.describe(now)))
		return true, nil
	}
	_, err := c.st.Stat(ctx, c.backupPrefix(id)+BackupDocName)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check backup %s: %w", id, err)
}

// planLeaseOrphans deletes the leases that expired: left by a backup that
// was killed, or that could not remove its lease.
func (p *PurgePlan) planLeaseOrphans(ctx context.Context, c *Catalog, leases map[string]LeaseState, now time.Time) error {
	ids := make([]string, 0, len(leases))
	for id, l := range leases {
		if !l.Live(now) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		keys, err := c.leaseKeys(ctx, id)
		if err != nil {
			return fmt.Errorf("list leases of backup %s: %w", id, err)
		}
		for _, oi := range keys {
			p.Orphans = append(p.Orphans, PlannedOrphan{Key: oi.Key, Size: oi.Size,
				Reason: fmt.Sprintf("lease of backup %s, expired (%s)", id, leases[id].describe(now))})
		}
	}
	return nil
}

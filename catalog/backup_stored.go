package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/logship/logship/store"
)

// ErrBackupIncomplete means objects a backup wrote are no longer in the
// store when it is about to record itself (a purge, or a hand, removed
// them): recorded, it would be a backup verify calls broken.
var ErrBackupIncomplete = errors.New("backup objects missing before it was recorded")

// CheckBackupStored checks, just before backup b records itself, that
// every part and the manifest it wrote are still stored, at the size
// written.
func (c *Catalog) CheckBackupStored(ctx context.Context, b Backup) error {
	want := map[string]int64{}
	for _, p := range b.AllParts() {
		want[p.Key] = p.StoredSize
	}
	if b.ManifestKey != "" {
		want[b.ManifestKey] = -1
	}
	found := map[string]int64{}
	err := c.st.List(ctx, c.backupPrefix(b.ID), func(oi store.ObjectInfo) error {
		found[oi.Key] = oi.Size
		return nil
	})
	if err != nil {
		return fmt.Errorf("check the objects of backup %s: %w", b.ID, err)
	}
	var missing []string
	for _, p := range b.AllParts() {
		if size, ok := found[p.Key]; !ok || size != p.StoredSize {
			missing = append(missing, p.Key)
		}
	}
	if _, ok := found[b.ManifestKey]; b.ManifestKey != "" && !ok {
		missing = append(missing, b.ManifestKey)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %d of the %d objects of backup %s are gone, the first %s (was purge run with a short --orphan-grace while the backup ran?); the backup is not recorded: take it again",
			ErrBackupIncomplete, len(missing), len(want), b.ID, missing[0])
	}
	return nil
}

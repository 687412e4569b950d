package catalog

import (
	"context"
	"fmt"
	"sort"
)

// PurgeResult counts what a purge deleted.
type PurgeResult struct {
	Deleted PurgeTotals `json:"deleted"`
	Objects int         `json:"objects"`
	// Retained lists the deleted keys some of whose versions an Object
	// Lock retention keeps (S3 with --s3-object-lock; retained.go).
	Retained []RetainedObject `json:"retained,omitempty"`
}

// Purge carries out a plan, in an order that keeps the catalog whole at
// every step: marks (their object, then their record), then backups
// (record, then the copy of the record, then parts), then streamed WAL
// pieces (record, then object), then WAL from the oldest (record, then
// object, so what stays is contiguous), then orphans.
// Cut short anywhere, it leaves a store in which every record still points
// at what it needs and from which catalog rebuild revives nothing broken;
// running it again finishes the job.
func (c *Catalog) Purge(ctx context.Context, p *PurgePlan) (PurgeResult, error) {
	var res PurgeResult
	del := func(key string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.st.Delete(ctx, key); err != nil && !res.retained(err) {
			return fmt.Errorf("delete %s: %w", key, err)
		}
		res.Objects++
		return nil
	}
	for _, m := range p.Marks {
		if m.Action != ActionDelete {
			continue
		}
		if err := c.purgeMark(ctx, m.Name, del); err != nil {
			return res, err
		}
		res.Deleted.Marks++
	}
	for _, b := range p.delBackups {
		if err := c.purgeBackup(ctx, b.ID, del); err != nil {
			return res, err
		}
		res.Deleted.Backups++
		res.Deleted.StoredBytes += b.StoredSize
	}
	// Pieces before WAL: a segment's pieces must not outlive it as the
	// newest tail.
	if err := c.deletePieces(ctx, p.delPieces, del); err != nil {
		return res, err
	}
	res.Deleted.WALPieces += len(p.delPieces)
	for _, pc := range p.delPieces {
		res.Deleted.StoredBytes += pc.StoredSize
	}
	wal := append([]WALRecord(nil), p.delWAL...)
	sort.Slice(wal, func(i, j int) bool { return wal[i].Name < wal[j].Name })
	for _, r := range wal {
		if err := del(c.walRecordKey(r)); err != nil {
			return res, err
		}
		if err := del(c.walKey(r.Name)); err != nil {
			return res, err
		}
		res.Deleted.WALFiles++
		res.Deleted.StoredBytes += r.StoredSize
	}
	for _, o := range p.Orphans {
		if err := del(o.Key); err != nil {
			return res, err
		}
		res.Deleted.Orphans++
		res.Deleted.StoredBytes += o.Size
	}
	return res, nil
}

// purgeMark deletes a mark. Its own object goes first: left behind by a
// crash, it would let catalog rebuild bring back a mark whose WAL is gone.
func (c *Catalog) purgeMark(ctx context.Context, name string, del func(string) error) error {
	if err := del(c.markObjectKey(name)); err != nil {
		return err
	}
	keys, err := c.listKeys(ctx, c.markPrefix()+name+recordSep, nil)
	if err != nil {
		return fmt.Errorf("find mark %s: %w", name, err)
	}
	return deleteEach(keys, del)
}

// purgeBackup deletes a backup: record, then the copy rebuild would
// restore it from, then the parts, so that a rebuild after a crash never
// revives a backup with parts missing.
func (c *Catalog) purgeBackup(ctx context.Context, id string, del func(string) error) error {
	doc := c.backupPrefix(id) + BackupDocName
	if err := del(c.backupRecordPrefix() + id + ".json"); err != nil {
		return err
	}
	if err := del(doc); err != nil {
		return err
	}
	keys, err := c.listKeys(ctx, c.backupPrefix(id), func(rest string) bool { return rest != BackupDocName })
	if err != nil {
		return fmt.Errorf("list backup %s: %w", id, err)
	}
	return deleteEach(keys, del)
}

func deleteEach(keys []string, del func(string) error) error {
	for _, k := range keys {
		if err := del(k); err != nil {
			return err
		}
	}
	return nil
}

package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// ErrBrokenAncestry means an incremental backup cannot be restored because
// a backup it builds on has no record, or a record that does not fit.
var ErrBrokenAncestry = errors.New("incremental backup's ancestry is broken")

// maxAncestry bounds a chain of incrementals, so that records naming each
// other in a loop end in an error rather than a hang.
const maxAncestry = 10000

// Ancestry returns what restoring b needs, oldest first: the full backup it
// descends from, every incremental between, and b itself (just b for a full
// backup). Each parent must be recorded, of the same system, and start
// where the child's record says it was taken from.
func (ch *Chain) Ancestry(b Backup) ([]Backup, error) {
	byID := make(map[string]Backup, len(ch.Backups))
	for _, x := range ch.Backups {
		byID[x.ID] = x
	}
	return ancestry(b, func(id string) (Backup, error) {
		p, ok := byID[id]
		if !ok {
			return p, store.ErrNotExist
		}
		return p, nil
	})
}

// Ancestry is Chain.Ancestry reading only the records it needs.
func (c *Catalog) Ancestry(ctx context.Context, b Backup) ([]Backup, error) {
	return ancestry(b, func(id string) (Backup, error) { return c.FindBackup(ctx, id) })
}

func ancestry(b Backup, find func(id string) (Backup, error)) ([]Backup, error) {
	out := []Backup{b}
	for cur := b; cur.Incremental(); {
		if len(out) > maxAncestry {
			return nil, fmt.Errorf("%w: backup %s: more than %d backups deep (records in a loop?)", ErrBrokenAncestry, b.ID, maxAncestry)
		}
		if cur.Parent == "" {
			return nil, fmt.Errorf("%w: incremental backup %s names no parent", ErrBrokenAncestry, cur.ID)
		}
		p, err := find(cur.Parent)
		switch {
		case errors.Is(err, store.ErrNotExist):
			return nil, fmt.Errorf("%w: backup %s builds on backup %s, which is not recorded (purged or never completed)", ErrBrokenAncestry, cur.ID, cur.Parent)
		case err != nil:
			return nil, err
		case p.ID != cur.Parent:
			return nil, fmt.Errorf("%w: the record of backup %s holds backup %s", ErrBrokenAncestry, cur.Parent, p.ID)
		case p.SystemID != cur.SystemID:
			return nil, fmt.Errorf("%w: backup %s (system %d) builds on backup %s of system %d", ErrBrokenAncestry, cur.ID, cur.SystemID, p.ID, p.SystemID)
		case p.StartLSN != cur.ParentStartLSN:
			return nil, fmt.Errorf("%w: backup %s was taken from a backup starting at %s, but backup %s starts at %s", ErrBrokenAncestry, cur.ID, cur.ParentStartLSN, p.ID, p.StartLSN)
		}
		out = append(out, p)
		cur = p
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// ancestryWhole tells whether every backup restoring b needs is recorded.
func (ch *Chain) ancestryWhole(b Backup) bool {
	if !b.Incremental() {
		return true
	}
	_, err := ch.Ancestry(b)
	return err == nil
}

// keepAncestors keeps, for every backup keep keeps (keep is per backup,
// oldest first, as policyKeeps returns it), the backups it builds on, since
// it cannot be restored without them.
func keepAncestors(ch *Chain, keep []string) {
	index := make(map[string]int, len(ch.Backups))
	for i, b := range ch.Backups {
		index[b.ID] = i
	}
	// Newest first, so that a kept ancestor passes its reason on down.
	for i := len(ch.Backups) - 1; i >= 0; i-- {
		b := ch.Backups[i]
		if keep[i] == "" || !b.Incremental() {
			continue
		}
		if j, ok := index[b.Parent]; ok && keep[j] == "" {
			keep[j] = "an ancestor of kept incremental backup " + b.ID
		}
	}
}

// Verify problem codes about an incremental backup's ancestry.
const (
	CodeMissingAncestor = "missing-ancestor"
	CodeBadAncestor     = "bad-ancestor"
)

// checkAncestry marks an incremental backup unrestorable when a backup it
// builds on is missing or unrestorable itself, naming that backup. Backups
// are checked oldest first, so a bad backup spoils all its descendants. Only
// what the restore of an incremental reads counts: the ancestors' parts and
// manifests, not their WAL.
func (v *verifier) checkAncestry(ch *Chain) {
	for _, b := range ch.Backups {
		if !b.Incremental() {
			continue
		}
		bc := v.backupChecks[b.ID]
		chain, err := ch.Ancestry(b)
		if err != nil {
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeMissingAncestor, Object: v.cat.backupRecordPrefix() + b.Parent + ".json",
				Message: err.Error(),
				Fix:     "the incremental backup cannot be restored: take a new full backup (logship backup)"})
			continue
		}
		for _, a := range chain[:len(chain)-1] {
			if !v.badBackup[a.ID] {
				continue
			}
			v.badBackup[b.ID] = true
			v.add(bc, Problem{Severity: SevError, Code: CodeBadAncestor, Object: v.cat.backupRecordPrefix() + a.ID + ".json",
				Message: fmt.Sprintf("backup %s builds on backup %s, which cannot be restored (see its problems)", b.ID, a.ID),
				Fix:     "the incremental backup cannot be restored: take a new full backup (logship backup)"})
			break
		}
	}
}

// ErrBackupDamaged means a recorded backup's part or manifest is missing
// from the store or has another size than recorded.
var ErrBackupDamaged = errors.New("backup damaged")

// CheckStored checks, with one listing, that every part and the manifest
// of b are in the store at their recorded sizes: what a restore checks of
// every backup it needs before it writes anything.
func (c *Catalog) CheckStored(ctx context.Context, b Backup) error {
	have := map[string]int64{}
	if err := c.st.List(ctx, c.backupPrefix(b.ID), func(oi store.ObjectInfo) error {
		have[oi.Key] = oi.Size
		return nil
	}); err != nil {
		return fmt.Errorf("list backup %s: %w", b.ID, err)
	}
	// A listing shows each key's current object. One whose record names a
	// version is read as that version, which may still be there when the
	// key was written over or deleted since: its read checks it.
	pinned := func(version string) bool { return version != "" && c.versioned() }
	if _, ok := have[b.ManifestKey]; (!ok && !pinned(b.ManifestVersionID)) || b.ManifestKey == "" {
		return fmt.Errorf("%w: backup %s: its backup_manifest %s is missing", ErrBackupDamaged, b.ID, b.ManifestKey)
	}
	for _, p := range b.AllParts() {
		size, ok := have[p.Key]
		switch {
		case pinned(p.VersionID):
		case !ok:
			return fmt.Errorf("%w: backup %s: part %s is missing from the store", ErrBackupDamaged, b.ID, p.Key)
		case size != p.StoredSize:
			return fmt.Errorf("%w: backup %s: part %s is %d bytes, the record says %d", ErrBackupDamaged, b.ID, p.Key, size, p.StoredSize)
		}
	}
	return nil
}

// PutPartIn stores obj, a part of backup id kept in the folder dir of the
// backup (a tablespace's, "tblspc-<oid>"), create-only, and returns the
// part's record.
func (c *Catalog) PutPartIn(ctx context.Context, id, dir string, obj *object.Encoded) (BackupPart, error) {
	return c.putPart(ctx, c.backupPrefix(id)+dir+"/"+obj.Header.Name, obj)
}

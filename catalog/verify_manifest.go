package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// CodeManifestUnusable: a recorded backup's backup_manifest is not one
// restore can use (a version logship does not read, another cluster's
// system identifier, or not a manifest at all).
const CodeManifestUnusable = "manifest-unusable"

// checkManifests reads the head of every recorded backup's backup_manifest
// (the version and system identifier on its first lines, at most a few KiB
// of one object per backup: the records do not say which manifest version
// a backup has) and flags each backup whose manifest restore could not use.
// Backups found broken already are skipped. A store that cannot be read
// fails the run; a manifest object gone since the listing is a problem.
func (v *verifier) checkManifests(ctx context.Context, ch *Chain) error {
	for _, b := range ch.Backups {
		if v.badBackup[b.ID] || b.ManifestKey == "" {
			continue
		}
		system := b.SystemID
		if system == 0 {
			system = ch.Source.SystemID
		}
		err := v.cat.manifestUsable(ctx, b, system)
		var unusable unusableManifestError
		switch {
		case errors.As(err, &unusable):
			v.badBackup[b.ID] = true
			v.add(v.backupChecks[b.ID], Problem{Severity: SevError, Code: CodeManifestUnusable, Object: b.ManifestKey,
				Message: fmt.Sprintf("backup %s: restore could not use its backup_manifest: %v", b.ID, unusable.err),
				Fix:     "take a new backup (logship backup); restores fall back to older backups"})
		case err != nil:
			return err
		}
	}
	return nil
}

// unusableManifestError is a manifest that was read but restore could not
// use, as opposed to a store that could not be read.
type unusableManifestError struct{ err error }

func (e unusableManifestError) Error() string { return e.err.Error() }

// manifestUsable reads the head of b's manifest object and checks it as
// restore would (pg.ManifestHead.CheckFor).
func (c *Catalog) manifestUsable(ctx context.Context, b Backup, system uint64) error {
	rc, err := c.get(ctx, b.ManifestKey, b.ManifestVersionID)
	if errors.Is(err, store.ErrNotExist) {
		return unusableManifestError{fmt.Errorf("%s is missing", b.ManifestKey)}
	}
	if err != nil {
		return fmt.Errorf("read backup manifest %s: %w", b.ManifestKey, err)
	}
	defer rc.Close()
	or, err := c.newReader(rc)
	if errors.Is(err, object.ErrEncrypted) || errors.Is(err, object.ErrNoIdentity) {
		// Its head is sealed: deep verify checks its stored bytes instead,
		// and says which identities it lacks.
		return nil
	}
	if err == nil {
		err = checkRecord(or.Header(), b.ManifestKey, manifestExpect(b))
	}
	var h pg.ManifestHead
	if err == nil {
		h, err = pg.ReadManifestHead(io.Reader(or))
	}
	if err == nil {
		err = h.CheckFor(system)
	}
	if err != nil {
		return unusableManifestError{err}
	}
	return nil
}

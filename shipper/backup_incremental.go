package shipper

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/basebackup"
)

// ErrIncrementalRefused means an incremental backup cannot be taken as
// asked: the server is older than PostgreSQL 17 or has summarize_wal off,
// or there is no suitable parent. Nothing was stored. (The command maps it
// to exit 2: a configuration problem, not a failure of the store.)
var ErrIncrementalRefused = errors.New("incremental backup refused")

// maxParentManifest bounds the parent's backup_manifest read back for the
// upload (the backup side's own limit).
const maxParentManifest = 1 << 30

// incrementalParent chooses and reads the backup an incremental one builds
// on: the one named by id, or the newest complete backup of the source's
// system whose own ancestry is whole. It returns the parent and its
// backup_manifest, which the server checks the new backup against.
func incrementalParent(ctx context.Context, cat *catalog.Catalog, systemID uint64, id string) (catalog.Backup, []byte, error) {
	ch, err := cat.Chain(ctx)
	if err != nil {
		return catalog.Backup{}, nil, err
	}
	var parent catalog.Backup
	if id != "" {
		found := false
		for _, b := range ch.Backups {
			if b.ID == id {
				parent, found = b, true
			}
		}
		if !found {
			return parent, nil, fmt.Errorf("%w: --parent %s: no such complete backup in source %q (see logship catalog list)", ErrIncrementalRefused, id, cat.SourceName())
		}
	} else {
		for _, b := range ch.Backups {
			if b.SystemID != systemID {
				continue
			}
			if _, err := ch.Ancestry(b); err != nil {
				continue
			}
			if parent.ID == "" || b.StartLSN > parent.StartLSN || (b.StartLSN == parent.StartLSN && b.ID > parent.ID) {
				parent = b
			}
		}
		if parent.ID == "" {
			return parent, nil, fmt.Errorf("%w: source %q has no complete backup to build on: take a full backup first (logship backup)", ErrIncrementalRefused, cat.SourceName())
		}
	}
	if _, err := ch.Ancestry(parent); err != nil {
		return parent, nil, fmt.Errorf("%w: parent %s: %w", ErrIncrementalRefused, parent.ID, err)
	}
	if parent.ServerVersion != 0 && parent.ServerVersion < 170000 {
		return parent, nil, fmt.Errorf("%w: incremental backups need PostgreSQL 17 or later; parent backup %s is of server version %d", ErrIncrementalRefused, parent.ID, parent.ServerVersion)
	}
	man, err := readManifest(ctx, cat, parent)
	if err != nil {
		return parent, nil, err
	}
	m, err := pg.ParseManifest(man)
	if err != nil {
		return parent, nil, fmt.Errorf("parent backup %s: %w", parent.ID, err)
	}
	if m.Version < 2 {
		return parent, nil, fmt.Errorf("%w: parent backup %s has a version %d backup_manifest; an incremental backup needs one of version 2 (PostgreSQL 17 or later)", ErrIncrementalRefused, parent.ID, m.Version)
	}
	if m.HasSystemID && m.SystemID != systemID {
		return parent, nil, fmt.Errorf("%w: parent backup %s is of system %d, the source is %d", ErrIncrementalRefused, parent.ID, m.SystemID, systemID)
	}
	return parent, man, nil
}

func readManifest(ctx context.Context, cat *catalog.Catalog, b catalog.Backup) ([]byte, error) {
	o, err := cat.OpenManifest(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("backup %s manifest: %w", b.ID, err)
	}
	defer o.Close()
	if size := o.Header().RawSize; size > maxParentManifest {
		return nil, fmt.Errorf("backup %s manifest: %d bytes, more than %d", b.ID, size, maxParentManifest)
	}
	man, err := io.ReadAll(o)
	if err != nil {
		return nil, fmt.Errorf("backup %s manifest: %w", b.ID, err)
	}
	return man, nil
}

// incrementalError says what to do about a refused incremental backup.
func incrementalError(parent string, err error) error {
	switch {
	case errors.Is(err, basebackup.ErrIncrementalUnsupported):
		return fmt.Errorf("%w: %w", ErrIncrementalRefused, err)
	case errors.Is(err, basebackup.ErrParentUnusable):
		return fmt.Errorf("%w: parent backup %s: %w; the WAL summaries from its start on may have aged out (wal_summary_keep_time, 10 days by default): take a full backup", ErrIncrementalRefused, parent, err)
	}
	return err
}

// prepareIncremental fills in b's parent for an incremental backup and
// returns the parent's manifest for the upload; nil for a full backup.
func prepareIncremental(ctx context.Context, cat *catalog.Catalog, systemID uint64, opts BackupOptions, b *catalog.Backup) ([]byte, error) {
	if !opts.Incremental {
		if opts.Parent != "" {
			return nil, fmt.Errorf("%w: a parent is given only with --incremental", ErrIncrementalRefused)
		}
		return nil, nil
	}
	parent, man, err := incrementalParent(ctx, cat, systemID, opts.Parent)
	if err != nil {
		return nil, err
	}
	b.Kind, b.Parent, b.ParentStartLSN = catalog.KindIncremental, parent.ID, parent.StartLSN
	return man, nil
}

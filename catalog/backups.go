package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// Backup is the record of one full base backup. It is written once, at the
// end, after every part and the WAL up to EndLSN are stored: a backup
// without a record is incomplete and is never used by restore. Its JSON
// form (backupJSON) also carries each LSN as a number.
type Backup struct {
	ID            string // sortable: 20261127T043300Z
	Label         string
	Source        string
	SystemID      uint64
	ServerVersion int
	Timeline      pg.TimelineID
	StartLSN      pg.LSN
	EndLSN        pg.LSN
	StartWAL      string // first segment the backup needs
	EndWAL        string // last segment the backup needs
	StartTime     time.Time
	EndTime       time.Time
	RawSize       int64
	StoredSize    int64
	Compression   string
	// Recipients are the fingerprints of the age recipients its objects
	// were sealed for (compression zstd+age); none for a clear backup.
	Recipients     []string
	Parts          []BackupPart
	ManifestKey    string
	ManifestSHA256 string
	// ManifestVersionID is the manifest's version on a versioned bucket
	// (see BackupPart.VersionID); empty otherwise.
	ManifestVersionID string
	// Kind is KindIncremental for an incremental backup; "" (a record
	// older than incremental backups, or a full backup) is a full one.
	Kind string
	// Parent is the id of the backup an incremental one was taken on top
	// of, and ParentStartLSN that backup's start (its backup_label's
	// INCREMENTAL FROM LSN); both empty for a full backup.
	Parent         string
	ParentStartLSN pg.LSN
	// Tablespaces are the archives of the tablespaces other than
	// pg_default and pg_global, each stored in parts of its own; Parts is
	// the main data directory's archive. Empty for a backup without
	// tablespaces (and for every record older than tablespace support).
	Tablespaces []BackupTablespace
}

// Backup kinds.
const (
	KindFull        = ""
	KindIncremental = "incremental"
)

// Incremental tells whether the backup is incremental: restoring it needs
// its parent, and the parent's parent, down to a full backup.
func (b Backup) Incremental() bool { return b.Kind == KindIncremental }

// BackupTablespace is one tablespace's archive of a backup.
type BackupTablespace struct {
	OID      uint32 `json:"oid"`
	Location string `json:"location"` // the tablespace's directory on the source
	// Parts are its tar stream's pieces, in order, stored under
	// backups/<id>/tblspc-<oid>/.
	Parts      []BackupPart `json:"parts"`
	RawSize    int64        `json:"raw_size"`
	StoredSize int64        `json:"stored_size"`
}

// AllParts lists every stored part of the backup: the tablespaces' and
// the main archive's.
func (b Backup) AllParts() []BackupPart {
	var out []BackupPart
	for _, ts := range b.Tablespaces {
		out = append(out, ts.Parts...)
	}
	return append(out, b.Parts...)
}

// BackupPart is one stored piece of the backup's tar stream, in order.
type BackupPart struct {
	Key        string `json:"key"`
	RawSize    int64  `json:"raw_size"`
	SHA256     string `json:"sha256"`
	StoredSize int64  `json:"stored_size"`
	// VersionID is the part's version on a versioned bucket, the one its
	// write made: reads get exactly that version, whatever was written
	// over the key since. Empty (and absent from the JSON) otherwise.
	VersionID string `json:"version_id,omitempty"`
}

// maxBackupRecord bounds a backup record: ~200 bytes a part, so about
// 300,000 parts (tens of TiB).
const maxBackupRecord = 64 << 20

// ErrNoBackup means no complete backup fits what was asked.
var ErrNoBackup = errors.New("no suitable backup")

func (c *Catalog) backupRecordPrefix() string { return c.key("catalog/backups/") }

// BackupDocName is the object, beside a backup's parts, that keeps a copy of
// its record, so that catalog rebuild can restore the record from the
// backup's own objects. It is written only once the backup is complete.
const BackupDocName = "backup.json"

// AddBackup records a complete backup (create-only): first the copy beside
// its parts, then the catalog record.
func (c *Catalog) AddBackup(ctx context.Context, b Backup) error {
	if err := c.putDoc(ctx, c.backupPrefix(b.ID)+BackupDocName, BackupDocName, b); err != nil {
		return fmt.Errorf("store %s of backup %s: %w", BackupDocName, b.ID, err)
	}
	return c.addBackupRecord(ctx, b)
}

func (c *Catalog) addBackupRecord(ctx context.Context, b Backup) error {
	err := c.putJSON(ctx, c.backupRecordPrefix()+b.ID+".json", b)
	if errors.Is(err, store.ErrExist) {
		return nil // same id, same facts: a retried or rebuilt record
	}
	return err
}

// Backups lists the complete backups, oldest first.
func (c *Catalog) Backups(ctx context.Context) ([]Backup, error) {
	var keys []string
	if err := c.st.List(ctx, c.backupRecordPrefix(), func(oi store.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, ".json") {
			keys = append(keys, oi.Key)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Backup, 0, len(keys))
	for _, k := range keys {
		var b Backup
		if err := c.getJSON(ctx, k, &b, maxBackupRecord); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FindBackup returns the backup with this id.
func (c *Catalog) FindBackup(ctx context.Context, id string) (Backup, error) {
	var b Backup
	err := c.getJSON(ctx, c.backupRecordPrefix()+id+".json", &b, maxBackupRecord)
	if errors.Is(err, store.ErrNotExist) {
		return b, fmt.Errorf("no backup %q in source %q: %w", id, c.source, store.ErrNotExist)
	}
	return b, err
}

// DeleteBackupRecord removes the record first, so that a backup being
// purged is never offered to restore while its parts disappear.
func (c *Catalog) DeleteBackupRecord(ctx context.Context, id string) error {
	return c.st.Delete(ctx, c.backupRecordPrefix()+id+".json")
}

func sortMarks(m []Mark) {
	sort.SliceStable(m, func(i, j int) bool {
		if m[i].LSN != m[j].LSN {
			return m[i].LSN < m[j].LSN
		}
		return m[i].Time.Before(m[j].Time)
	})
}

package catalog

import (
	"encoding/json"
	"time"

	"github.com/logship/logship/pg"
)

// backupJSON is a backup record as stored (catalog/backups/<id>.json and
// backup.json beside the parts). Field order and encoding are the format:
// LSNs appear twice, as PostgreSQL prints them and as numbers, and the
// system identifier is a string so that no JSON reader rounds it.
type backupJSON struct {
	ID             string        `json:"id"`
	Label          string        `json:"label"`
	Source         string        `json:"source"`
	SystemID       uint64        `json:"system_id,string"`
	ServerVersion  int           `json:"server_version"`
	Timeline       pg.TimelineID `json:"timeline"`
	StartLSN       string        `json:"start_lsn"`
	EndLSN         string        `json:"end_lsn"`
	StartLSNValue  uint64        `json:"start_lsn_value"`
	EndLSNValue    uint64        `json:"end_lsn_value"`
	StartWAL       string        `json:"start_wal"`
	EndWAL         string        `json:"end_wal"`
	StartTime      time.Time     `json:"start_time"`
	EndTime        time.Time     `json:"end_time"`
	RawSize        int64         `json:"raw_size"`
	StoredSize     int64         `json:"stored_size"`
	Compression    string        `json:"compression"`
	Parts          []BackupPart  `json:"parts"`
	ManifestKey    string        `json:"manifest_key"`
	ManifestSHA256 string        `json:"manifest_sha256"`
	// Added with incremental backups and tablespaces; absent from full
	// backups without tablespaces, so such a record is unchanged.
	Kind                string             `json:"kind,omitempty"`
	Parent              string             `json:"parent,omitempty"`
	ParentStartLSN      string             `json:"parent_start_lsn,omitempty"`
	ParentStartLSNValue uint64             `json:"parent_start_lsn_value,omitempty"`
	Tablespaces         []BackupTablespace `json:"tablespaces,omitempty"`
	// Added with encryption: fingerprints of the recipients; absent from
	// clear backups.
	Recipients []string `json:"recipients,omitempty"`
	// Added with version ids: the manifest's version on a versioned
	// bucket; absent otherwise.
	ManifestVersionID string `json:"manifest_version_id,omitempty"`
}

// MarshalJSON writes the stored form of the record.
func (b Backup) MarshalJSON() ([]byte, error) {
	return json.Marshal(backupJSON{
		ID: b.ID, Label: b.Label, Source: b.Source, SystemID: b.SystemID, ServerVersion: b.ServerVersion, Timeline: b.Timeline,
		StartLSN: b.StartLSN.String(), EndLSN: b.EndLSN.String(), StartLSNValue: uint64(b.StartLSN), EndLSNValue: uint64(b.EndLSN),
		StartWAL: b.StartWAL, EndWAL: b.EndWAL, StartTime: b.StartTime, EndTime: b.EndTime,
		RawSize: b.RawSize, StoredSize: b.StoredSize, Compression: b.Compression, Parts: b.Parts,
		ManifestKey: b.ManifestKey, ManifestSHA256: b.ManifestSHA256,
		Kind: b.Kind, Parent: b.Parent, ParentStartLSN: parentLSNText(b), ParentStartLSNValue: uint64(b.ParentStartLSN),
		Tablespaces: b.Tablespaces, Recipients: b.Recipients, ManifestVersionID: b.ManifestVersionID,
	})
}

func parentLSNText(b Backup) string {
	if b.Parent == "" && b.ParentStartLSN == 0 {
		return ""
	}
	return b.ParentStartLSN.String()
}

// UnmarshalJSON reads the stored form. The numbers are what restore and
// purge always went by; the text is read only when a number is absent.
func (b *Backup) UnmarshalJSON(data []byte) error {
	var w backupJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	start, err := recordLSN(w.StartLSNValue, w.StartLSN)
	if err != nil {
		return err
	}
	end, err := recordLSN(w.EndLSNValue, w.EndLSN)
	if err != nil {
		return err
	}
	parentStart, err := recordLSN(w.ParentStartLSNValue, w.ParentStartLSN)
	if err != nil {
		return err
	}
	*b = Backup{
		ID: w.ID, Label: w.Label, Source: w.Source, SystemID: w.SystemID, ServerVersion: w.ServerVersion, Timeline: w.Timeline,
		StartLSN: start, EndLSN: end, StartWAL: w.StartWAL, EndWAL: w.EndWAL, StartTime: w.StartTime, EndTime: w.EndTime,
		RawSize: w.RawSize, StoredSize: w.StoredSize, Compression: w.Compression, Parts: w.Parts,
		ManifestKey: w.ManifestKey, ManifestSHA256: w.ManifestSHA256,
		Kind: w.Kind, Parent: w.Parent, ParentStartLSN: parentStart, Tablespaces: w.Tablespaces, Recipients: w.Recipients,
		ManifestVersionID: w.ManifestVersionID,
	}
	return nil
}

func recordLSN(value uint64, text string) (pg.LSN, error) {
	if value != 0 || text == "" {
		return pg.LSN(value), nil
	}
	return pg.ParseLSN(text)
}

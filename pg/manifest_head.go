package pg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ManifestHead is what the lines of a backup_manifest before its file list
// say: the format version and, from version 2, the cluster's system
// identifier. It is all a shallow check of a stored backup needs to tell
// whether restore can use the manifest, without reading the file list.
type ManifestHead struct {
	Version     int
	SystemID    uint64
	HasSystemID bool
}

// Head is the head of a parsed manifest.
func (m *Manifest) Head() ManifestHead {
	return ManifestHead{Version: m.Version, SystemID: m.SystemID, HasSystemID: m.HasSystemID}
}

// manifestHeadMax bounds how much of a manifest ReadManifestHead reads:
// PostgreSQL writes the version and system identifier on the first two
// lines, each well under a hundred bytes, and "Files" right after.
const manifestHeadMax = 4 << 10

// ReadManifestHead reads the start of a backup_manifest, up to its "Files"
// key, and returns the version and system identifier written there. It
// checks neither the manifest's own checksum nor its files: ParseManifest
// does, on the whole text.
func ReadManifestHead(r io.Reader) (ManifestHead, error) {
	buf, err := io.ReadAll(io.LimitReader(r, manifestHeadMax))
	if err != nil {
		return ManifestHead{}, fmt.Errorf("backup manifest: %w", err)
	}
	i := bytes.Index(buf, []byte(`"Files"`))
	if i < 0 {
		return ManifestHead{}, fmt.Errorf("backup manifest: no \"Files\" in its first %d bytes", len(buf))
	}
	head := append(bytes.TrimRight(bytes.TrimSpace(buf[:i]), ","), '}')
	var doc struct {
		Version  *int        `json:"PostgreSQL-Backup-Manifest-Version"`
		SystemID json.Number `json:"System-Identifier"`
	}
	if err := json.Unmarshal(head, &doc); err != nil {
		return ManifestHead{}, fmt.Errorf("backup manifest: header: %w", err)
	}
	if doc.Version == nil {
		return ManifestHead{}, errors.New("backup manifest: no PostgreSQL-Backup-Manifest-Version")
	}
	h := ManifestHead{Version: *doc.Version}
	if doc.SystemID != "" {
		id, err := strconv.ParseUint(doc.SystemID.String(), 10, 64)
		if err != nil {
			return ManifestHead{}, fmt.Errorf("backup manifest: System-Identifier %s is not a 64-bit unsigned integer", doc.SystemID)
		}
		h.SystemID, h.HasSystemID = id, true
	}
	return h, nil
}

// CheckFor tells whether restore can use a manifest with this head for a
// backup of the cluster systemID: a version it reads (1 up to PostgreSQL
// 16, 2 from 17), a System-Identifier exactly when the version has one,
// and that identifier the cluster's. ParseManifest checks the same of the
// whole text, but not the identifier against a cluster.
func (h ManifestHead) CheckFor(systemID uint64) error {
	switch {
	case h.Version != 1 && h.Version != 2:
		return fmt.Errorf("backup manifest: version %d is not one logship reads (1 or 2)", h.Version)
	case h.Version == 2 && !h.HasSystemID:
		return errors.New("backup manifest: version 2 without System-Identifier")
	case h.Version == 1 && h.HasSystemID:
		return errors.New("backup manifest: version 1 with a System-Identifier")
	case h.HasSystemID && h.SystemID != systemID:
		return fmt.Errorf("backup manifest: it is of the cluster with system identifier %d, the backup's is %d", h.SystemID, systemID)
	}
	return nil
}

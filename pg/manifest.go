package pg

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Manifest is a parsed backup_manifest (version 1 from PostgreSQL 13 to 16,
// version 2 from 17) whose own SHA-256 matched its content. Kept: what a
// check of the backup's files needs, and what an incremental backup or its
// restore needs (system identifier, WAL ranges).
type Manifest struct {
	// Version is PostgreSQL-Backup-Manifest-Version: 1 or 2.
	Version int
	// SystemID is the System-Identifier that version 2 manifests carry, the
	// cluster's 64-bit system identifier; HasSystemID tells whether it was
	// there. Compare it with the server's (IDENTIFY_SYSTEM) before using the
	// manifest as an incremental backup's parent: the server refuses a
	// manifest of another cluster, and a restore must not mix clusters.
	SystemID    uint64
	HasSystemID bool
	// WALRanges lists the WAL the backup needs to be consistent, oldest
	// first; a backup taken on a standby that was promoted meanwhile has
	// more than one.
	WALRanges []ManifestWALRange
	// Files in the order the manifest lists them, each path once, so that
	// problems are reported in a stable order. An incremental backup lists
	// its incremental files under their own names (base/5/INCREMENTAL.16384).
	Files  []ManifestFile
	byPath map[string]int
}

// ManifestWALRange is one entry of a manifest's WAL-Ranges: the backup needs
// the WAL of Timeline from Start to End.
type ManifestWALRange struct {
	Timeline   TimelineID
	Start, End LSN
}

// ManifestFile is one file a backup_manifest lists.
type ManifestFile struct {
	Path      string // decoded from Encoded-Path when needed, and path.Clean-ed
	Size      int64
	Algorithm string // "NONE" or "CRC32C"
	Checksum  string // hex as the manifest writes it; "" for NONE
}

// File looks a file up by its clean slash path.
func (m *Manifest) File(p string) (ManifestFile, bool) {
	i, ok := m.byPath[p]
	if !ok {
		return ManifestFile{}, false
	}
	return m.Files[i], true
}

// manifestDoc is a backup_manifest as JSON. System-Identifier is usually
// above 2^53, so it is kept as the number's text: a float64 would round it.
type manifestDoc struct {
	Version  *int        `json:"PostgreSQL-Backup-Manifest-Version"`
	SystemID json.Number `json:"System-Identifier"`
	Files    []struct {
		Path        string
		EncodedPath string `json:"Encoded-Path"`
		Size        *int64
		Algorithm   string `json:"Checksum-Algorithm"`
		Checksum    string
	}
	WALRanges []struct {
		Timeline *uint32
		Start    string `json:"Start-LSN"`
		End      string `json:"End-LSN"`
	} `json:"WAL-Ranges"`
	Checksum string `json:"Manifest-Checksum"`
}

// ParseManifest checks a backup_manifest's version and its own checksum and
// returns its content. The checksum covers the text up to and including the
// newline before the Manifest-Checksum line, which PostgreSQL always writes as
// the last line (parse_manifest.c: verify_manifest_checksum looks for the last
// two newlines the same way). Only CRC32C and NONE file checksums are
// accepted: that is what logship's base backups request and what its readers
// compute, so any other algorithm could not be checked. As in
// parse_manifest.c, a version 2 manifest must carry a System-Identifier and a
// version 1 manifest must not.
func ParseManifest(raw []byte) (*Manifest, error) {
	var doc manifestDoc
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		return nil, errors.New("backup manifest: last line not newline-terminated")
	}
	cut := bytes.LastIndexByte(raw[:len(raw)-1], '\n')
	if cut < 0 {
		return nil, errors.New("backup manifest: fewer than 2 lines")
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("backup manifest: %w", err)
	}
	if doc.Version == nil || (*doc.Version != 1 && *doc.Version != 2) {
		return nil, errors.New("backup manifest: PostgreSQL-Backup-Manifest-Version is not 1 or 2")
	}
	if sum := sha256.Sum256(raw[:cut+1]); !strings.EqualFold(doc.Checksum, hex.EncodeToString(sum[:])) {
		return nil, fmt.Errorf("backup manifest: checksum %s does not match its content (sha256 %x)", doc.Checksum, sum)
	}
	m := &Manifest{Version: *doc.Version, Files: make([]ManifestFile, 0, len(doc.Files)), byPath: make(map[string]int, len(doc.Files))}
	if err := m.setHeader(&doc); err != nil {
		return nil, err
	}
	for i, f := range doc.Files {
		p := f.Path
		if f.EncodedPath != "" {
			dec, err := hex.DecodeString(f.EncodedPath)
			if err != nil {
				return nil, fmt.Errorf("backup manifest: file %d: bad Encoded-Path: %w", i, err)
			}
			p = string(dec)
		}
		if p == "" || f.Size == nil {
			return nil, fmt.Errorf("backup manifest: file %d: missing path or size", i)
		}
		p = path.Clean(p)
		if _, dup := m.byPath[p]; dup {
			return nil, fmt.Errorf("backup manifest: %s listed twice", p)
		}
		mf := ManifestFile{Path: p, Size: *f.Size}
		switch strings.ToUpper(f.Algorithm) {
		case "", "NONE":
			mf.Algorithm = "NONE"
		case "CRC32C":
			mf.Algorithm, mf.Checksum = "CRC32C", f.Checksum
		default:
			return nil, fmt.Errorf("backup manifest: %s: checksum algorithm %s not supported (want CRC32C)", p, f.Algorithm)
		}
		m.byPath[p] = len(m.Files)
		m.Files = append(m.Files, mf)
	}
	return m, nil
}

// setHeader takes the system identifier and the WAL ranges from doc.
func (m *Manifest) setHeader(doc *manifestDoc) error {
	switch {
	case m.Version == 2 && doc.SystemID == "":
		return errors.New("backup manifest: version 2 without System-Identifier")
	case m.Version == 1 && doc.SystemID != "":
		return errors.New("backup manifest: version 1 with a System-Identifier")
	case doc.SystemID != "":
		id, err := strconv.ParseUint(doc.SystemID.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("backup manifest: System-Identifier %s is not a 64-bit unsigned integer", doc.SystemID)
		}
		m.SystemID, m.HasSystemID = id, true
	}
	for i, r := range doc.WALRanges {
		if r.Timeline == nil || *r.Timeline == 0 {
			return fmt.Errorf("backup manifest: WAL range %d: missing or zero timeline", i)
		}
		start, err := ParseLSN(r.Start)
		if err != nil {
			return fmt.Errorf("backup manifest: WAL range %d: Start-LSN: %w", i, err)
		}
		end, err := ParseLSN(r.End)
		if err != nil {
			return fmt.Errorf("backup manifest: WAL range %d: End-LSN: %w", i, err)
		}
		if end < start {
			return fmt.Errorf("backup manifest: WAL range %d ends at %s before its start %s", i, end, start)
		}
		m.WALRanges = append(m.WALRanges, ManifestWALRange{Timeline: TimelineID(*r.Timeline), Start: start, End: end})
	}
	return nil
}

// StartLSN is where the backup's WAL starts (the first WAL range's start),
// the LSN an incremental backup taken on top of this one is "INCREMENTAL
// FROM"; 0 when the manifest lists no WAL range.
func (m *Manifest) StartLSN() LSN {
	if len(m.WALRanges) == 0 {
		return 0
	}
	return m.WALRanges[0].Start
}

// ManifestIgnored reports the files that may legitimately differ between a
// backup_manifest and the backup's files, missing or extra: the same list
// pg_verifybackup ignores, pg_wal included.
func ManifestIgnored(p string) bool {
	switch p {
	case "backup_manifest", "postgresql.auto.conf", "recovery.signal", "standby.signal":
		return true
	}
	return p == "pg_wal" || strings.HasPrefix(p, "pg_wal/")
}

// MatchesCRC32C compares the file's manifest checksum with a computed
// CRC-32C; a file listed without checksum matches any. PostgreSQL copies the
// uint32 into the checksum bytes in the server's native byte order and
// hex-encodes those bytes, so an x86 or arm64 server writes the value
// little-endian. Big-endian is accepted too, so that a backup of a big-endian
// server still verifies; the chance that a wrong file matches either form is
// negligible. (Checked on a PostgreSQL 15 x86-64 server: "15\n", CRC-32C
// 0x2247748a, is listed as "8a744722".)
func (f ManifestFile) MatchesCRC32C(crc uint32) bool {
	if f.Algorithm != "CRC32C" {
		return true
	}
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], crc)
	return strings.EqualFold(f.Checksum, ManifestCRC32CText(crc)) || strings.EqualFold(f.Checksum, hex.EncodeToString(be[:]))
}

// ManifestCRC32CText writes a CRC-32C as a little-endian server writes it in
// a manifest, so that an error can show it beside the manifest's text.
func ManifestCRC32CText(crc uint32) string {
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], crc)
	return hex.EncodeToString(le[:])
}

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
	"strings"
)

// Manifest is a parsed backup_manifest (version 1) whose own SHA-256 matched
// its content. Only what a check of the backup's files needs is kept.
type Manifest struct {
	// Files in the order the manifest lists them, each path once, so that
	// problems are reported in a stable order.
	Files  []ManifestFile
	byPath map[string]int
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

// ParseManifest checks a backup_manifest's version and its own checksum and
// returns its files. The checksum covers the text up to and including the
// newline before the Manifest-Checksum line, which PostgreSQL always writes as
// the last line (parse_manifest.c: verify_manifest_checksum looks for the last
// two newlines the same way). Only CRC32C and NONE file checksums are
// accepted: that is what logship's base backups request and what its readers
// compute, so any other algorithm could not be checked.
func ParseManifest(raw []byte) (*Manifest, error) {
	var doc struct {
		Version *int `json:"PostgreSQL-Backup-Manifest-Version"`
		Files   []struct {
			Path        string
			EncodedPath string `json:"Encoded-Path"`
			Size        *int64
			Algorithm   string `json:"Checksum-Algorithm"`
			Checksum    string
		}
		Checksum string `json:"Manifest-Checksum"`
	}
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
	if doc.Version == nil || *doc.Version != 1 {
		return nil, errors.New("backup manifest: PostgreSQL-Backup-Manifest-Version is not 1")
	}
	if sum := sha256.Sum256(raw[:cut+1]); !strings.EqualFold(doc.Checksum, hex.EncodeToString(sum[:])) {
		return nil, fmt.Errorf("backup manifest: checksum %s does not match its content (sha256 %x)", doc.Checksum, sum)
	}
	m := &Manifest{Files: make([]ManifestFile, 0, len(doc.Files)), byPath: make(map[string]int, len(doc.Files))}
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

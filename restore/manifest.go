package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// manifestMaxProblems bounds the error text: past a handful, more lines do not help
// anyone decide what went wrong.
const manifestMaxProblems = 5

// manifestIgnored are files that may legitimately differ between the backup and the
// restored directory: the same list pg_verifybackup ignores (it also ignores pg_wal,
// handled by prefix below).
var manifestIgnored = map[string]bool{
	"backup_manifest":      true,
	"postgresql.auto.conf": true,
	"recovery.signal":      true,
	"standby.signal":       true,
}

type manifestDoc struct {
	Version  *int `json:"PostgreSQL-Backup-Manifest-Version"`
	Files    []manifestFile
	Checksum string `json:"Manifest-Checksum"`
}

type manifestFile struct {
	Path        string
	EncodedPath string `json:"Encoded-Path"`
	Size        *int64
	Algorithm   string `json:"Checksum-Algorithm"`
	Checksum    string
}

// VerifyManifest checks the files ExtractTar wrote against the server's
// backup_manifest: the manifest's own SHA-256 checksum, then every file's presence,
// size and CRC-32C. Files under pg_wal and the files pg_verifybackup ignores
// (backup_manifest, postgresql.auto.conf, recovery.signal, standby.signal) may be
// missing or extra. Any other difference is an error listing the first few problems.
// Only CRC32C and NONE checksums are accepted, because that is what ExtractTar
// computes and what logship's base backups request.
func VerifyManifest(manifest []byte, files []ExtractedFile) error {
	doc, err := manifestParse(manifest)
	if err != nil {
		return err
	}

	var problems []string
	count := 0
	problem := func(format string, args ...any) {
		count++
		if len(problems) < manifestMaxProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}

	have := make(map[string]ExtractedFile, len(files))
	for _, f := range files {
		if _, dup := have[f.Path]; dup {
			problem("%s extracted twice", f.Path)
		}
		have[f.Path] = f
	}

	listed := make(map[string]bool, len(doc.Files))
	for i, mf := range doc.Files {
		p := mf.Path
		if mf.EncodedPath != "" {
			raw, err := hex.DecodeString(mf.EncodedPath)
			if err != nil {
				return fmt.Errorf("backup manifest: file %d: bad Encoded-Path: %w", i, err)
			}
			p = string(raw)
		}
		if p == "" || mf.Size == nil {
			return fmt.Errorf("backup manifest: file %d: missing path or size", i)
		}
		if listed[p] {
			return fmt.Errorf("backup manifest: %s listed twice", p)
		}
		listed[p] = true

		f, ok := have[p]
		if !ok {
			if !manifestIgnore(p) {
				problem("%s missing", p)
			}
			continue
		}
		if f.Size != *mf.Size {
			problem("%s has %d bytes, manifest says %d", p, f.Size, *mf.Size)
			continue
		}
		switch strings.ToUpper(mf.Algorithm) {
		case "", "NONE":
		case "CRC32C":
			if !manifestCRCMatches(mf.Checksum, f.CRC32C) {
				problem("%s has CRC-32C %s, manifest says %s", p, manifestCRCText(f.CRC32C), mf.Checksum)
			}
		default:
			return fmt.Errorf("backup manifest: %s: checksum algorithm %s not supported (want CRC32C)", p, mf.Algorithm)
		}
	}
	for _, f := range files {
		if !listed[f.Path] && !manifestIgnore(f.Path) {
			problem("%s not in manifest", f.Path)
		}
	}

	if count == 0 {
		return nil
	}
	more := ""
	if count > len(problems) {
		more = fmt.Sprintf("; and %d more", count-len(problems))
	}
	noun := "problems"
	if count == 1 {
		noun = "problem"
	}
	return fmt.Errorf("backup does not match its manifest: %d %s: %s%s", count, noun, strings.Join(problems, "; "), more)
}

func manifestIgnore(p string) bool {
	return manifestIgnored[p] || p == "pg_wal" || strings.HasPrefix(p, "pg_wal/")
}

// manifestParse checks the manifest's version and its own checksum. The checksum
// covers the text up to and including the newline before the Manifest-Checksum line,
// which PostgreSQL always writes as the last line (parse_manifest.c:
// verify_manifest_checksum looks for the last two newlines the same way).
func manifestParse(manifest []byte) (manifestDoc, error) {
	var doc manifestDoc
	if len(manifest) == 0 || manifest[len(manifest)-1] != '\n' {
		return doc, errors.New("backup manifest: last line not newline-terminated")
	}
	penultimate := bytes.LastIndexByte(manifest[:len(manifest)-1], '\n')
	if penultimate < 0 {
		return doc, errors.New("backup manifest: expected at least 2 lines")
	}
	if err := json.Unmarshal(manifest, &doc); err != nil {
		return doc, fmt.Errorf("backup manifest: %w", err)
	}
	if doc.Version == nil || *doc.Version != 1 {
		return doc, errors.New("backup manifest: PostgreSQL-Backup-Manifest-Version is not 1")
	}
	sum := sha256.Sum256(manifest[:penultimate+1])
	if !strings.EqualFold(doc.Checksum, hex.EncodeToString(sum[:])) {
		return doc, fmt.Errorf("backup manifest: checksum %s does not match its content (sha256 %x)", doc.Checksum, sum)
	}
	return doc, nil
}

// manifestCRCMatches compares a manifest CRC-32C with a computed one. PostgreSQL
// copies the uint32 into the checksum bytes in the server's native byte order and
// hex-encodes those bytes, so an x86 or arm64 server writes the value little-endian.
// Big-endian is accepted too, so that a backup of a big-endian server still verifies;
// the chance that a wrong file matches either form is negligible.
// (Checked on a PostgreSQL 15 x86-64 server: "15\n", CRC-32C 0x2247748a, is listed
// as "8a744722".)
func manifestCRCMatches(text string, crc uint32) bool {
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], crc)
	return strings.EqualFold(text, manifestCRCText(crc)) || strings.EqualFold(text, hex.EncodeToString(be[:]))
}

// manifestCRCText writes a CRC-32C as a little-endian server writes it in a manifest.
func manifestCRCText(crc uint32) string {
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], crc)
	return hex.EncodeToString(le[:])
}

package restore

import (
	"fmt"
	"strings"

	"github.com/logship/logship/pg"
)

// manifestMaxProblems bounds the error text: past a handful, more lines do not help
// anyone decide what went wrong.
const manifestMaxProblems = 5

// VerifyManifest checks the files ExtractTar wrote against the server's
// backup_manifest: the manifest's own SHA-256 checksum, then every file's presence,
// size and CRC-32C. Files under pg_wal and the files pg_verifybackup ignores
// (backup_manifest, postgresql.auto.conf, recovery.signal, standby.signal) may be
// missing or extra. Any other difference is an error listing the first few problems.
// Only CRC32C and NONE checksums are accepted, because that is what ExtractTar
// computes and what logship's base backups request.
func VerifyManifest(manifest []byte, files []ExtractedFile) error {
	m, err := pg.ParseManifest(manifest)
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

	for _, mf := range m.Files {
		f, ok := have[mf.Path]
		switch {
		case !ok:
			if !pg.ManifestIgnored(mf.Path) {
				problem("%s missing", mf.Path)
			}
		case f.Size != mf.Size:
			problem("%s has %d bytes, manifest says %d", mf.Path, f.Size, mf.Size)
		case !mf.MatchesCRC32C(f.CRC32C):
			problem("%s has CRC-32C %s, manifest says %s", mf.Path, pg.ManifestCRC32CText(f.CRC32C), mf.Checksum)
		}
	}
	for _, f := range files {
		if _, listed := m.File(f.Path); !listed && !pg.ManifestIgnored(f.Path) {
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

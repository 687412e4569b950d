package restore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
)

// fuzzManifest writes a backup_manifest with a correct checksum for the
// files spec lists, one per line: path, size, algorithm, checksum, split by
// tabs (a missing size is 0).
func fuzzManifest(spec string) []byte {
	var lines []string
	for _, l := range strings.Split(spec, "\n") {
		f := strings.SplitN(l, "\t", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		size, _ := strconv.ParseInt(f[1], 10, 64)
		p, _ := json.Marshal(f[0])
		a, _ := json.Marshal(f[2])
		c, _ := json.Marshal(f[3])
		lines = append(lines, fmt.Sprintf(`{ "Path": %s, "Size": %d, "Checksum-Algorithm": %s, "Checksum": %s }`, p, size, a, c))
	}
	body := "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n" + strings.Join(lines, ",\n") + "\n],\n"
	return []byte(body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body))))
}

// FuzzVerifyManifest checks VerifyManifest both ways on a manifest with a
// good checksum: the files it lists, extracted as listed, pass; and each
// kind of difference (a file missing, a size off, an extra file) fails.
// Raw bytes are tried as a manifest too.
func FuzzVerifyManifest(f *testing.F) {
	f.Add("PG_VERSION\t3\tCRC32C\t8a744722\nbase/1/1259\t8192\tcrc32c\t01020304\nbackup_label\t225\tNONE\t", []byte(nil))
	f.Add("pg_wal/000000010000000000000002\t16777216\tCRC32C\t00000000\nbackup_manifest\t1\tNONE\t", []byte(nil))
	f.Add("a\t1\tCRC32C\tzz\n./a\t1\tNONE\t", []byte(nil))
	f.Add("global/pg_control\t8192\tSHA256\tab", []byte("{}\n\n"))
	f.Fuzz(func(t *testing.T, spec string, raw []byte) {
		_ = restore.VerifyManifest(raw, nil)
		manifest := fuzzManifest(spec)
		m, err := pg.ParseManifest(manifest)
		if err != nil {
			if restore.VerifyManifest(manifest, nil) == nil {
				t.Fatalf("manifest %q does not parse (%v) but verifies", manifest, err)
			}
			return
		}
		var files []restore.ExtractedFile
		checkable := true
		for _, mf := range m.Files {
			var crc uint32
			if mf.Algorithm == "CRC32C" {
				b, err := hex.DecodeString(mf.Checksum)
				if err != nil || len(b) != 4 {
					checkable = false
					continue
				}
				crc = binary.LittleEndian.Uint32(b)
			}
			files = append(files, restore.ExtractedFile{Path: mf.Path, Size: mf.Size, CRC32C: crc})
		}
		if !checkable {
			return
		}
		if err := restore.VerifyManifest(manifest, files); err != nil {
			t.Fatalf("files extracted as listed fail: %v\nmanifest %s", err, manifest)
		}
		for i, ef := range files {
			if pg.ManifestIgnored(ef.Path) {
				continue
			}
			without := append(append([]restore.ExtractedFile{}, files[:i]...), files[i+1:]...)
			if restore.VerifyManifest(manifest, without) == nil {
				t.Fatalf("%s missing, yet the backup verifies", ef.Path)
			}
			grown := append([]restore.ExtractedFile{}, files...)
			grown[i].Size++
			if restore.VerifyManifest(manifest, grown) == nil {
				t.Fatalf("%s a byte longer, yet the backup verifies", ef.Path)
			}
			extra := append(append([]restore.ExtractedFile{}, files...), restore.ExtractedFile{Path: ef.Path + ".extra"})
			if _, listed := m.File(ef.Path + ".extra"); !listed && restore.VerifyManifest(manifest, extra) == nil {
				t.Fatalf("%s.extra not listed, yet the backup verifies", ef.Path)
			}
		}
	})
}

package catalog_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
)

// A recorded backup whose backup_manifest restore could not use (a
// version logship does not read, another cluster's, not a manifest) is
// flagged by a shallow verify, and only that backup.
func TestVerifyManifestUnusable(t *testing.T) {
	t.Parallel()
	v2 := func(system uint64) string {
		return fmt.Sprintf("{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": %d,\n", system)
	}
	tests := []struct {
		name, head string
		says       string // "" = usable
	}{
		{"version 2 of this cluster", v2(fxSystem), ""},
		{"version 3", "{ \"PostgreSQL-Backup-Manifest-Version\": 3,\n", "version 3"},
		{"another cluster", v2(fxSystem + 1), fmt.Sprint(fxSystem + 1)},
		{"not a manifest", "{}\n{}\n", "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := healthy(t)
			ctx := context.Background()
			b, err := f.cat.FindBackup(ctx, "b2")
			if err != nil {
				t.Fatal(err)
			}
			body := tt.head + "\"Files\": [\n],\n\"WAL-Ranges\": [\n],\n"
			man := body + fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sha256.Sum256([]byte(body)))
			enc, err := object.Encode(strings.NewReader(man), object.KindMeta, "backup_manifest", nil, object.EncodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The same backup, recorded afresh (records are create-only)
			// with the replaced manifest's checksum.
			f.removeObject(b.ManifestKey)
			if err := f.st.Put(ctx, b.ManifestKey, enc.Reader(), enc.Size()); err != nil {
				t.Fatal(err)
			}
			f.st.Delete(ctx, "src/catalog/backups/b2.json")
			b.ID, b.ManifestSHA256 = "b3", enc.Header.ChecksumHex()
			if err := f.cat.AddBackup(ctx, b); err != nil {
				t.Fatal(err)
			}
			rep := f.verify(catalog.VerifyOptions{})
			if tt.says == "" {
				// b2's own record copy is left over: a warning, no error.
				if !rep.OK || rep.Errors != 0 || hasProblem(rep, catalog.CodeManifestUnusable, "") {
					t.Fatalf("usable manifest flagged: %v", problemCodes(rep))
				}
				return
			}
			bc := findCheck(rep, "backup", "b3")
			if rep.OK || bc.OK || len(bc.Problems) != 1 || bc.Problems[0].Code != catalog.CodeManifestUnusable ||
				bc.Problems[0].Object != b.ManifestKey || !strings.Contains(bc.Problems[0].Message, tt.says) {
				t.Fatalf("backup b3: %+v; problems %v", bc, problemCodes(rep))
			}
			if !findCheck(rep, "backup", "b1").OK || !findCheck(rep, "mark", "m11").OK {
				t.Fatalf("the other backup or the marks it reaches flagged: %v", problemCodes(rep))
			}
		})
	}
}

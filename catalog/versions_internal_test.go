package catalog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestVersionField: ids of key characters go into a WAL record key as they
// are, others (AWS's '/' and '+', a '~' that would split the key) in
// base64url; ids too long for a key are not recorded; only the exact
// spelling parses back.
func TestVersionField(t *testing.T) {
	for _, tc := range []struct{ id, field string }{
		{"", ""},
		{"01JD8Q3ZK4", "v01JD8Q3ZK4"},
		{"a.b_c-d", "va.b_c-d"},
		{"3/L4kq+x", "bMy9MNGtxK3g"},
		{"a~b", "bYX5i"},
		{strings.Repeat("x", 200), "v" + strings.Repeat("x", 200)},
		{strings.Repeat("x", 201), "b" + strings.Repeat("eHh4", 67)},
		{strings.Repeat("+", 300), "b" + strings.Repeat("Kysr", 100)},
		{strings.Repeat("+", 301), ""},
		{"a b", "bYSBi"},
		{"\x00", ""},
		{"é", ""},
	} {
		f := versionField(tc.id)
		if f != tc.field {
			t.Errorf("versionField(%q) = %q, want %q", tc.id, f, tc.field)
			continue
		}
		if f == "" {
			continue
		}
		if got, err := parseVersionField(f); err != nil || got != tc.id {
			t.Errorf("parseVersionField(%q) = %q, %v; want %q", f, got, err, tc.id)
		}
		if strings.ContainsAny(f, "~/+=") {
			t.Errorf("field %q holds a character a record key cannot", f)
		}
	}
	for _, bad := range []string{"", "v", "b", "x12", "bMy9MNGtxK3g=", "bAA" /* a NUL */, "bfw" /* DEL */, "bYWJj" /* "abc": must be v */, "v" + strings.Repeat("x", 201), "va~b"} {
		if id, err := parseVersionField(bad); err == nil {
			t.Errorf("parseVersionField(%q) accepted as %q", bad, id)
		}
	}
}

// TestBackupVersionIDsJSON: the version ids of a backup's objects round
// trip through its record, and a record without them has no such field.
func TestBackupVersionIDsJSON(t *testing.T) {
	b := Backup{ID: "b", Parts: []BackupPart{{Key: "s/backups/b/part-000001", VersionID: "3/L4kq+x"}},
		Tablespaces: []BackupTablespace{{OID: 16384, Parts: []BackupPart{{Key: "s/backups/b/tblspc-16384/part-000001", VersionID: "v2"}}}},
		ManifestKey: "s/backups/b/backup_manifest", ManifestVersionID: "v3"}
	j, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back Backup
	if err := json.Unmarshal(j, &back); err != nil || !reflect.DeepEqual(back, b) {
		t.Fatalf("%s read back as %+v (%v)", j, back, err)
	}
	for _, want := range []string{`"version_id":"3/L4kq+x"`, `"version_id":"v2"`, `"manifest_version_id":"v3"`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("%s lacks %s", j, want)
		}
	}
	b.Parts[0].VersionID, b.Tablespaces[0].Parts[0].VersionID, b.ManifestVersionID = "", "", ""
	if j, _ := json.Marshal(b); strings.Contains(string(j), "version_id") {
		t.Errorf("record without version ids: %s", j)
	}
}

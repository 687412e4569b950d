package catalog

import (
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

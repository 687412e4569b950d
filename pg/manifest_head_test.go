package pg_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

// The head of a manifest says what the whole does: version and system
// identifier, for real manifests of 15 and 18 and for crafted ones.
func TestReadManifestHead(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		want    pg.ManifestHead
		system  uint64
		readErr string
		useErr  string // CheckFor(system)
	}{
		{name: "15 full", raw: readTestdata(t, "pg15-full.backup_manifest.gz"), want: pg.ManifestHead{Version: 1}, system: 42},
		{name: "18 incremental", raw: readTestdata(t, "pg18-incremental.backup_manifest.gz")},
		{name: "v2 crafted", raw: manifestV2("18446744073709551615"), want: pg.ManifestHead{Version: 2, SystemID: 1<<64 - 1, HasSystemID: true}, system: 1<<64 - 1},
		{name: "v2 other cluster", raw: manifestV2("7"), want: pg.ManifestHead{Version: 2, SystemID: 7, HasSystemID: true}, system: 8, useErr: "system identifier 7"},
		{name: "v3", raw: bytes.Replace(manifestV2("7"), []byte("Version\": 2"), []byte("Version\": 3"), 1), want: pg.ManifestHead{Version: 3, SystemID: 7, HasSystemID: true}, system: 7, useErr: "version 3"},
		{name: "v1 with system", raw: bytes.Replace(manifestV2("7"), []byte("Version\": 2"), []byte("Version\": 1"), 1), want: pg.ManifestHead{Version: 1, SystemID: 7, HasSystemID: true}, system: 7, useErr: "version 1 with"},
		{name: "v2 without system", raw: manifestText(2), want: pg.ManifestHead{Version: 2}, useErr: "without System-Identifier"},
		{name: "no version", raw: []byte("{ \"Files\": [] }\n"), readErr: "no PostgreSQL-Backup-Manifest-Version"},
		{name: "not a manifest", raw: []byte("{}\n{}\n"), readErr: `no "Files"`},
		{name: "bad system id", raw: manifestV2("-1"), readErr: "not a 64-bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := pg.ReadManifestHead(bytes.NewReader(tt.raw))
			if tt.readErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.readErr) {
					t.Fatalf("got %+v, %v; want an error saying %q", h, err, tt.readErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "18 incremental" {
				// The fixture's own identifier, as ParseManifest reads it.
				m, err := pg.ParseManifest(tt.raw)
				if err != nil {
					t.Fatal(err)
				}
				tt.want, tt.system = m.Head(), m.SystemID
				if h.Version != 2 || !h.HasSystemID {
					t.Fatalf("18 head %+v", h)
				}
			}
			if h != tt.want {
				t.Fatalf("head %+v, want %+v", h, tt.want)
			}
			err = h.CheckFor(tt.system)
			if tt.useErr == "" && err != nil || tt.useErr != "" && (err == nil || !strings.Contains(err.Error(), tt.useErr)) {
				t.Fatalf("CheckFor(%d) = %v, want %q", tt.system, err, tt.useErr)
			}
		})
	}
}

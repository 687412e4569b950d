package catalog_test

import (
	"testing"

	"github.com/logship/logship/catalog"
)

func TestTransient(t *testing.T) {
	for key, want := range map[string]bool{
		"main/check/probe-0a1b":                                 true,
		"main/catalog/leases/20261127T0433Z~000001.json":        true,
		"main/catalog/marknames/nightly":                        true,
		"main/catalog/marknames/nightly~takeover~1":             true,
		"main/catalog/pins/mark~nightly":                        true,
		"main/verify/20261127T043300.123456789Z-0a1b2c3d.delta": true,
		"main/wal/000000010000000000000001":                     false,
		"main/catalog/wal/000000010000000000000001~1~ab~1~7":    false,
		"main/backups/20261127T0433Z/part-000001":               false,
		"main/backups/20261127T0433Z/backup_manifest":           false,
		"main/catalog/backups/20261127T0433Z.json":              false,
		"main/marks/nightly":                                    false,
		"main/catalog/marks/nightly~0000000001000028~1~1":       false,
		"main/catalog/source":                                   false,
		"main/catalog/timelines/00000002.json":                  false,
		"_groups/g/nightly.json":                                false,
		"check/probe-outside-a-source":                          false,
		"main":                                                  false,
	} {
		if got := catalog.Transient(key); got != want {
			t.Errorf("Transient(%q) = %v, want %v", key, got, want)
		}
	}
}

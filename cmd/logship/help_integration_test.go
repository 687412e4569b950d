package main_test

import (
	"strings"
	"testing"
)

// Every command's --help shows an example, so that a user in a bad hour
// can copy one.
func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"wal-push", "wal-fetch", "backup", "mark", "restore", "catalog", "catalog list",
		"catalog show", "catalog rebuild", "schedule", "purge", "status", "check", "verify", "version"} {
		t.Run(cmd, func(t *testing.T) {
			out := mustLogship(t, nil, append(strings.Fields(cmd), "--help")...)
			if !strings.Contains(out, "Example") {
				t.Fatalf("logship %s --help has no example:\n%s", cmd, out)
			}
		})
	}
}

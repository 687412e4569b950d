package catalog

import (
	"testing"
	"time"
)

// Purge's reasons count in the right number: "the newest backup", never
// "one of the 1 newest backups".
func TestPurgeReasonsPlural(t *testing.T) {
	bs := []Backup{{ID: "b1"}, {ID: "b2"}, {ID: "b3"}}
	for _, tt := range []struct {
		keep       int
		kept, gone string
	}{
		{1, "the newest backup", "not the newest of 3 backups"},
		{2, "one of the 2 newest backups", "not one of the 2 newest of 3 backups"},
	} {
		pol := RetentionPolicy{KeepBackups: tt.keep}
		if got := policyKeeps(bs, pol, time.Now())[2]; got != tt.kept {
			t.Errorf("keep %d: kept because %q, want %q", tt.keep, got, tt.kept)
		}
		if got := deleteReason(pol, len(bs)); got != tt.gone {
			t.Errorf("keep %d: deleted because %q, want %q", tt.keep, got, tt.gone)
		}
	}
}

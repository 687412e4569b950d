package shipper_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/shipper"
	"github.com/logship/logship/store/file"
)

// Everything that can be refused before a server is reached is refused
// without writing to the store. (The servers' part runs against real
// PostgreSQL in cmd/logship's group mark test.)
func TestMarkGroupRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := file.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"orders", "payments"} {
		if _, err := catalog.New(st, src).ClaimSource(ctx, catalog.Source{SystemID: 1, SegmentSize: 16 << 20, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := catalog.New(st, "orders").PutGroupMark(ctx, "billing", "taken", struct{}{}); err != nil {
		t.Fatal(err)
	}
	catalogOf := func(src string) *catalog.Catalog { return catalog.New(st, src) }
	before := files(t, dir)
	// Nothing listens here: a test case that got as far as connecting
	// would fail with a connection error instead of the one it wants.
	const nowhere = "host=/nonexistent port=1 connect_timeout=1"
	both := []shipper.GroupMember{{"orders", nowhere}, {"payments", nowhere}}

	tests := []struct {
		name    string
		group   string
		members []shipper.GroupMember
		mark    string
		want    error
	}{
		{"bad mark name", "billing", both, "a/b", catalog.ErrInvalidMarkName},
		{"latest", "billing", both, "latest", catalog.ErrInvalidMarkName},
		{"bad group name", "../x", both, "m1", shipper.ErrInvalidGroup},
		{"empty group name", "", both, "m1", shipper.ErrInvalidGroup},
		{"no members", "billing", nil, "m1", shipper.ErrInvalidGroup},
		{"member twice", "billing", []shipper.GroupMember{{"orders", nowhere}, {"orders", nowhere}}, "m1", shipper.ErrInvalidGroup},
		{"member without server", "billing", []shipper.GroupMember{{"orders", nowhere}, {"payments", ""}}, "m1", shipper.ErrInvalidGroup},
		{"bad source name", "billing", []shipper.GroupMember{{"a/b", nowhere}}, "m1", shipper.ErrInvalidGroup},
		{"unknown source", "billing", []shipper.GroupMember{{"orders", nowhere}, {"ledger", nowhere}}, "m1", catalog.ErrNoSource},
		{"group mark name taken", "billing", both, "taken", catalog.ErrDuplicateMark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shipper.MarkGroup(ctx, catalogOf, tt.group, tt.members, tt.mark, shipper.GroupMarkOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if after := files(t, dir); len(after) != len(before) {
				t.Fatalf("store changed: %v, was %v", after, before)
			}
		})
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// An incremental turns into a full backup without a backup, with a broken
// chain, or on a new timeline; otherwise it builds on the newest backup.
func TestFullReason(t *testing.T) {
	full := catalog.Backup{ID: "20261201T000000Z", Timeline: 1, StartLSN: 0x1000000}
	incr := catalog.Backup{ID: "20261201T010000Z", Timeline: 1, StartLSN: 0x3000000, Kind: catalog.KindIncremental, Parent: full.ID, ParentStartLSN: full.StartLSN}
	orphan := catalog.Backup{ID: "20261201T020000Z", Timeline: 1, StartLSN: 0x5000000, Kind: catalog.KindIncremental, Parent: "20261130T000000Z"}
	chain := func(bs ...catalog.Backup) *catalog.Chain { return catalog.NewChain(nil, nil, bs, nil, nil) }
	for _, tc := range []struct {
		name string
		ch   *catalog.Chain
		tli  uint32
		want string // "" or a part of the reason
	}{
		{"none", chain(), 1, "no backup"},
		{"whole", chain(full, incr), 1, ""},
		{"unknown timeline", chain(full, incr), 0, ""},
		{"broken", chain(full, incr, orphan), 1, "broken chain"},
		{"failover", chain(full, incr), 2, "timeline 2"},
	} {
		got := fullReason(tc.ch, pg.TimelineID(tc.tli))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A failed scheduled backup makes the next incremental a full one, until
// a backup succeeds.
func TestLastFailure(t *testing.T) {
	cat := catalog.New(nil, "x")
	if lastFailure(cat) != "" {
		t.Fatal("a new catalog has a failure")
	}
	noteAttempt(cat, "full", errors.New("connection refused"))
	if got := lastFailure(cat); !strings.Contains(got, "full backup failed (connection refused)") {
		t.Fatalf("after a failure: %q", got)
	}
	noteAttempt(cat, "incremental", nil)
	if lastFailure(cat) != "" {
		t.Fatal("a success did not clear the failure")
	}
}

// The server's timeline is read from the server itself, not from the
// store, where a promoted drill may have shipped a newer one.
func TestServerTimeline(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	tli, err := serverTimeline(context.Background(), c.ConnString())
	if err != nil || tli != 1 {
		t.Fatalf("timeline %d, %v; want 1", tli, err)
	}
}

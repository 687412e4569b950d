package main_test

import (
	"encoding/json"
	"github.com/logship/logship/internal/pgtest"
	"strings"
	"testing"
)

// A pinned mark survives purge --keep-backups 1 with its backup and WAL,
// and restores data-exact afterwards; once unpinned, purge takes it.
func TestPinnedMarkSurvivesPurge(t *testing.T) { onEachPG(t, testPinnedMarkSurvivesPurge) }

func testPinnedMarkSurvivesPurge(t *testing.T, v pgtest.Version) {
	c, _, flags, pgFlags := backedUpSource(t, v, "pins")
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	c.Pgbench(t, "-t", "50", "-c", "2", "-n")
	mustLogship(t, nil, append(pgFlags, "mark", "--keep", "before_upgrade")...)
	want := stateOf(t, c.QueryString)
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	c.Exec(t, "INSERT INTO probe VALUES (3)")
	mustLogship(t, nil, append(pgFlags, "mark", "after")...)

	var l struct {
		Pins []struct{ Kind, Name string } `json:"pins"`
	}
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Pins) != 1 || l.Pins[0].Kind != "mark" || l.Pins[0].Name != "before_upgrade" {
		t.Fatalf("catalog list pins: %+v", l.Pins)
	}
	if out := mustLogship(t, nil, append(flags, "status")...); !strings.Contains(out, "mark before_upgrade") {
		t.Errorf("status does not show the pin:\n%s", out)
	}

	p := purgeJSON(t, flags, "--keep-backups", "1")
	backups, marks := p.actions()
	if marks["before_upgrade"] != "keep" || len(backups) != 2 || p.Delete.Backups != 0 {
		t.Fatalf("purge --keep-backups 1 with a pinned mark: backups %v marks %v", backups, marks)
	}
	if rep := verifyJSON(t, flags, 0); !rep.OK {
		t.Fatalf("verify after purge: %s", rep.codes())
	}
	r, _ := restoreAndStart(t, flags, "--mark", "before_upgrade")
	if got := stateOf(t, r.query); got != want {
		t.Fatalf("restored pinned mark: %+v, want %+v", got, want)
	}

	if res := logship(t, nil, append(flags, "catalog", "keep", "no_such_mark")...); res.code != 2 {
		t.Errorf("catalog keep of an unknown name: exit %d, want 2", res.code)
	}
	mustLogship(t, nil, append(flags, "catalog", "unkeep", "before_upgrade")...)
	p = purgeJSON(t, flags, "--keep-backups", "1")
	if _, marks := p.actions(); marks["before_upgrade"] != "delete" || p.Delete.Backups != 1 {
		t.Fatalf("purge after unkeep: %+v", p)
	}
}

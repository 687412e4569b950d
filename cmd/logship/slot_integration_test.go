package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// A receiver's replication slot that keeps more WAL than
// --max-slot-retained: check warns (exit 0), status reports it as a
// problem (exit 1); within the limit both are quiet. A source without
// such a slot has no slot check at all (TestCheck counts the checks).
func TestReceiverSlotRetention(t *testing.T) {
	t.Parallel()
	c, _, flags := archivingCluster(t, defaultPG, "slots")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	waitArchived(t, c, switchWAL(t, c))
	c.Exec(t, "SELECT pg_create_physical_replication_slot('logship_slots', true)")
	c.Exec(t, "SELECT pg_create_physical_replication_slot('other_tool', true)")
	for range 3 { // the slot keeps the WAL written since
		switchWAL(t, c)
	}

	type slot struct {
		Name          string `json:"name"`
		Active        bool   `json:"active"`
		RetainedBytes int64  `json:"retained_bytes"`
		OverLimit     bool   `json:"over_limit"`
	}
	status := func(limit string, wantCode int) []slot {
		t.Helper()
		r := logship(t, nil, append(pgFlags, "status", "--json", "--max-slot-retained", limit)...)
		var st struct {
			Slots    []slot   `json:"replication_slots"`
			Problems []string `json:"problems"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != wantCode {
			t.Fatalf("status --max-slot-retained %s: exit %d, want %d: %v\n%s%s", limit, r.code, wantCode, err, r.stdout, r.stderr)
		}
		if wantCode == 1 && (len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "logship_slots")) {
			t.Errorf("problems %q", st.Problems)
		}
		return st.Slots
	}
	slots := status("1GiB", 0)
	if len(slots) != 1 || slots[0].Name != "logship_slots" || slots[0].Active || slots[0].RetainedBytes < 3<<20 || slots[0].OverLimit {
		t.Fatalf("slots within the limit: %+v", slots)
	}
	if slots = status("1MB", 1); len(slots) != 1 || !slots[0].OverLimit {
		t.Fatalf("slots over the limit: %+v", slots)
	}
	text := logship(t, nil, append(pgFlags, "status", "--max-slot-retained", "1MB")...)
	if !strings.Contains(text.stdout, "slot            logship_slots (INACTIVE)") || !strings.Contains(text.stdout, "OVER --max-slot-retained") {
		t.Errorf("status text:\n%s", text.stdout)
	}

	check := func(limit string) checkResult {
		t.Helper()
		r := logship(t, nil, append(pgFlags, "check", "--json", "--max-slot-retained", limit)...)
		var doc struct {
			Checks []checkResult `json:"checks"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
			t.Fatalf("check: exit %d: %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		for _, ch := range doc.Checks {
			if ch.Name == "replication slot" {
				return ch
			}
		}
		t.Fatalf("no replication slot check: %s", r.stdout)
		return checkResult{}
	}
	if ch := check("1GiB"); !ch.OK || ch.Warning || !strings.Contains(ch.Detail, "logship_slots (inactive)") {
		t.Errorf("within the limit: %+v", ch)
	}
	if ch := check("1MB"); !ch.OK || !ch.Warning || !strings.Contains(ch.Detail, "no logship receive is connected") || ch.Fix == "" {
		t.Errorf("over the limit: %+v", ch)
	}
	// --slot names a slot of another name as the receiver's.
	r := logship(t, nil, append(pgFlags, "status", "--json", "--slot", "other_tool")...)
	if r.code != 0 || !strings.Contains(r.stdout, `"other_tool"`) {
		t.Errorf("status --slot other_tool: exit %d\n%s", r.code, r.stdout)
	}
}
